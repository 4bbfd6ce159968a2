"""Export a fitted `TextClassifier` as a SavedModel that serves raw strings.

The SavedModel needs only TensorFlow to run: the tokenizer (standardization,
vocabulary lookup), the transformers, the n-gram TF-IDF regression and the
blend are all inside the graph, so `tf.saved_model.load`, `saved_model_cli`
and TensorFlow Serving can use it without transformer_kit installed.

Layout, as TensorFlow Serving expects (a base directory of numbered versions):

    OUT_DIR/
      1/
        saved_model.pb
        variables/
        assets/
        assets.extra/transformer_kit.json   <- metadata (classes, versions...)
      2/
        ...

`assets.extra/` is the conventional place for files that travel with a
SavedModel but that TensorFlow does not read (TF Serving looks there only for
its optional warm-up requests), so the metadata never confuses a loader.

Example:

>>> import tempfile
>>> from transformer_kit import TextClassifier
>>> clf = TextClassifier(ensemble_size=1, epochs=1, embed_dim=16, num_heads=2, verbose=0)
>>> clf = clf.fit(["win a free prize", "see you at lunch"] * 20, ["spam", "ham"] * 20)
>>> out_dir = tempfile.mkdtemp() + "/spam"
>>> export_saved_model(clf, out_dir).name
'1'
>>> loaded, metadata = load_exported(out_dir)
>>> outputs = loaded.signatures["serving_default"](text=tf.constant(["win a prize now"]))
>>> metadata["classes"], outputs["label"].numpy().tolist()
(['ham', 'spam'], [b'spam'])
>>> load_exported_predictor(out_dir).predict(["lunch?", "free prize"]).tolist()
['ham', 'spam']
"""

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from transformer_kit import config as config_lib
from transformer_kit.data.loading import as_text_list
from transformer_kit.errors import RunDirectoryError
from transformer_kit.explanations import TextExplainer, explain_in_batches, explanation_outputs
from transformer_kit.inference import LengthSortedScorer, members_of, preprocessor_of
from transformer_kit.layers.probability_blend import as_class_probabilities
from transformer_kit.run_directory import atomic_directory
from transformer_kit.saving import run_record

SERVING_SIGNATURE = "serving_default"
TOKEN_IDS_SIGNATURE = "serving_token_ids"
EXPLAIN_SIGNATURE = "explain"
METADATA_PATH = Path("assets.extra") / "transformer_kit.json"
FORMAT_VERSION = 2
# Served ids outside the vocabulary become this id ("[UNK]") instead of
# failing an embedding lookup in the middle of a request.
_UNKNOWN_ID = 1

OUTPUTS = {
    "probabilities": "float32 [batch, num_classes]: one column per class, in `classes` order "
    "(two columns for a binary classifier); rows sum to 1.",
    "label": "string [batch]: the class name with the highest probability.",
    "label_id": "int64 [batch]: its column index in `probabilities` / `classes`.",
    "score": "float32 [batch]: its probability.",
}


def export_saved_model(classifier, out_dir, version=None, overwrite=False):
    """Write a fitted classifier as a SavedModel version that serves raw text.

    The version directory `out_dir/<version>/` is written beside its final
    place and renamed into it when complete, so TensorFlow Serving (which
    watches `out_dir` for new numbered directories) never loads a half-written
    model.

    Signatures:

    - `serving_default`: input `text` (string `[batch]`), outputs
      `probabilities` (float32 `[batch, num_classes]`), `label` (string
      `[batch]`), `label_id` (int64 `[batch]`) and `score` (float32 `[batch]`,
      the probability of `label`). It runs the classifier's inference model
      (`classifier.model_`), the same model `predict_proba` runs.
    - `serving_token_ids`: input `token_ids` (int64 `[batch, length]`,
      0 = padding), same outputs, computed from the transformers only (their
      plain average): the n-gram regression needs the raw text. Ids beyond
      `sequence_length` are dropped, unknown ids count as `[UNK]`.
    - `explain`: input `text`, outputs `tokens` (string `[batch, length]`),
      `attributions` (float32 `[batch, length]`), `label` (string `[batch]`,
      the predicted class, which is the one explained), `label_id`,
      `probabilities`, `baseline_probability` and `transformer_tokens`: the
      function `TextClassifier.explain` runs (`TextExplainer`, default steps
      and baseline).

    Args:
        classifier: a fitted `TextClassifier` (after `fit` or `load`).
        out_dir: the model's base directory (holding numbered versions).
        version: positive int, or `None` (default) for one more than the
            highest numbered version already in `out_dir` (1 if none).
        overwrite: bool, default `False`. Replace an existing version
            directory; otherwise an existing one raises `RunDirectoryError`.

    Returns:
        `pathlib.Path` of the version directory written.

    Example (run in the module docstring):

        export_saved_model(TextClassifier.load("runs/spam"), "exports/spam")   # exports/spam/1
    """
    if getattr(classifier, "model_", None) is None:
        raise RuntimeError("This TextClassifier is not fitted yet: call fit() or TextClassifier.load() first.")
    out_dir = Path(out_dir)
    version = _next_version(out_dir) if version is None else _check_version(version)
    version_dir = out_dir / str(version)

    archive = build_archive(classifier.model_, list(classifier.classes_))
    with atomic_directory(version_dir, overwrite=overwrite, kind="SavedModel version") as staging:
        archive.write_out(str(staging), verbose=False)
        metadata_file = staging / METADATA_PATH
        metadata_file.parent.mkdir(parents=True, exist_ok=True)
        metadata_file.write_text(config_lib.dumps(_metadata(classifier, version)))
    return version_dir


