"""Tests for `transformer_kit.distribution`: training under `tf.distribute` strategies.

Devices are fixed when TensorFlow starts, so every multi-device run happens in
a fresh subprocess (two logical CPUs, or two worker processes).
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from keyword_data import write_keyword_csv
from transformer_kit.classifier import TextClassifier
from transformer_kit.distribution import make_strategy

TINY_ARGS = ["--preset", "single", "--epochs", "2", "--embed-dim", "16", "--num-heads", "2", "--ff-dim", "32"]


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'. Choose one of: auto, none, mirrored"):
        make_strategy("gpu")
    with pytest.raises(ValueError, match="strategy"):
        TextClassifier(strategy="gpu").fit(["a", "b"], ["x", "y"])  # checked before any training


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    with pytest.raises(ValueError, match="No TPU found"):
        make_strategy("tpu")


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf

    # Two logical CPUs stand in for two GPUs; only possible before TF starts.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    sys.path.insert(0, sys.argv[1])
    from keyword_data import keyword_dataset
    from transformer_kit.classifier import TextClassifier
    from transformer_kit.distribution import make_strategy

    result = {"replicas": make_strategy("mirrored").num_replicas_in_sync}
    for strategy in ("mirrored", "none"):
        classifier = TextClassifier(preset="single", epochs=2, embed_dim=16, num_heads=2, ff_dim=32,
                                    strategy=strategy, verbose=0)
        classifier.fit(keyword_dataset(rows=400), test=keyword_dataset(rows=100, seed=7))
        result[strategy] = classifier.metrics_["test"]["accuracy"]
    print("RESULT " + json.dumps(result))
    """
)


def test_mirrored_strategy_on_two_devices_matches_one_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script), os.path.dirname(__file__)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ")[-1])
    assert result["replicas"] == 2
    assert result["mirrored"] >= 0.9 and result["none"] >= 0.9
    assert abs(result["mirrored"] - result["none"]) <= 0.05


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_multi_worker_training_with_two_processes_writes_one_run(tmp_path):
    data = write_keyword_csv(tmp_path / "tiny.csv", rows=300)
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    command = [sys.executable, "-m", "transformer_kit", "train", str(data), "--output", "run",
               "--strategy", "multi-worker", *TINY_ARGS]
    processes = []
    try:
        for index in range(2):
            tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            env = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
            log = open(tmp_path / f"worker{index}.log", "w")
            processes.append(subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        codes = [process.wait(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    logs = [(tmp_path / f"worker{index}.log").read_text()[-3000:] for index in range(2)]
    assert codes == [0, 0], logs
    assert "the chief writes the run directory" in logs[1]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".run")) == []
    classifier = TextClassifier.load(tmp_path / "run", verbose=0)
    assert classifier.training_config_.strategy == "multi-worker"
    probabilities = classifier.predict_proba(["a wonderful film", "a dreadful film"])["positive"].to_numpy()
    assert probabilities[0] > probabilities[1]  # two tiny epochs: learning, if not yet sure
