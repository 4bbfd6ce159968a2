"""Atomic run directories: written beside the target, renamed into place when complete.

A crash (or a SIGKILL) while writing never leaves a directory that looks like
a finished run: the files are written to a temporary sibling, a manifest is
written last, and only then is the sibling renamed to the final name. Readers
refuse a directory without the manifest.

A killed writer cannot delete its temporary sibling, so each one's name
carries the writer's process id and host (`.NAME.writing-PID@HOST-XXXXXXXX`,
`.NAME.old-PID@HOST-XXXXXXXX`), and the next save to the same target removes
the siblings whose writer is no longer alive (`remove_abandoned_siblings`).
A sibling of a writer that is still running is never touched.
"""

import contextlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

from transformer_kit.errors import RunDirectoryError

MANIFEST = "manifest.json"
# Siblings named by versions before the PID was part of the name cannot be
# checked for a live writer; no save takes this long, so older ones are
# abandoned.
UNNAMED_SIBLING_MAX_AGE_S = 24 * 3600


@contextlib.contextmanager
def atomic_directory(path, overwrite=False, kind="run directory"):
    """Yield a temporary directory that becomes `path` when the block succeeds.

    Before writing, the temporary siblings that earlier, killed writes to the
    same `path` left behind are removed (see `remove_abandoned_siblings`).

    Args:
        path: final directory path.
        overwrite: replace an existing `path` if `True`; otherwise an
            existing `path` raises `RunDirectoryError` before anything is written.
        kind: what the directory is, for error messages.

    Yields:
        `pathlib.Path` of the temporary sibling to write into. On error it is
        deleted and `path` is left untouched.

    Example:

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "run"
    >>> with atomic_directory(target) as staging:
    ...     write_manifest(staging, {"kind": "example"})
    ...     target.exists()
    False
    >>> read_manifest(target)
    {'kind': 'example'}
    >>> shutil.rmtree(target.parent)
    """
    path = Path(path)
    refuse_existing(path, overwrite, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_siblings(path)
    staging = Path(tempfile.mkdtemp(prefix=_sibling_prefix(path, "writing"), dir=path.parent))
    try:
        yield staging
        if path.exists():
            retired = Path(tempfile.mkdtemp(prefix=_sibling_prefix(path, "old"), dir=path.parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def remove_abandoned_siblings(path):
    """Delete the temporary siblings of `path` that killed writers left behind.

    A sibling `.NAME.writing-PID@HOST-…` or `.NAME.old-PID@HOST-…` is removed
    when it was made on this host by a process that no longer runs. Siblings
    of live processes, and of other hosts (a shared file system), are kept.
    Siblings without a PID in their name (earlier versions) are removed once
    they are a day old.

    Args:
        path: the target directory whose siblings to check.

    Returns:
        list of `pathlib.Path`, the siblings removed.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(?:writing|old)-(.+)")
    removed = []
    for sibling in path.parent.iterdir():
        match = pattern.fullmatch(sibling.name)
        if match and sibling.is_dir() and _is_abandoned(sibling, match.group(1)):
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed


def _sibling_prefix(path, role):
    return f".{path.name}.{role}-{os.getpid()}@{host_name()}-"


def host_name():
    """This machine's name as written in sibling and lock names (letters, digits, `.`, `_`)."""
    # mkdtemp's random suffix has no "-", so the host may not either.
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _is_abandoned(sibling, suffix):
    owner = re.fullmatch(r"(\d+)@([A-Za-z0-9._]+)-[a-z0-9_]+", suffix)
    if owner is None:
        if not re.fullmatch(r"[a-z0-9_]{8}", suffix):  # not a name mkdtemp gave
            return False
        try:
            return time.time() - sibling.stat().st_mtime > UNNAMED_SIBLING_MAX_AGE_S
        except OSError:
            return False
    pid, host = int(owner.group(1)), owner.group(2)
    return host == host_name() and not process_is_alive(pid)


def process_is_alive(pid):
    """Whether process `pid` runs on this host (assumed so where that cannot be checked)."""
    if os.name != "posix":
        # os.kill(pid, 0) would terminate the process on Windows: assume alive.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to another user
        return True
    return True


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
