"""`make_strategy`: pick a `tf.distribute` strategy by name.

Training runs on TensorFlow's own distribution engine: each transformer is
built and compiled inside `strategy.scope()`, and Keras splits every batch
across the replicas. The batch size is the *global* one, so a run gives the
same number of steps per epoch, and the same learning-rate schedule, on one
device or on eight.
"""

import functools
import json
import os

import keras
import numpy as np
import tensorflow as tf

from transformer_kit.config import STRATEGIES


# One strategy per name and process: MultiWorkerMirroredStrategy and the TPU
# system can only be set up once, and a notebook may call `fit` many times.
@functools.cache
def make_strategy(name="auto"):
    """Create the distribution strategy called `name`.

    Call it before any other TensorFlow op runs in the process:
    `MultiWorkerMirroredStrategy` must configure the runtime's collective ops
    first (`TextClassifier.fit` does so at its very start).

    Args:
        name: str, default `"auto"`. One of
            - `"auto"`: `"mirrored"` when more than one GPU is visible, else
              `"none"`.
            - `"none"`: TensorFlow's default strategy (one device).
            - `"mirrored"`: `tf.distribute.MirroredStrategy`, synchronous
              data parallelism over the GPUs (or logical devices) of this
              machine.
            - `"multi-worker"`: `tf.distribute.MultiWorkerMirroredStrategy`,
              the same over several machines; each process reads its role
              and the cluster from the `TF_CONFIG` environment variable.
            - `"tpu"`: `tf.distribute.TPUStrategy` on the TPU found by
              `TPUClusterResolver` (a Cloud TPU VM, or `TPU_NAME`).

    Returns:
        A `tf.distribute.Strategy`.

    Raises:
        ValueError: unknown `name`, no TPU found, or a malformed `TF_CONFIG`.

    Example:

    >>> from transformer_kit.models import build_text_classifier
    >>> strategy = make_strategy("none")
    >>> with strategy.scope():
    ...     model = build_text_classifier(vocab_size=5000, sequence_length=64)
    >>> strategy.num_replicas_in_sync
    1
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}. Choose one of: {', '.join(STRATEGIES)}.")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "none"
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return _make_tpu_strategy()


def is_chief():
    """Whether this process should write the results of a multi-worker run.

    The chief is the task of type `"chief"`, or worker 0 when the cluster has
    no chief; a process without `TF_CONFIG` is its own chief. The other
    workers train just as much, but write only to temporary places, so that
    the run directory is written exactly once.

    Returns:
        bool.
    """
    config = _check_tf_config() if os.environ.get("TF_CONFIG") else {}
    task = config.get("task", {})
    task_type = task.get("type")
    if task_type in (None, "chief"):
        return True
    return task_type == "worker" and int(task.get("index", 0)) == 0 and "chief" not in config.get("cluster", {})


def worker_name():
    """`"<type><index>"` of this process in `TF_CONFIG`, e.g. `"worker1"` (`""` without one)."""
    task = _check_tf_config().get("task", {}) if os.environ.get("TF_CONFIG") else {}
    return f"{task.get('type', '')}{task.get('index', '')}"


def _check_tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError(
            "The multi-worker strategy needs the TF_CONFIG environment variable on every "
            'machine, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}\' (index 1 on the second machine).'
        )
    try:
        config = json.loads(raw)
        config["cluster"], config["task"]["type"], config["task"]["index"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(
            f"TF_CONFIG is not valid ({error!r}): it must be JSON with a 'cluster' (lists of "
            "host:port per task type) and a 'task' ({'type': 'worker', 'index': N})."
        ) from None
    return config


def _make_tpu_strategy():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(
            f"No TPU found ({error}). Run on a Cloud TPU VM, or set TPU_NAME to the TPU's "
            "name or grpc:// address; use --strategy auto (or none) elsewhere."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def prepare_datasets(datasets, strategy):
    """Make training datasets of batches ready for Keras' `fit` under `strategy`.

    Args:
        datasets: `tf.data.Dataset`s of batches built the same way on every
            worker (seeded, from memory or the same files).
        strategy: the `tf.distribute.Strategy` the model trains under.

    Returns:
        A tuple of the datasets, as given when `strategy` has one replica.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return tuple(datasets)
    # Every worker builds the same seeded dataset; there are no files to
    # shard, so workers split it by batches.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # Keras builds the model from the first batch split over the replicas,
    # which fails unless it splits evenly (see even_first_batch).
    return tuple(even_first_batch(dataset.with_options(options), replicas) for dataset in datasets)