def load_exported(path):
    """Load an exported model with TensorFlow alone, plus its metadata.

    Args:
        path: a version directory (`out_dir/3`), or the base directory
            `out_dir`, in which case the highest numbered complete version is
            loaded, as TensorFlow Serving would.

    Returns:
        `(loaded, metadata)`: the object from `tf.saved_model.load` (call
        `loaded.signatures["serving_default"](text=...)`) and the dict stored
        in `assets.extra/transformer_kit.json`; `metadata["path"]` is the
        version directory loaded.

    Example (run in the module docstring):

        loaded, metadata = load_exported("exports/spam")
        loaded.signatures["serving_default"](text=tf.constant(["hi"]))["label"]
    """
    version_dir = _resolve_version_dir(Path(path))
    metadata_file = version_dir / METADATA_PATH
    try:
        metadata = json.loads(metadata_file.read_text())
    except FileNotFoundError as error:
        raise RunDirectoryError(
            f"{version_dir} is a SavedModel but not a transformer_kit export: {METADATA_PATH} "
            "is missing. Export it again with `transformer-kit export`."
        ) from error
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{metadata_file} is not valid JSON ({error}).") from error
    metadata["path"] = str(version_dir)
    return tf.saved_model.load(str(version_dir)), metadata


class ExportedPredictor:
    """Predict with an exported SavedModel the way `TextClassifier` does.

    What `transformer-kit predict` uses when given an export instead of a run
    directory. It runs only the `serving_default` signature, so its
    predictions are the served ones.

    Args:
        path: export base directory or version directory (see `load_exported`).

    Attributes:
        classes: list of str, the column order of `predict_proba`.
        text_column: the text column name used in training.
        metadata: dict, the export's `transformer_kit.json`.

    Example (run in the module docstring):

        predictor = load_exported_predictor("exports/spam")
        predictor.predict_proba(["WIN a prize", "lunch?"])   # columns ham, spam
    """

    def __init__(self, path):
        loaded, self.metadata = load_exported(path)
        # Keep the loaded object alive: the signature does not own its variables.
        self._loaded = loaded
        self._serve = loaded.signatures[SERVING_SIGNATURE]
        self._explain = loaded.signatures.get(EXPLAIN_SIGNATURE)
        self.classes = list(self.metadata["classes"])
        self.text_column = self.metadata.get("text_column", "text")

    def predict_proba(self, texts, batch_size=256):
        """Class probabilities, one column per class, rows in input order.

        Args:
            texts: sequence of str.
            batch_size: int, default 256.

        Returns:
            `pandas.DataFrame` `(len(texts), num_classes)`, columns `classes`.
        """
        # Similar lengths share a batch, so the served model pads little.
        scorer = LengthSortedScorer(lambda text: self._serve(text=text)["probabilities"], batch_size)
        return pd.DataFrame(scorer(texts), columns=self.classes)

    def predict(self, texts, batch_size=256):
        """Predicted class names, as a numpy array (dtype object)."""
        probabilities = self.predict_proba(texts, batch_size).to_numpy()
        return np.asarray(self.classes, dtype=object)[probabilities.argmax(axis=1)]

    def explain(self, texts, batch_size=64):
        """Explain each predicted class with the `explain` signature (see `TextClassifier.explain`).

        Returns:
            `transformer_kit.explanation_results.Explanations`.
        """
        if self._explain is None:
            raise RunDirectoryError(
                f"{self.metadata['path']} has no explain signature (exported before transformer_kit could "
                "explain); export the run again with `transformer-kit export`."
            )
        names = set(explanation_outputs())  # not "label": the class names come from the metadata
        return explain_in_batches(
            lambda text, rows: {k: v for k, v in self._explain(text=text).items() if k in names},
            as_text_list(texts), self.classes, batch_size,
        )


def load_exported_predictor(path):
    """An `ExportedPredictor` for `path` (an export or one of its versions)."""
    return ExportedPredictor(path)


