"""Reliability of training and loading: repeatable runs, crash-safe resume,
atomic run directories, safe loading of untrusted files, robust serving input."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keyword_data import keyword_dataset, write_keyword_csv
from transformer_kit.classifier import TextClassifier
from transformer_kit.cli import main
from transformer_kit.errors import RunDirectoryError

TINY = dict(epochs=2, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)


def fit_tiny(seed, preset="single"):
    classifier = TextClassifier(preset=preset, seed=seed, **TINY)
    classifier.fit(keyword_dataset(rows=240), test=keyword_dataset(rows=60, seed=5))
    return classifier


def test_same_seed_gives_identical_metrics_and_predictions():
    texts, _ = keyword_dataset(rows=50, seed=9)
    first, second = fit_tiny(seed=0), fit_tiny(seed=0)
    np.testing.assert_array_equal(first.predict_proba(texts).to_numpy(), second.predict_proba(texts).to_numpy())
    assert first.metrics_ == second.metrics_
    assert first.history_.equals(second.history_)

    other = fit_tiny(seed=1)
    assert not np.allclose(first.predict_proba(texts).to_numpy(), other.predict_proba(texts).to_numpy())


def train_command(data, output, *extra):
    return [
        sys.executable, "-m", "transformer_kit", "train", str(data), "--output", str(output),
        "--preset", "ensemble", "--ensemble-size", "2", "--epochs", "2",
        "--embed-dim", "16", "--num-heads", "2", "--ff-dim", "32", *extra,
    ]


def wait_for(path, process, timeout):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            pytest.fail(f"training ended (exit {process.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout} s")
        time.sleep(0.05)


def test_training_killed_with_sigkill_resumes_and_completes(tmp_path):
    data = write_keyword_csv(tmp_path / "tiny.csv", rows=2000)
    run = tmp_path / "run"
    partial = tmp_path / ".run.partial"
    command = train_command(data, run)
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
        try:
            # transformer_0 finished and transformer_1 has backed up an epoch.
            wait_for(partial / "transformer_1_backup" / "training_metadata.json", process, timeout=300)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (run / "manifest.json").exists()
    assert (partial / "transformer_0.keras").exists()

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Resuming: transformer_0 was already trained" in second.stdout
    resumed_at = int(re.search(r"Resuming transformer_1 from its backup at epoch (\d+)", second.stdout).group(1))
    assert resumed_at == 2
    assert "Epoch 1/2" not in second.stdout  # neither transformer started over
    assert not partial.exists()

    history = pd.read_csv(run / "history.csv")
    assert history.groupby("member")["epoch"].apply(list).to_dict() == {0: [1, 2], 1: [1, 2]}
    classifier = TextClassifier.load(run, verbose=0)
    assert list(classifier.predict(["a wonderful film", "a dreadful film"])) == ["positive", "negative"]


@pytest.fixture(scope="module")
def fitted():
    """A tiny fitted classifier with the n-gram model (the default preset)."""
    classifier = TextClassifier(preset="default", epochs=1, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)
    classifier.fit(keyword_dataset(rows=240))
    return classifier


@pytest.fixture(scope="module")
def saved_run(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("saved") / "run")


def copy_run(saved_run, tmp_path):
    return Path(shutil.copytree(saved_run, tmp_path / "run"))


def test_run_directory_without_manifest_is_refused(saved_run, tmp_path, capsys):
    run = copy_run(saved_run, tmp_path)
    (run / "manifest.json").unlink()  # as if the writer was killed before the end
    with pytest.raises(RunDirectoryError, match="not a complete run directory"):
        TextClassifier.load(run)
    assert main(["info", str(run)]) == 2
    error = capsys.readouterr().err
    assert "not a complete run directory" in error and "Traceback" not in error
