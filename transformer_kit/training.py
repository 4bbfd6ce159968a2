"""Training the ensemble members: the Keras loop, trainer reuse and class weights.

`MemberTrainer.train_members` trains member after member (encoder + head) on
the datasets a `member_data(seed)` callable gives it, with early stopping on
validation loss, and optionally resumable through a `BackupDirectory`.
"""

import dataclasses
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from transformer_kit.distribution import prepare_datasets, prepare_model
from transformer_kit.encoders import build_member
from transformer_kit.models import compile_text_classifier

log = logging.getLogger(__name__)


@dataclasses.dataclass
class MemberData:
    """What one member trains on.

    Attributes:
        train: `tf.data.Dataset` of `(token ids, label ids)` batches.
        validation: the same, for early stopping.
        steps_per_epoch: int, batches in one pass over `train`.
        class_weight: `{class id: weight}` or `None`.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    steps_per_epoch: int
    class_weight: dict | None = None


def balanced_class_weights(label_ids, mode):
    """Class weights for Keras' `fit`, from scikit-learn's `compute_class_weight`.

    Args:
        label_ids: int array of the training rows' class ids.
        mode: `None` (no weights) or `"balanced"` (inversely proportional
            to class frequency).

    Returns:
        `{class id: weight}` over the classes present, or `None`.

    Example:

    >>> balanced_class_weights(np.array([0, 0, 0, 1]), "balanced")
    {0: 0.6666666666666666, 1: 2.0}
    """
    if mode != "balanced":
        return None
    present = np.unique(label_ids)
    weights = compute_class_weight("balanced", classes=present, y=label_ids)
    return {int(label): float(weight) for label, weight in zip(present, weights)}


def balanced_class_weights_from_counts(class_counts, mode):
    """`balanced_class_weights` from the number of rows of each class id.

    For streamed files: `compute_class_weight` needs one label per row, which
    a file larger than memory does not have, so its formula
    (`rows / (classes present * rows of the class)`) is applied to the counts.

    Example:

    >>> balanced_class_weights_from_counts([3, 1, 0], "balanced")
    {0: 0.6666666666666666, 1: 2.0}
    """
    if mode != "balanced":
        return None
    counts = np.asarray(class_counts)
    present = np.flatnonzero(counts)
    return {int(i): float(counts.sum() / (len(present) * counts[i])) for i in present}


class MemberTrainer:
    """Trains ensemble members one after another.

    Tracing Keras' training step takes ~4 s on CPU, as long as a few epochs
    on small data; the members share one architecture, so each after the
    first trains in the first one's compiled model (see `restart_trainer`).

    Args:
        encoder: an `Encoder` (see `transformer_kit.encoders`).
        preprocessor: the fitted `TextPreprocessor`.
        num_classes: int.
        training_config: the `TrainingConfig`.
        strategy: a `tf.distribute.Strategy`.
        verbose: Keras `fit` verbosity (progress bars).
        backup: a `BackupDirectory` or `None`.
        tensorboard_dir: path or `None`.
        callbacks: extra Keras callbacks for every member.
        soft_targets: bool, the datasets' targets are probabilities shaped
            like the members' outputs (distillation), not class ids.
    """

    def __init__(self, encoder, preprocessor, num_classes, training_config, strategy,
                 verbose=1, backup=None, tensorboard_dir=None, callbacks=None, soft_targets=False):
        self.encoder = encoder
        self.preprocessor = preprocessor
        self.num_classes = num_classes
        self.config = training_config
        self.strategy = strategy
        self.verbose = verbose
        self.backup = backup
        self.tensorboard_dir = tensorboard_dir
        self.callbacks = list(callbacks or [])
        self.soft_targets = soft_targets
        self._trainer = None  # (compiled model, steps per epoch) the next member may reuse
        self.resumed = {}  # member name -> how it was resumed, for the run record

    def train_members(self, ensemble_size, member_data):
        """Train `ensemble_size` members; member `i` uses seed `config.seed + i`.

        Args:
            ensemble_size: int.
            member_data: callable `seed -> MemberData`.

        Returns:
            `(members, history rows)`: the trained models, named
            `transformer_<i>`, and one dict per member and epoch.
        """
        members, rows = [], []
        for index in range(ensemble_size):
            log.info("\nTraining transformer %d/%d", index + 1, ensemble_size)
            member, member_rows = self.train_member(index, member_data, last=index == ensemble_size - 1)
            members.append(member)
            rows.extend(member_rows)
        self._trainer = None
        return members, rows

    def train_member(self, index, member_data, last=True):
        """Train member `index`; returns `(model, history rows)`."""
        if self.backup is not None:
            finished = self.backup.finished_member(index)
            if finished is not None:
                self.resumed[f"transformer_{index}"] = "finished before the interruption"
                return finished
            done = self.backup.epochs_done(index)
            if done:
                self.resumed[f"transformer_{index}"] = f"resumed after epoch {done}"
        seed = self.config.seed + index
        data = member_data(seed)
        keras.utils.set_random_seed(seed)
        name = f"transformer_{index}"
        # Variables created in the scope are mirrored on every replica; Keras
        # then splits each (global) batch across them.
        with self.strategy.scope():
            model = build_member(self.encoder, self.preprocessor, self.num_classes, name=name,
                                 multi_label=self.config.multi_label)
            if self._trainer is not None and self._trainer[1] == data.steps_per_epoch:
                training_model = restart_trainer(self._trainer[0], model)
            else:
                training_model = compile_text_classifier(
                    model,
                    steps_per_epoch=data.steps_per_epoch,
                    epochs=self.config.epochs,
                    learning_rate=self.config.learning_rate,
                    weight_decay=self.config.weight_decay,
                    warmup_fraction=self.encoder.warmup_fraction,
                    multi_label=self.config.multi_label,
                    soft_targets=self.soft_targets,
                )
        prepare_model(training_model, self.strategy, data.train)
        train, validation = prepare_datasets((data.train, data.validation), self.strategy)
        history = training_model.fit(
            train,
            validation_data=validation,
            epochs=self.config.epochs,
            class_weight=data.class_weight,
            callbacks=self._member_callbacks(index),
            shuffle=False,  # the dataset shuffles itself, seeded
            verbose=self.verbose,
        )
        model = self._keep_weights(training_model, model, last, data.steps_per_epoch)
        if self.backup is not None:
            rows = self.backup.journal(index)
            self.backup.save_finished_member(index, model, rows)
        else:
            rows = [
                {"member": index, "epoch": epoch + 1, **{k: float(v[i]) for k, v in history.history.items()}}
                for i, epoch in enumerate(history.epoch)
            ]
        return model, rows

    def _member_callbacks(self, index):
        callbacks = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.config.patience, restore_best_weights=True)
        ]
        if self.backup is not None:
            callbacks += self.backup.member_callbacks(index, self.config.epochs)
        if self.tensorboard_dir is not None:
            callbacks.append(keras.callbacks.TensorBoard(str(Path(self.tensorboard_dir) / f"transformer_{index}")))
        return callbacks + self.callbacks

    def _keep_weights(self, training_model, model, last, steps_per_epoch):
        """The trained member as a model of its own, and the trainer for the next one."""
        self._trainer = None
        if self.strategy is not tf.distribute.get_strategy():
            # A plain single-device copy for prediction, saving and export:
            # Keras' predict_on_batch under MirroredStrategy feeds the whole
            # batch to every replica and returns each row once per replica.
            return copy_with_weights(training_model)
        if not last:
            # The next member trains in this compiled model (same graph,
            # traced once); this one keeps its weights elsewhere.
            self._trainer = (training_model, steps_per_epoch)
        if training_model is not model:
            model.set_weights(training_model.get_weights())
            return model
        return copy_with_weights(training_model) if self._trainer is not None else model


def restart_trainer(trainer, fresh):
    """Make compiled model `trainer` start where freshly built `fresh` would.

    Copying every variable (weights and the dropout seed states) and zeroing
    the optimizer (step counter and moments, as a new one starts) makes the
    run the one `fresh` would have had, compiled on its own.

    Args:
        trainer: a compiled model of the same architecture as `fresh`.
        fresh: a newly built, uncompiled model.

    Returns:
        `trainer`, reset.
    """
    for target, source in zip(trainer.variables, fresh.variables, strict=True):
        target.assign(source)
    for variable in trainer.optimizer.variables:
        if variable.name != "learning_rate":  # a variable only without a schedule
            variable.assign(keras.ops.zeros_like(variable))
    return trainer


def copy_with_weights(model):
    """A separate, uncompiled copy of `model` holding its current weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy
