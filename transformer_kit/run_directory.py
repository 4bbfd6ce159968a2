"""Atomic run directories: written beside the target, renamed into place when complete.

A crash (or a SIGKILL) while writing never leaves a directory that looks like
a finished run: the files are written to a temporary sibling, a manifest is
written last, and only then is the sibling renamed to the final name. Readers
refuse a directory without the manifest.
"""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from transformer_kit.errors import RunDirectoryError

MANIFEST = "manifest.json"


@contextlib.contextmanager
def atomic_directory(path, overwrite=False, kind="run directory"):
    """Yield a temporary directory that becomes `path` when the block succeeds.

    Args:
        path: final directory path.
        overwrite: replace an existing `path` if `True`; otherwise an
            existing `path` raises `RunDirectoryError` before anything is written.
        kind: what the directory is, for error messages.

    Yields:
        `pathlib.Path` of the temporary sibling to write into. On error it is
        deleted and `path` is left untouched.
    """
    path = Path(path)
    refuse_existing(path, overwrite, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.writing-", dir=path.parent))
    try:
        yield staging
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def refuse_existing(path, overwrite, kind="run directory"):
    """Raise `RunDirectoryError` if `path` exists (non-empty) and `overwrite` is false."""
    path = Path(path)
    if path.exists() and not overwrite:
        if path.is_dir() and not any(path.iterdir()):
            return
        raise RunDirectoryError(
            f"{path} already exists and holds a {kind}. Choose another output path, or pass "
            "--overwrite (overwrite=True) to replace it."
        )


def write_manifest(directory, contents):
    """Write the manifest last: its presence marks the directory complete."""
    (Path(directory) / MANIFEST).write_text(json.dumps(contents, indent=2, sort_keys=True) + "\n")


def read_manifest(directory, kind="run directory"):
    """Return the manifest of a complete directory, or raise `RunDirectoryError`."""
    directory = Path(directory)
    if not directory.exists():
        raise RunDirectoryError(f"{directory} does not exist. Pass the path of a {kind}.")
    if not directory.is_dir():
        raise RunDirectoryError(f"{directory} is a file, not a {kind}.")
    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise RunDirectoryError(
            f"{directory} is not a complete {kind}: it has no {MANIFEST}, so its writing was "
            "interrupted or it is not a transformer_kit directory. Train (or export) it again."
        )
    try:
        return json.loads(manifest.read_text())
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{manifest} is not valid JSON ({error}).") from error
