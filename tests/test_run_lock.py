"""Tests of transformer_kit.run_lock: one training run per output at a time, stale locks taken over."""

import json
import logging
import os
import subprocess
import sys

import pytest

from keyword_data import keyword_frame
from transformer_kit import cli
from transformer_kit.errors import RunDirectoryError
from transformer_kit.run_directory import host_name
from transformer_kit.run_lock import LOCK_FILE, run_lock


@pytest.fixture
def live_process():
    """A process that runs for the duration of the test, holding a lock in its name."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process.pid
    process.kill()
    process.wait()


def dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_lock(directory, pid, host=None, started="2026-01-02 03:04:05 +0000"):
    directory.mkdir(parents=True, exist_ok=True)
    holder = {"pid": pid, "host": host or host_name(), "started": started}
    (directory / LOCK_FILE).write_text(json.dumps(holder))
    return holder


def test_the_lock_records_this_process_and_is_removed_on_exit(tmp_path):
    with run_lock(tmp_path / ".run.partial") as lock:
        holder = json.loads(lock.read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), host_name())
        assert holder["started"]
    assert not lock.exists()
    assert not (tmp_path / ".run.partial").exists()  # left empty, so removed: no staging file behind


def test_releasing_keeps_a_backup_directory_that_holds_a_run(tmp_path):
    with run_lock(tmp_path / ".run.partial"):
        (tmp_path / ".run.partial" / "settings.json").write_text("{}")
    assert os.listdir(tmp_path / ".run.partial") == ["settings.json"]


def test_a_lock_held_by_a_live_process_is_refused_with_its_pid_host_and_start(tmp_path, live_process):
    directory = tmp_path / ".run.partial"
    write_lock(directory, live_process)
    with pytest.raises(RunDirectoryError) as error:
        with run_lock(directory):
            pytest.fail("entered a lock that another live process holds")
    assert f"process {live_process} on host {host_name()}, started 2026-01-02 03:04:05 +0000" in str(error.value)
    assert json.loads((directory / LOCK_FILE).read_text())["pid"] == live_process  # left to its holder


def test_a_lock_from_another_host_is_refused_as_it_cannot_be_checked(tmp_path):
    directory = tmp_path / ".run.partial"
    write_lock(directory, dead_pid(), host="another.host")
    with pytest.raises(RunDirectoryError, match="on host another.host"):
        with run_lock(directory):
            pass


@pytest.mark.parametrize("contents", ["dead", "{not json", "[]"])
def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path, caplog, contents):
    directory = tmp_path / ".run.partial"
    if contents == "dead":
        pid = dead_pid()
        write_lock(directory, pid)
    else:
        directory.mkdir()
        (directory / LOCK_FILE).write_text(contents)
    with caplog.at_level(logging.WARNING, logger="transformer_kit"):
        with run_lock(directory) as lock:
            assert json.loads(lock.read_text())["pid"] == os.getpid()
    assert "Taking over the lock" in caplog.text and "no longer runs" in caplog.text
    if contents == "dead":
        assert f"process {pid}" in caplog.text
    assert not directory.exists()


def test_the_lock_is_reentrant_within_one_process(tmp_path):
    directory = tmp_path / ".run.partial"
    with run_lock(directory) as outer:
        with run_lock(directory):
            pass
        assert outer.exists()  # the inner block did not release the outer one's lock
    assert not outer.exists()


def test_a_second_train_on_a_busy_output_is_refused_naming_the_holder(tmp_path, live_process, capsys):
    keyword_frame(60).to_csv(tmp_path / "train.csv", index=False)
    write_lock(tmp_path / ".run.partial", live_process)
    code = cli.main(["train", str(tmp_path / "train.csv"), "--output", str(tmp_path / "run"), "--quiet"])
    error = capsys.readouterr().err
    assert code == 2, error
    assert f"process {live_process} on host {host_name()}, started 2026-01-02 03:04:05 +0000" in error
    assert "interrupted training run with other settings" not in error
    assert not (tmp_path / "run").exists()
