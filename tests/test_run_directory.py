"""Tests of transformer_kit.run_directory: atomic writes and the cleanup of killed writers' leftovers."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from transformer_kit import run_directory
from transformer_kit.errors import RunDirectoryError
from transformer_kit.run_directory import (
    UNNAMED_SIBLING_MAX_AGE_S,
    atomic_directory,
    read_manifest,
    remove_abandoned_siblings,
    write_manifest,
)

REPOSITORY = Path(__file__).resolve().parents[1]


def _dead_pid():
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _leftover(parent, name, role, pid, host=None, files=("model.keras",)):
    sibling = parent / f".{name}.{role}-{pid}@{host or run_directory.host_name()}-abcd1234"
    sibling.mkdir()
    for file in files:
        (sibling / file).write_text("partial")
    return sibling


def _save(target, overwrite=False, contents=None):
    with atomic_directory(target, overwrite=overwrite) as staging:
        write_manifest(staging, contents or {"run": 1})


def test_completed_write_leaves_only_the_target(tmp_path):
    target = tmp_path / "run"
    _save(target)
    _save(target, overwrite=True, contents={"run": 2})
    assert read_manifest(target) == {"run": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_failed_write_removes_its_staging_and_keeps_the_target(tmp_path):
    target = tmp_path / "run"
    _save(target)
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as staging:
            (staging / "half.txt").write_text("x")
            raise RuntimeError("disk full")
    assert read_manifest(target) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_existing_target_is_refused_without_overwrite(tmp_path):
    _save(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="already exists"):
        _save(tmp_path / "run")


def test_next_save_removes_leftovers_of_a_killed_writer(tmp_path):
    dead = _dead_pid()
    writing = _leftover(tmp_path, "run", "writing", dead)
    old = _leftover(tmp_path, "run", "old", dead)
    _save(tmp_path / "run")
    assert not writing.exists() and not old.exists()
    assert read_manifest(tmp_path / "run") == {"run": 1}


def test_staging_of_a_live_writer_is_kept(tmp_path):
    live = _leftover(tmp_path, "run", "writing", os.getpid())
    other_host = _leftover(tmp_path, "run", "writing", _dead_pid(), host="another.host")
    other_target = _leftover(tmp_path, "run2", "writing", _dead_pid())
    _save(tmp_path / "run")
    assert live.exists() and other_host.exists() and other_target.exists()


def test_unnamed_leftovers_of_earlier_versions_are_removed_once_a_day_old(tmp_path):
    stale = tmp_path / ".run.writing-k2j4h5g6"
    recent = tmp_path / ".run.writing-q7w8e9r0"
    not_ours = tmp_path / ".run.writing-by-hand"
    for sibling in (stale, recent, not_ours):
        sibling.mkdir()
    long_ago = time.time() - UNNAMED_SIBLING_MAX_AGE_S - 60
    os.utime(stale, (long_ago, long_ago))
    os.utime(not_ours, (long_ago, long_ago))
    assert remove_abandoned_siblings(tmp_path / "run") == [stale]
    assert recent.exists() and not_ours.exists()


def test_a_writer_killed_mid_save_leaves_staging_that_the_next_save_removes(tmp_path):
    target = tmp_path / "run"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from transformer_kit.run_directory import atomic_directory
                with atomic_directory({str(target)!r}) as staging:
                    (staging / "model.keras").write_text("half written")
                    print(staging, flush=True)
                    time.sleep(60)
                """
            ),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        staging = Path(writer.stdout.readline().strip())
        assert staging.is_dir() and staging.name.startswith(".run.writing-")
        # While the writer lives, a concurrent save must not touch its staging.
        assert remove_abandoned_siblings(target) == []
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert staging.is_dir() and not target.exists()
    _save(target)
    assert not staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