# ------------------------------------------------------------------ graph


def build_archive(model, classes):
    """A `keras.export.ExportArchive` of an inference model with the two serving signatures.

    Args:
        model: the inference model (`TextClassifier.model_`).
        classes: list of class names, in column order.

    Returns:
        The archive, ready for `write_out`.
    """
    preprocessor = preprocessor_of(model)
    members = members_of(model)
    sequence_length, vocabulary_size = preprocessor.sequence_length, preprocessor.vocabulary_size
    class_names = tf.constant(list(classes), dtype=tf.string)

    def with_labels(probabilities):
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {
            "probabilities": tf.identity(probabilities, name="probabilities"),
            "label": tf.gather(class_names, label_id),
            "label_id": label_id,
            "score": tf.reduce_max(probabilities, axis=-1),
        }

    def serve_text(text):
        return with_labels(model(text, training=False))

    def serve_token_ids(token_ids):
        token_ids = tf.cast(token_ids[:, :sequence_length], "int32")
        known = (token_ids >= 0) & (token_ids < vocabulary_size)
        token_ids = tf.where(known, token_ids, tf.constant(_UNKNOWN_ID, "int32"))
        parts = [as_class_probabilities(member(token_ids, training=False)) for member in members]
        return with_labels(tf.add_n(parts) / float(len(parts)))

    explainer = TextExplainer(model)

    def explain(text):
        outputs = explainer.function(text, tf.fill(tf.shape(text), -1))  # -1: the predicted class
        return {**outputs, "label": tf.gather(class_names, outputs["label_id"])}

    archive = keras.export.ExportArchive()
    # Tracking the model puts its variables and lookup tables (the
    # vocabularies) into the SavedModel; the endpoints only reference them.
    for resource in explainer.tracked():
        archive.track(resource)
    archive.add_endpoint(
        SERVING_SIGNATURE, serve_text, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    archive.add_endpoint(
        TOKEN_IDS_SIGNATURE,
        serve_token_ids,
        input_signature=[tf.TensorSpec([None, None], tf.int64, name="token_ids")],
    )
    archive.add_endpoint(
        EXPLAIN_SIGNATURE, explain, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    return archive


# --------------------------------------------------------------- metadata


def _metadata(classifier, version):
    record = run_record(classifier)
    return {
        **{key: record[key] for key in (
            "classes", "sequence_length", "vocabulary_size", "split_mode", "text_column", "label_column",
            "ensemble_size", "ngram", "blend_weights", "config", "params", "versions",
        )},
        "kind": "transformer_kit SavedModel",
        "format_version": FORMAT_VERSION,
        "version": version,
        "signatures": {
            SERVING_SIGNATURE: {
                "inputs": {"text": "string [batch]: raw texts."},
                "outputs": OUTPUTS,
                "computes": "the classifier's inference model, as predict_proba",
            },
            TOKEN_IDS_SIGNATURE: {
                "inputs": {
                    "token_ids": "int64 [batch, length]: ids of the exported vocabulary, 0 = padding; "
                    "ids past sequence_length are dropped, unknown ids count as [UNK]."
                },
                "outputs": OUTPUTS,
                "computes": "the plain average of the transformers only (the n-gram model needs raw text)",
            },
            EXPLAIN_SIGNATURE: {
                "inputs": {"text": "string [batch]: raw texts."},
                "outputs": {**explanation_outputs(), "label": OUTPUTS["label"]},
                "computes": "TextClassifier.explain: integrated gradients of the transformers and the "
                "n-gram model's linear contributions, blended; attributions sum to probability(label) "
                "minus baseline_probability",
            },
        },
        "metrics": classifier.metrics_,
    }


# --------------------------------------------------------------- versions


def _numeric_versions(out_dir):
    if not out_dir.is_dir():
        return []
    return sorted(int(p.name) for p in out_dir.iterdir() if p.is_dir() and p.name.isdigit())


def _next_version(out_dir):
    versions = _numeric_versions(out_dir)
    return versions[-1] + 1 if versions else 1


def _check_version(version):
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        # TF Serving only loads directories named by a positive integer.
        raise ValueError(f"`version` must be a positive int (TF Serving's numbered directories); got {version!r}.")
    return version


def _resolve_version_dir(path):
    if not path.exists():
        raise RunDirectoryError(f"{path} does not exist. Pass an export directory or one of its numbered versions.")
    if (path / "saved_model.pb").is_file():
        return path
    versions = [v for v in _numeric_versions(path) if (path / str(v) / "saved_model.pb").is_file()]
    if not versions:
        raise RunDirectoryError(
            f"{path} holds no exported model: neither saved_model.pb nor numbered version "
            "directories with one. Create it with `transformer-kit export RUN_DIR OUT_DIR`."
        )
    return path / str(versions[-1])