def even_first_batch(dataset, replicas):
    """`dataset` with a first batch that splits evenly over `replicas`.

    Keras' `fit` and `evaluate` under a `tf.distribute` strategy build the
    model from the dataset's first batch, after averaging the replicas'
    parts of it (`strategy.reduce("MEAN", ...)` in `_maybe_symbolic_build`,
    Keras 3.15). That average needs parts of one shape: a first batch of 49
    rows on two replicas (25 and 24) fails with "Inputs to operation AddN
    of type AddN must have the same size and shape", for a scratch
    transformer and a KerasHub backbone alike. It happens whenever the
    first batch is short (few rows, or bucketing shuffles the last batch to
    the front) or the batch size is not a multiple of the replicas (64 on
    three GPUs). Later batches may split unevenly: the training step
    handles that.

    So the first batch keeps a multiple of `replicas` rows, and the rows
    beyond it are prepended to the second batch (the narrower of the two
    padded with 0, the padding id); a dataset of one batch gets them as a
    second, short batch of their own. Rows keep their order; none is lost
    or repeated. It works in one pass, so a dataset that reshuffles is
    still read once per epoch, and does so in every epoch (Keras builds at
    the start of every `evaluate`).

    Args:
        dataset: a `tf.data.Dataset` of batches: a tensor, or a tuple of
            tensors, whose first dimension is the batch (token ids and
            targets); other dimensions may differ between batches.
        replicas: int, the strategy's `num_replicas_in_sync`.

    Returns:
        The same rows in the same order, in batches of which the first
        splits evenly (unless the whole dataset has fewer rows than
        `replicas`); `dataset` itself when `replicas` is 1.

    Example:

    >>> dataset = tf.data.Dataset.range(7).batch(4)  # batches of 4 and 3 rows
    >>> [len(batch) for batch in even_first_batch(dataset, replicas=3)]
    [3, 4]
    """
    if replicas == 1:
        return dataset
    empty = tf.nest.map_structure(lambda spec: tf.zeros([dim or 0 for dim in spec.shape], spec.dtype),
                                  dataset.element_spec)

    def move_rows(state, batch):
        split_done, carried = state
        merged = tf.nest.map_structure(_concat_rows, carried, batch)
        rows = _batch_rows(merged)
        at_end = tf.equal(_batch_rows(batch), 0)  # the empty batch appended below: flush the rows carried
        keep = tf.where(split_done | at_end, rows, rows - rows % replicas)
        kept = tf.nest.map_structure(lambda tensor: tensor[:keep], merged)
        carried = tf.nest.map_structure(lambda tensor: tensor[keep:], merged)
        return (split_done | (keep > 0), carried), kept

    moved = dataset.concatenate(tf.data.Dataset.from_tensors(empty)).scan((tf.constant(False), empty), move_rows)
    return moved.filter(lambda *batch: _batch_rows(batch) > 0)


def _batch_rows(batch):
    return tf.shape(tf.nest.flatten(batch)[0])[0]


def _concat_rows(first, second):
    """`first` and `second` joined along the batch, each padded with 0 to the larger of their other dims."""
    shape = tf.maximum(tf.shape(first)[1:], tf.shape(second)[1:])

    def pad(tensor):
        extra = shape - tf.shape(tensor)[1:]
        return tf.pad(tensor, tf.concat([[[0, 0]], tf.stack([tf.zeros_like(extra), extra], axis=1)], axis=0))

    return tf.concat([pad(first), pad(second)], axis=0)


