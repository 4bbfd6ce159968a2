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


def prepare_model(model, strategy):
    """Make a compiled model's `fit` work under `strategy`.

    Needed only for `MultiWorkerMirroredStrategy`, where Keras 3 (up to at
    least 3.15) fails in two places (tensorflow/tensorflow#72388):

    - at the start of `fit` it all-reduces the first `(x, y)` batch to infer
      shapes, but that strategy's `reduce` does not accept a tuple (and the
      workers' dynamically padded batches differ in shape anyway). Metrics,
      loss and optimizer state are built here from a stand-in batch instead,
      inside the scope, and that step is skipped;
    - it averages each step's logs across workers along axis 0, which scalar
      logs do not have. `train_step` and `test_step` return them as
      one-element vectors, which that average turns back into scalars.

    Args:
        model: a compiled classifier taking int token ids `(batch, length)`
            and integer labels `(batch,)`.
        strategy: the `tf.distribute.Strategy` it was built under.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _check_private_trainer_api(model)
    stand_in = (np.zeros((1, 8), "int32"), np.zeros((1,), "int32"))
    with strategy.scope():
        model._symbolic_build(data_batch=stand_in)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    model.train_step = _logs_as_vectors(model.train_step)
    model.test_step = _logs_as_vectors(model.test_step)


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
