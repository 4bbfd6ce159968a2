"""One training run at a time per output: a lock file in the run's backup directory.

Two `train` commands on one `--output` would share the hidden backup
directory (`.<run name>.partial`, see `transformer_kit.resume`) and mix or
refuse each other's state. The first takes `lock.json` there, holding its
process id, host and start time; a second is refused with those while the
first runs. A lock left by a killed run (same host, process gone) is taken
over with a warning, and the interrupted run resumes as before. A lock from
another host (a shared file system) cannot be checked and is never taken over.
"""

import contextlib
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from transformer_kit.errors import RunDirectoryError
from transformer_kit.run_directory import host_name, process_is_alive

log = logging.getLogger(__name__)

LOCK_FILE = "lock.json"


@contextlib.contextmanager
def run_lock(directory):
    """Hold `directory/lock.json` for the duration of the block.

    Re-entrant within one process: a lock this process already holds is
    kept (and released by the outer block only).

    Args:
        directory: the run's backup directory (created if missing).

    Yields:
        `pathlib.Path` of the lock file.

    Raises:
        RunDirectoryError: another live process (or one on another host)
            holds the lock; the message names its process id, host and
            start time.

    Example:

    >>> import tempfile
    >>> directory = Path(tempfile.mkdtemp()) / ".run.partial"
    >>> with run_lock(directory) as lock:
    ...     json.loads(lock.read_text())["pid"] == os.getpid()
    True
    >>> (directory / LOCK_FILE).exists()
    False
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    mine = _holder()
    taken = _acquire(path, mine)
    try:
        yield path
    finally:
        if taken:
            _release(path, mine)


def _holder():
    return {
        "pid": os.getpid(),
        "host": host_name(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _acquire(path, mine):
    """Take the lock; `False` if this process already held it."""
    for _ in range(3):  # a stale lock removed, or one released meanwhile: try again
        if _create(path, mine):
            return True
        holder = _read(path)
        if holder is None:  # released between our attempt and the read
            continue
        if (holder.get("pid"), holder.get("host")) == (mine["pid"], mine["host"]):
            return False
        pid = holder.get("pid")
        alive = isinstance(pid, int) and pid > 0 and process_is_alive(pid)  # os.kill(-1, 0) would ask everyone
        if holder.get("host") != mine["host"] or alive:
            raise RunDirectoryError(
                f"Another training run is using {path.parent}: process {holder.get('pid')} on host "
                f"{holder.get('host')}, started {holder.get('started')}. Wait for it to finish, or choose "
                f"another --output. If that process no longer runs, delete {path}."
            )
        log.warning(
            "Taking over the lock of %s from process %s on host %s, started %s, which no longer runs "
            "(it was killed or crashed).", path.parent, holder.get("pid"), holder.get("host"), holder.get("started"),
        )
        # Renamed aside, not deleted: of two runs taking over at once, only one rename succeeds.
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, path.with_name(f"{LOCK_FILE}.stale-{mine['pid']}"))
            os.remove(path.with_name(f"{LOCK_FILE}.stale-{mine['pid']}"))
    raise RunDirectoryError(f"Could not take the lock {path}: other runs keep taking it. Try again.")


def _create(path, contents):
    """Write the lock complete, then link it into place: only one process can create it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f"{LOCK_FILE}.", delete=False) as staging:
        json.dump(contents, staging)
    try:
        os.link(staging.name, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.remove(staging.name)


def _read(path):
    """The holder recorded in `path`, `None` if it is gone; an unreadable lock counts as dead."""
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"pid": -1, "host": host_name(), "started": "unknown (unreadable lock file)"}
    return holder if isinstance(holder, dict) else {"pid": -1, "host": host_name(), "started": "unknown"}


def _release(path, mine):
    # Only our own lock: the directory may have been removed (the run finished) or the lock taken over.
    if _read(path) == mine:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # A run that failed before writing anything leaves no empty backup directory behind.
        with contextlib.suppress(OSError):
            path.parent.rmdir()
