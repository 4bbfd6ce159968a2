"""The served model: the highest numbered version of an export, reloaded when a newer one appears.

Only TensorFlow reads the export (`tf.saved_model.load`, then its signatures),
as TensorFlow Serving would; transformer_kit's own metadata
(`assets.extra/transformer_kit.json`) is read when present, for the page.
"""

import importlib
import json
import logging
import threading
from pathlib import Path

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2

from transformer_kit.errors import RunDirectoryError

log = logging.getLogger(__name__)
METADATA_PATH = Path("assets.extra") / "transformer_kit.json"  # as transformer_kit.export writes it
# A SavedModel's own initialisation function, which TF Serving lists in no signature map.
_INIT_OP = "__saved_model_init_op"


class ServedVersion:
    """One loaded SavedModel version: its signatures, their specs and its metadata.

    Args:
        number: int, the version (the directory's name).
        path: `pathlib.Path` of the version directory.

    Attributes:
        inputs: signature name -> {input name: `tf.TensorSpec`}.
        mergeable: signature name -> bool, whether requests may share one call:
            `False` where an output has a size beyond the batch that depends on
            the batch (the `explain` tokens), so every answer stays what the
            model gives its own request.
        signature_defs: signature name -> the `SignatureDef` as TF Serving's
            metadata endpoint shows it (protobuf JSON).
        metadata: dict, transformer_kit's metadata, `{}` when absent.

    Example:

        version = ServedVersion(3, Path("exports/sst2/3"))
        version.call("serving_default", {"text": np.array([b"a fine film"], dtype=object)})
    """

    def __init__(self, number, path):
        self.number = number
        self.path = Path(path)
        metadata_file = self.path / METADATA_PATH
        self.metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
        # A KerasHub backbone's tokenizer ops (tensorflow_text) must be registered before loading.
        for module in self.metadata.get("load_requires", []):
            importlib.import_module(module)
        self._loaded = tf.saved_model.load(str(self.path))  # kept alive: signatures do not own variables
        self._functions = dict(self._loaded.signatures)
        self.inputs = {name: dict(fn.structured_input_signature[1]) for name, fn in self._functions.items()}
        self.mergeable = {
            name: all(None not in spec.shape.as_list()[1:] for spec in fn.structured_outputs.values())
            for name, fn in self._functions.items()
        }
        self.signature_defs = _signature_defs(self.path)

    def call(self, signature, inputs):
        """Run a signature on named numpy inputs; returns its outputs as numpy arrays."""
        function = self._functions[signature]
        tensors = {name: tf.constant(value, dtype=self.inputs[signature][name].dtype) for name, value in inputs.items()}
        return {name: value.numpy() for name, value in function(**tensors).items()}

    def warm_up(self):
        """Call each signature once on one empty row, so that a broken model fails here, not on a request."""
        for signature, specs in self.inputs.items():
            row = {name: np.zeros([1] + [1 if d is None else d for d in spec.shape.as_list()[1:]],
                                  dtype=object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype)
                   for name, spec in specs.items()}
            for name, spec in specs.items():
                if spec.dtype == tf.string:
                    row[name][...] = b""
            self.call(signature, row)


def _signature_defs(version_dir):
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((version_dir / "saved_model.pb").read_bytes())
    signature_defs = saved_model.meta_graphs[0].signature_def
    return {name: json_format.MessageToDict(signature_def, preserving_proto_field_name=True)
            for name, signature_def in signature_defs.items() if name != _INIT_OP}


def numbered_versions(base_dir):
    """The complete versions under `base_dir` (numbered directories holding saved_model.pb), ascending."""
    if not base_dir.is_dir():
        return []
    return sorted(int(p.name) for p in base_dir.iterdir()
                  if p.name.isdigit() and (p / "saved_model.pb").is_file())


class ModelRepository:
    """Serves the highest numbered version of an export and picks up newer ones without a restart.

    The export writes each version beside its place and renames it in when
    complete, so a version directory seen here is whole. A newer version is
    loaded (and warmed up) beside the one serving, then swapped in; one that
    fails to load is logged, remembered in `failed`, and the old one keeps
    serving.

    Args:
        path: the export's base directory (numbered versions), or one version
            directory, which is then served alone and never replaced.
        poll_s: float, seconds between looks for a new version.

    Example:

        repository = ModelRepository("exports/sst2")
        repository.current.number   # the highest version, e.g. 3
        repository.start_watching()
    """

    def __init__(self, path, poll_s=1.0):
        path = Path(path)
        if not path.exists():
            raise RunDirectoryError(f"{path} does not exist. Pass an export directory or one of its versions.")
        self.fixed = (path / "saved_model.pb").is_file()
        self.base_dir = path.parent if self.fixed else path
        self.poll_s = poll_s
        self.failed = {}  # version number -> error message
        self._stop = threading.Event()
        self._thread = None
        if self.fixed:
            number = int(path.name) if path.name.isdigit() else 1
            self.current = self._load(number, path)
            return
        versions = numbered_versions(path)
        if not versions:
            raise RunDirectoryError(
                f"{path} holds no exported model: no numbered version directory with a saved_model.pb. "
                "Create one with `transformer-kit export RUN_DIR OUT_DIR`."
            )
        self.current = None
        for number in reversed(versions):  # the highest version that loads
            try:
                self.current = self._load(number, path / str(number))
                break
            except Exception as error:  # noqa: BLE001 - any load failure: log it, try an older version
                self._remember_failure(number, error)
        if self.current is None:
            raise RunDirectoryError(f"{path}: no version could be loaded ({self.failed}).")

    def _load(self, number, path):
        version = ServedVersion(number, path)
        version.warm_up()
        log.info("Serving version %d of %s", number, self.base_dir)
        return version

    def _remember_failure(self, number, error):
        self.failed[number] = f"{type(error).__name__}: {error}".splitlines()[0][:500]
        log.error("Version %d of %s cannot be loaded; still serving the one before: %s",
                  number, self.base_dir, self.failed[number])

    def check_for_new_version(self):
        """Load and swap in a version newer than the one serving, if there is one. Returns True if swapped."""
        if self.fixed:
            return False
        newer = [v for v in numbered_versions(self.base_dir) if v > self.current.number and v not in self.failed]
        if not newer:
            return False
        number = newer[-1]
        try:
            self.current = self._load(number, self.base_dir / str(number))
        except Exception as error:  # noqa: BLE001 - keep serving the old version whatever went wrong
            self._remember_failure(number, error)
            return False
        return True

    def start_watching(self):
        """Look for new versions every `poll_s` seconds, in a daemon thread, until `stop_watching`."""
        if self.fixed or self._thread is not None:
            return

        def watch():
            while not self._stop.wait(self.poll_s):
                self.check_for_new_version()

        self._thread = threading.Thread(target=watch, name="version-watcher", daemon=True)
        self._thread.start()

    def stop_watching(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