def prepare_model(model, strategy, dataset):
    """Make a compiled model's `fit` on `dataset` work under `strategy`.

    Needed only for `MultiWorkerMirroredStrategy`, where Keras 3 (up to at
    least 3.15) fails in two places (tensorflow/tensorflow#72388):

    - at the start of `fit` it all-reduces the first `(x, y)` batch to infer
      shapes, but that strategy's `reduce` does not accept a tuple (and the
      workers' dynamically padded batches differ in shape anyway). Metrics,
      loss and optimizer state are built here from a stand-in batch instead
      (see `stand_in_batch`), inside the scope, and that step is skipped;
    - it averages each step's logs across workers along axis 0, which scalar
      logs do not have. `train_step` and `test_step` return them as
      one-element vectors, which that average turns back into scalars.

    Args:
        model: a compiled classifier.
        strategy: the `tf.distribute.Strategy` it was built under.
        dataset: the `tf.data.Dataset` of `(token ids, targets)` batches it
            will train on, as built (before `prepare_datasets`, which
            leaves the targets' width unknown).
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _check_private_trainer_api(model)
    with strategy.scope():
        model._symbolic_build(data_batch=stand_in_batch(dataset))
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    model.train_step = _logs_as_vectors(model.train_step)
    model.test_step = _logs_as_vectors(model.test_step)


def stand_in_batch(dataset, length=8):
    """One all-zero row shaped and typed like the batches of `dataset`.

    Keras builds the loss and metrics from it, and they fail on targets of
    the wrong shape or dtype: multi-label targets are multi-hot floats
    `(batch, labels)` (`F1Score` wants them 2-D), a teacher's soft targets
    are probabilities `(batch, classes)`, or `(batch, 1)` for a binary
    sigmoid (`CategoricalCrossentropy` wants the prediction's rank; binary
    accuracy compares them with 0.5, a float). A fixed guess of integer
    class ids `(batch,)` broke multi-worker training with either. So the
    shapes and dtypes come from the dataset's `element_spec` itself.

    Args:
        dataset: a `tf.data.Dataset` of batches (a tensor or a structure of
            tensors, the batch first).
        length: int, the size given to the dimensions the spec leaves
            unknown beyond the batch (the padded text length); 8 is the
            shortest that `make_token_dataset` pads to.

    Returns:
        The structure of `dataset.element_spec` with a NumPy array of zeros
        of one row in place of each spec.

    Example:

    >>> dataset = tf.data.Dataset.from_tensors((tf.ones([4, 16], "int32"), tf.ones([4, 3])))
    >>> ids, targets = stand_in_batch(dataset.unbatch().batch(2))
    >>> ids.shape, ids.dtype, targets.shape, targets.dtype
    ((1, 16), dtype('int32'), (1, 3), dtype('float32'))
    """
    def zeros(spec):
        shape = [1, *(length if dim is None else dim for dim in spec.shape[1:])]
        return np.zeros(shape, spec.dtype.as_numpy_dtype)

    return tf.nest.map_structure(zeros, dataset.element_spec)


# The work-around above replaces two private methods of Keras' TensorFlow
# trainer. It was written for, and tested with, Keras 3.7 to 3.15; a Keras
# that renames them gets a clear error instead of a silently broken `fit`.
_PRIVATE_TRAINER_METHODS = ("_symbolic_build", "_maybe_symbolic_build")
_TESTED_KERAS = "3.7 to 3.15"


def _check_private_trainer_api(model):
    missing = [name for name in _PRIVATE_TRAINER_METHODS if not callable(getattr(model, name, None))]
    if missing:
        raise RuntimeError(
            f"The multi-worker strategy needs Keras' private trainer methods {', '.join(missing)}, "
            f"which Keras {keras.__version__} does not have. transformer_kit's multi-worker "
            f"support was written for Keras {_TESTED_KERAS}: install a Keras in that range, or "
            "use --strategy mirrored (one machine) instead."
        )


def _logs_as_vectors(step):
    def step_with_vector_logs(data):
        return {name: tf.reshape(value, [1]) for name, value in step(data).items()}

    return step_with_vector_logs
