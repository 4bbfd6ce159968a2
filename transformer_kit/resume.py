"""Resumable training: the hidden backup directory of an interrupted `fit`.

Layout of `backup_dir` (the CLI uses `.<run name>.partial` beside the run):

    settings.json                    what the run was started with; another run is refused
    transformer_<i>.keras            a finished member ...
    transformer_<i>_history.json     ... and its per-epoch history
    transformer_<i>_epochs.json      epoch journal of the member being trained (ours)
    transformer_<i>_backup/          Keras `BackupAndRestore` state (weights, optimizer)

The epoch journal is the toolkit's own record of finished epochs, so nothing
here reads Keras' private files. A resumed member continues from its last
backed-up epoch with the same weights and optimizer state; it differs from an
uninterrupted run in two ways, which `resume_note` states: early stopping's
patience counter and best weights start afresh, and the remaining epochs see
the data in another shuffled order.
"""

import json
import logging
import os
from pathlib import Path

import keras

from transformer_kit.config import dumps
from transformer_kit.errors import RunDirectoryError

log = logging.getLogger(__name__)


class BackupDirectory:
    """The resumable state of one `fit`, kept in `path`.

    Args:
        path: directory (created if missing).

    Example:

    >>> import tempfile
    >>> backup = BackupDirectory(tempfile.mkdtemp())
    >>> backup.check_settings({"epochs": 3})
    >>> backup.epochs_done(0), backup.finished_member(0)
    (0, None)
    """

    def __init__(self, path):
        self.path = Path(path)

    def check_settings(self, settings):
        """Record `settings`, or refuse a backup made with other settings or data.

        `BackupAndRestore` would load weights of another shape, or silently
        mix two different runs, if the settings or the vocabulary changed.

        Args:
            settings: JSON-serializable dict (configuration, classes,
                vocabulary, encoder).

        Raises:
            RunDirectoryError: the directory holds another run.
        """
        text = dumps(settings)
        path = self.path / "settings.json"
        if path.exists() and path.read_text() != text:
            raise RunDirectoryError(
                f"{self.path} holds an interrupted training run with other settings or data. "
                "Run the same command again to resume it, or delete that directory to start over."
            )
        self.path.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def finished_member(self, index):
        """`(model, history rows)` of member `index` if it was already trained, else `None`."""
        model_path, history_path = self._member_files(index)
        if not (model_path.exists() and history_path.exists()):
            return None
        log.info("Resuming: transformer %d was already trained (%s).", index + 1, model_path)
        return keras.saving.load_model(model_path), json.loads(history_path.read_text())

    def save_finished_member(self, index, model, rows):
        """Keep a trained member, so that a later interruption does not lose it."""
        model_path, history_path = self._member_files(index)
        model.save(model_path)
        _write_atomically(history_path, json.dumps(rows))

    def epochs_done(self, index):
        """int: epochs of member `index` recorded in its journal (0 if none)."""
        return len(self.journal(index))

    def journal(self, index):
        """History rows of member `index`'s finished epochs, in order."""
        path = self._journal_path(index)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return []

    def member_callbacks(self, index, epochs):
        """The callbacks that make member `index`'s training resumable.

        Args:
            index: member index.
            epochs: planned epochs, for the resume message.

        Returns:
            list of `keras.callbacks.Callback`: the epoch journal, then
            `BackupAndRestore`.
        """
        done = self.epochs_done(index)
        if done:
            log.info("%s", resume_note(index, done, epochs))
        return [
            # Before BackupAndRestore: a kill between the two leaves the
            # journal one epoch ahead; that epoch runs again and its row is
            # replaced, so the history stays complete and unduplicated.
            _EpochJournal(self._journal_path(index), index),
            # Two checkpoints: a kill while the weights file is being written
            # leaves the previous epoch's one to resume from.
            keras.callbacks.BackupAndRestore(str(self.path / f"transformer_{index}_backup"), double_checkpoint=True),
        ]

    def _member_files(self, index):
        return self.path / f"transformer_{index}.keras", self.path / f"transformer_{index}_history.json"

    def _journal_path(self, index):
        return self.path / f"transformer_{index}_epochs.json"


def resume_note(index, epochs_done, epochs):
    """What a resumed member keeps and what differs from an uninterrupted run.

    Example:

    >>> print(resume_note(0, 3, 10))  # doctest: +NORMALIZE_WHITESPACE
    Resuming transformer 1 after epoch 3 of at most 10, from its backed-up weights and optimizer
    state. Unlike an uninterrupted run, early stopping's patience and best weights restart here
    and the remaining epochs see the data in another shuffled order, so the result is close to,
    not identical with, an uninterrupted run's.
    """
    return (
        f"Resuming transformer {index + 1} after epoch {epochs_done} of at most {epochs}, from its "
        "backed-up weights and optimizer state. Unlike an uninterrupted run, early stopping's "
        "patience and best weights restart here and the remaining epochs see the data in another "
        "shuffled order, so the result is close to, not identical with, an uninterrupted run's."
    )


class _EpochJournal(keras.callbacks.Callback):
    """Appends each finished epoch's logs to a JSON list, atomically."""

    def __init__(self, path, member):
        super().__init__()
        self.path = Path(path)
        self.member = member

    def on_epoch_end(self, epoch, logs=None):
        rows = json.loads(self.path.read_text()) if self.path.exists() else []
        rows = [row for row in rows if row["epoch"] <= epoch]  # drop an epoch that runs again
        rows.append({"member": self.member, "epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        _write_atomically(self.path, json.dumps(rows))


def _write_atomically(path, text):
    staging = Path(f"{path}.tmp")
    staging.write_text(text)
    os.replace(staging, path)
