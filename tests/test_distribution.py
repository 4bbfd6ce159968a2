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

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from transformer_kit.classifier import TextClassifier
from transformer_kit.data import make_text_vectorizer, make_token_dataset
from transformer_kit.distribution import even_first_batch, make_strategy, stand_in_batch
from transformer_kit.models import add_classification_head, build_transformer_encoder, compile_text_classifier

TINY_ARGS = ["--preset", "single", "--epochs", "2", "--embed-dim", "16", "--num-heads", "2", "--ff-dim", "32"]


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown strategy 'gpu'. Choose one of: auto, none, mirrored"):
        make_strategy("gpu")
    with pytest.raises(ValueError, match="strategy"):
        TextClassifier(strategy="gpu").fit(["a", "b"], ["x", "y"])  # checked before any training


def test_tpu_strategy_without_a_tpu_is_a_clear_error():
    with pytest.raises(ValueError, match="No TPU found"):
        make_strategy("tpu")


def token_batches(sizes, shuffle=False):
    """Batches like `make_token_dataset`'s: `(ids, row numbers)`, each batch padded to its own width.

    Row `i` holds `i + 1` in its first `1 + i % 11` columns, so every batch has a width of its own.
    """
    rows = sum(sizes)
    lengths = 1 + np.arange(rows) % 11
    ids = (np.arange(1, rows + 1)[:, None] * (np.arange(11) < lengths[:, None])).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((ids, np.arange(rows, dtype="int32")))
    if shuffle:
        dataset = dataset.shuffle(rows, seed=0, reshuffle_each_iteration=True)
    # Cut into batches of `sizes`, then trimmed to the batch's longest row, as dynamic padding does.
    batches = dataset.batch(rows).flat_map(
        lambda x, y: tf.data.Dataset.from_tensor_slices(tf.constant(sizes)).scan(
            0, lambda start, size: (start + size, (x[start : start + size], y[start : start + size]))))
    return batches.map(lambda x, y: (x[:, : tf.reduce_max(tf.math.count_nonzero(x, axis=1, dtype=tf.int32))], y))


@pytest.mark.parametrize("replicas", [1, 2, 3])
@pytest.mark.parametrize("sizes", [[64, 64, 3], [7, 64, 64], [5], [16, 1], [1]])
def test_even_first_batch_splits_the_first_batch_evenly_and_keeps_every_row_once_in_order(sizes, replicas):
    batches = [(x.numpy(), y.numpy()) for x, y in even_first_batch(token_batches(sizes), replicas)]
    sizes_out = [len(y) for _, y in batches]
    rows = sum(sizes)
    assert sum(sizes_out) == rows and min(sizes_out) > 0
    if rows >= replicas:
        assert sizes_out[0] % replicas == 0
    if replicas == 1 or sizes[0] % replicas == 0:
        assert sizes_out == sizes  # nothing to move
    elif len(sizes) > 1 and sizes[0] >= replicas:
        assert sizes_out == [sizes[0] - sizes[0] % replicas, sizes[1] + sizes[0] % replicas, *sizes[2:]]
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), np.arange(rows))  # order kept
    for x, y in batches:  # each row's ids intact, padded with 0 to its batch's width
        expected = (y[:, None] + 1) * (np.arange(x.shape[1]) < 1 + y[:, None] % 11)
        np.testing.assert_array_equal(x, expected)


def test_even_first_batch_reads_a_reshuffling_dataset_once_per_epoch():
    dataset = even_first_batch(token_batches([7, 64, 64], shuffle=True), replicas=2)
    epochs = [np.concatenate([y.numpy() for _, y in dataset]) for _ in range(2)]
    for rows in epochs:  # every row exactly once in each epoch
        np.testing.assert_array_equal(np.sort(rows), np.arange(135))
    assert not np.array_equal(epochs[0], epochs[1])  # still reshuffled every epoch
    assert [len(y) for _, y in dataset][:2] == [6, 65]


# The targets of each kind of training, for 6 texts: (targets, classes, compile options).
TARGET_KINDS = {
    "class ids": (np.array([0, 1, 2, 0, 1, 2]), 3, {}),
    "binary class ids": (np.array([0, 1, 1, 0, 1, 0]), 2, {}),
    "multi-hot labels": ((np.eye(3)[[0, 1, 2, 0, 1, 2]] + [0, 0, 1]).astype("float32"), 3, {"multi_label": True}),
    "teacher probabilities": (np.full((6, 3), 1 / 3, "float32"), 3, {"soft_targets": True}),
    "binary teacher probabilities": (np.full((6, 1), 0.7, "float32"), 2, {"soft_targets": True}),
}


@pytest.mark.parametrize("kind", TARGET_KINDS)
def test_the_multi_worker_stand_in_batch_is_shaped_like_the_data_and_builds_loss_and_metrics(kind):
    targets, classes, options = TARGET_KINDS[kind]
    texts = ["good film", "bad plot here", "a fine cast", "dull", "great ending", "poor script and cast"]
    dataset = make_token_dataset(texts, targets, make_text_vectorizer(texts), sequence_length=16, batch_size=4,
                                 shuffle=True, seed=0)
    stand_in = stand_in_batch(dataset)
    for real, fake in zip(next(iter(dataset)), stand_in):
        assert (fake.shape[1:], fake.dtype) == (real.shape[1:], real.dtype.as_numpy_dtype)
    assert stand_in[0].shape == (1, 8)  # the padded length is unknown: the shortest padding
    encoder = build_transformer_encoder(50, 16, embed_dim=8, num_heads=1, ff_dim=8)
    model = add_classification_head(encoder, classes, multi_label=options.get("multi_label", False))
    compile_text_classifier(model, **options)
    # What prepare_model does under MultiWorkerMirroredStrategy (which needs a process of its own):
    # Keras builds the loss and metrics from the stand-in, and fails on targets of the wrong shape or dtype.
    model._symbolic_build(data_batch=stand_in)
    assert model._compile_loss.built and model._compile_metrics.built and model.optimizer.built


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
    # Multi-label data: its multi-hot float targets must reach Keras' build as they are, not as class ids
    # (test_the_multi_worker_stand_in_batch_... checks the other kinds of target without training).
    from test_multilabel import topic_texts

    texts, labels = topic_texts(300)
    data = tmp_path / "tags.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    command = [sys.executable, "-m", "transformer_kit", "train", str(data), "--output", "run",
               "--strategy", "multi-worker", "--multi-label", *TINY_ARGS]
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
    assert classifier.training_config_.strategy == "multi-worker" and classifier.multi_label
    probabilities = classifier.predict_proba(["we saw a goal and a ball", "we saw a song and a band"])
    assert probabilities["sports"][0] > probabilities["sports"][1]  # two tiny epochs: learning, if not yet sure
