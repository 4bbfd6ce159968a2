"""Reliability of training and loading: repeatable runs, crash-safe resume,
atomic run directories, safe loading of untrusted files, robust serving input."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transformer_kit
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
            # Our journal is written just before Keras' backup: wait for both.
            wait_for(partial / "transformer_1_epochs.json", process, timeout=300)
            wait_for(partial / "transformer_1_backup" / "training_metadata.json", process, timeout=60)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == -signal.SIGKILL
    assert not (run / "manifest.json").exists()
    assert (partial / "transformer_0.keras").exists()

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert "Resuming: transformer 1 was already trained" in output
    assert f"Taking over the lock of {partial} from process {process.pid}" in output  # the killed run's
    resumed_after = int(re.search(r"Resuming transformer 2 after epoch (\d+) of at most 2", output).group(1))
    assert resumed_after == 1
    assert "not identical with, an uninterrupted run's" in output  # says how it differs
    assert "Epoch 1/2" not in output  # neither transformer started over
    assert not partial.exists()

    history = pd.read_csv(run / "history.csv")
    assert history.groupby("member")["epoch"].apply(list).to_dict() == {0: [1, 2], 1: [1, 2]}
    classifier = TextClassifier.load(run, verbose=0)
    assert list(classifier.predict(["a wonderful film", "a dreadful film"])) == ["positive", "negative"]
    record = json.loads((run / "config.json").read_text())
    assert record["resumed"] == {
        "transformer_0": "finished before the interruption", "transformer_1": "resumed after epoch 1"
    }


@pytest.fixture(scope="module")
def fitted(default_classifier):
    """A tiny fitted classifier with the n-gram model (the default preset; the session's, tests/conftest.py)."""
    return default_classifier


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


def rewrite_model_config(model_path, edit):
    """Apply `edit` to the `config.json` inside a `.keras` zip archive."""
    with zipfile.ZipFile(model_path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    layer = next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == "probabilities")
    edit(layer)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(model_path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def test_model_with_a_lambda_layer_is_refused(saved_run, tmp_path):
    run = copy_run(saved_run, tmp_path)
    lambda_layer = keras.saving.serialize_keras_object(keras.layers.Lambda(lambda parts: parts[0]))

    def to_lambda(layer):
        lambda_layer["config"]["name"] = layer["config"]["name"]
        layer.update(
            module=lambda_layer["module"], class_name="Lambda", registered_name=None, config=lambda_layer["config"]
        )

    rewrite_model_config(run / "model.keras", to_lambda)
    with pytest.raises(RunDirectoryError, match="safely") as error:
        TextClassifier.load(run)
    assert "safe_mode" in str(error.value)  # Keras' own reason: lambdas are code


def test_model_pointing_at_os_system_is_refused_without_running_it(saved_run, tmp_path):
    run = copy_run(saved_run, tmp_path)
    marker = tmp_path / "pwned"

    def to_os_system(layer):
        layer.update(module="os", class_name="system", registered_name=None, config={"command": f"touch {marker}"})

    rewrite_model_config(run / "model.keras", to_os_system)
    with pytest.raises(RunDirectoryError, match="safely"):
        TextClassifier.load(run)
    assert not marker.exists()


def test_config_with_unknown_keys_is_refused(saved_run, tmp_path):
    run = copy_run(saved_run, tmp_path)
    record = json.loads((run / "config.json").read_text())
    record["params"]["__reduce__"] = "os.system"
    (run / "config.json").write_text(json.dumps(record))
    with pytest.raises(RunDirectoryError, match=r"not a valid run configuration.*__reduce__"):
        TextClassifier.load(run)


def test_package_never_uses_pickle():
    package = Path(transformer_kit.__file__).parent
    pattern = re.compile(
        r"\bimport (c?pickle|dill|joblib|marshal|shelve)\b|read_pickle|allow_pickle\s*=\s*True|safe_mode\s*=\s*False"
    )
    offenders = [str(path) for path in package.rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


# Any Unicode except surrogates (which UTF-8 cannot encode): control
# characters, emoji, CJK, combining marks, and very long repetitions.
SERVING_TEXTS = st.lists(
    st.text(max_size=60)
    | st.builds(lambda text, times: text * times, st.text(min_size=1, max_size=8), st.integers(200, 3000)),
    min_size=1,
    max_size=6,
)


def assert_probabilities(probabilities, rows):
    probabilities = np.asarray(probabilities, dtype="float64")
    assert probabilities.shape[0] == rows
    assert np.isfinite(probabilities).all()
    assert (probabilities >= 0).all() and (probabilities <= 1).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=SERVING_TEXTS)
def test_predict_proba_survives_arbitrary_unicode(fitted, texts):
    assert_probabilities(fitted.predict_proba(texts).to_numpy(), len(texts))


@pytest.fixture(scope="module")
def serving_default(fitted, tmp_path_factory):
    export = pytest.importorskip("transformer_kit.export")
    version_dir = export.export_saved_model(fitted, tmp_path_factory.mktemp("export") / "model")
    return tf.saved_model.load(str(version_dir)).signatures["serving_default"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=SERVING_TEXTS)
def test_exported_saved_model_survives_arbitrary_unicode(serving_default, texts):
    outputs = serving_default(text=tf.constant(texts))
    assert_probabilities(outputs["probabilities"].numpy(), len(texts))
