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

import importlib
import json
import keyword
import logging
import re
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from transformer_kit import config as config_lib
from transformer_kit.config import EXPLAIN_STEPS
from transformer_kit.data.formats import TEXT_COLUMN_SEPARATOR, join_text_columns, text_columns
from transformer_kit.data.loading import as_text_list
from transformer_kit.errors import RunDirectoryError
from transformer_kit.explanations import TextExplainer, explain_in_batches, explanation_outputs
from transformer_kit.inference import LengthSortedScorer, members_of, preprocessor_of, without_unused_parts
from transformer_kit.layers.probability_blend import as_class_probabilities
from transformer_kit.piece_explanations import is_backbone_preprocessor
from transformer_kit.run_directory import atomic_directory
from transformer_kit.saving import run_record

SERVING_SIGNATURE = "serving_default"
TOKEN_IDS_SIGNATURE = "serving_token_ids"
COLUMNS_SIGNATURE = "serving_columns"
# Signature input names TensorFlow keeps as they are: it renames others ("body-text" -> "body_text",
# "9z" -> "arg_9z"), refuses Python keywords and names equal but for case. See `serving_input_names`.
_INPUT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
EXPLAIN_SIGNATURE = "explain"
METADATA_PATH = Path("assets.extra") / "transformer_kit.json"
log = logging.getLogger(__name__)
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

# Multi-label classifiers (`TextClassifier(multi_label=True)`) serve these instead.
MULTI_LABEL_OUTPUTS = {
    "probabilities": "float32 [batch, num_labels]: one independent probability per label, in `classes` order.",
    "labels": "string [batch]: the labels whose probability reaches their threshold (`thresholds`), in "
    "`classes` order, joined with `label_separator`; \"\" when none does.",
    "decisions": "int32 [batch, num_labels]: 1 where a label is chosen, else 0.",
}


def export_saved_model(classifier, out_dir, version=None, overwrite=False, explain_steps=EXPLAIN_STEPS):
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
      (`classifier.model_`), the same model `predict_proba` runs, without
      the parts of blend weight 0 (`without_unused_parts`: a default whose
      held-out texts gave the n-gram branch weight 1.0 serves at the n-gram
      regression's cost).
    - `serving_token_ids`: input `token_ids` (int64 `[batch, length]`,
      0 = padding), same outputs, computed from the transformers only (their
      plain average): the n-gram regression needs the raw text. Ids beyond
      `sequence_length` are dropped, unknown ids count as `[UNK]`.
    - `serving_columns`, only for a classifier trained on several text
      columns (`text_column=["title", "body"]`): one string `[batch]` input
      per column, joined in the graph with `TEXT_COLUMN_SEPARATOR` (a line
      break) exactly as training joined them (send `""` for a missing
      cell), then the same outputs as `serving_default`. An input is named
      after its column, made a name TensorFlow accepts where it is not
      (`"body text"` -> `"body_text"`, see `serving_input_names`); the
      metadata maps each column to its input. `serving_default` takes the joined text;
      the metadata's `text_columns` and `text_separator` say how to join.
    - `explain` (single-label classifiers): input `text`, outputs `tokens`
      (string `[batch, length]`), `attributions` (float32
      `[batch, length]`), `label` (string `[batch]`, the predicted class,
      which is the one explained), `label_id`, `probabilities`,
      `baseline_probability` and `transformer_tokens`: the function
      `TextClassifier.explain` runs (`TextExplainer` with `explain_steps`
      integration points and the zeros baseline). With a pretrained
      backbone, `tokens` are the tokenizer's pieces with the backbones'
      part, and the n-gram part comes per word as `words` and
      `word_attributions` (`ExportedPredictor.explain` moves it onto the
      pieces by characters; see `transformer_kit.piece_explanations`).

    A multi-label classifier's signatures output `probabilities` (float32
    `[batch, num_labels]`), `labels` (string `[batch]`: the chosen labels
    joined with the classifier's `label_separator`, `""` for none) and
    `decisions` (int32 `[batch, num_labels]`, 0/1); the thresholds are
    constants in the graph and listed in the metadata (`thresholds`).

    Args:
        classifier: a fitted `TextClassifier` (after `fit` or `load`).
        out_dir: the model's base directory (holding numbered versions).
        version: positive int, or `None` (default) for one more than the
            highest numbered version already in `out_dir` (1 if none).
        overwrite: bool, default `False`. Replace an existing version
            directory; otherwise an existing one raises `RunDirectoryError`.
        explain_steps: int, default 8. Integration points of the `explain`
            signature: its cost grows with them (fewer serve faster, with a
            larger completeness gap; see `TextClassifier.explain`).

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

    thresholds = getattr(classifier, "thresholds_", None)
    if thresholds is not None:  # a single float assigned by hand applies to every label
        thresholds = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(classifier.classes_),))
    archive = build_archive(classifier.model_, list(classifier.classes_), text_columns(classifier.text_column),
                            thresholds, getattr(classifier, "label_separator", "|"), explain_steps)
    with atomic_directory(version_dir, overwrite=overwrite, kind="SavedModel version") as staging:
        archive.write_out(str(staging), verbose=False)
        metadata_file = staging / METADATA_PATH
        metadata_file.parent.mkdir(parents=True, exist_ok=True)
        metadata_file.write_text(config_lib.dumps(_metadata(classifier, version, explain_steps)))
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
    for module in metadata.get("load_requires", []):  # e.g. tensorflow_text: a backbone tokenizer's ops
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise RunDirectoryError(
                f"{version_dir} needs the Python package {module!r} to load (its tokenizer's TensorFlow ops); "
                f"install it (pip install {module.replace('_', '-')}) ({error})."
            ) from None
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
        text_column: the text column name used in training (a list when
            several columns were joined).
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
        self.thresholds = self.metadata.get("thresholds")  # multi-label exports only
        self.label_separator = self.metadata.get("label_separator")

    def predict_proba(self, texts, batch_size=256):
        """Class probabilities, one column per class, rows in input order.

        Args:
            texts: sequence of str, or a DataFrame with the training text
                column(s), joined as in training.
            batch_size: int, default 256.

        Returns:
            `pandas.DataFrame` `(len(texts), num_classes)`, columns `classes`.
        """
        if isinstance(texts, pd.DataFrame):
            columns = self.metadata.get("text_columns", text_columns(self.text_column))
            texts = join_text_columns(texts, columns, as_text_list)[0]
        # Similar lengths share a batch, so the served model pads little.
        scorer = LengthSortedScorer(lambda text: self._serve(text=text)["probabilities"], batch_size)
        return pd.DataFrame(scorer(texts), columns=self.classes)

    def predict(self, texts, batch_size=256):
        """Predicted class names, as a numpy array (dtype object); multi-label: a list of label tuples."""
        probabilities = self.predict_proba(texts, batch_size).to_numpy()
        if self.thresholds is not None:
            chosen = probabilities >= np.asarray(self.thresholds, dtype=probabilities.dtype)
            return [tuple(self.classes[i] for i in np.flatnonzero(row)) for row in chosen]
        return np.asarray(self.classes, dtype=object)[probabilities.argmax(axis=1)]

    def explain(self, texts, batch_size=64):
        """Explain each predicted class with the `explain` signature (see `TextClassifier.explain`).

        Returns:
            `transformer_kit.explanation_results.Explanations`.
        """
        if self._explain is None and self.thresholds is not None:
            raise RunDirectoryError(
                f"{self.metadata['path']} is a multi-label classifier, which cannot be explained yet."
            )
        if self._explain is None:
            raise RunDirectoryError(
                f"{self.metadata['path']} has no explain signature (exported before transformer_kit could "
                "explain); export the run again with `transformer-kit export`."
            )
        names = set(explanation_outputs(pieces=True))  # not "label": the class names come from the metadata
        return explain_in_batches(
            lambda text, rows: {k: v for k, v in self._explain(text=text).items() if k in names},
            as_text_list(texts), self.classes, batch_size,
        )


def load_exported_predictor(path):
    """An `ExportedPredictor` for `path` (an export or one of its versions)."""
    return ExportedPredictor(path)


# ------------------------------------------------------------------ graph


def build_archive(model, classes, columns=None, thresholds=None, label_separator="|", explain_steps=EXPLAIN_STEPS):
    """A `keras.export.ExportArchive` of an inference model with its serving signatures.

    Args:
        model: the inference model (`TextClassifier.model_`).
        classes: list of class names, in column order.
        columns: list of the text columns joined in training, or `None`;
            with several, the `serving_columns` signature is added, its
            inputs named by `serving_input_names`.
        thresholds: `None` (single-label), or the multi-label decision
            threshold of each label (float array `(num_labels,)`).
        label_separator: str joining the chosen labels (multi-label).
        explain_steps: int, integration points of the `explain` signature.

    Returns:
        The archive, ready for `write_out`.
    """
    preprocessor = preprocessor_of(model)
    members = members_of(model)
    sequence_length, vocabulary_size = preprocessor.sequence_length, preprocessor.vocabulary_size
    class_names = tf.constant(list(classes), dtype=tf.string)

    def with_label_sets(probabilities):
        decisions = probabilities >= tf.constant(np.asarray(thresholds, dtype="float32"))
        names = tf.broadcast_to(class_names, tf.shape(probabilities))
        chosen = tf.ragged.boolean_mask(names, decisions)
        return {
            "probabilities": tf.identity(probabilities, name="probabilities"),
            "labels": tf.strings.reduce_join(chosen, axis=-1, separator=label_separator),
            "decisions": tf.cast(decisions, tf.int32),
        }

    def with_labels(probabilities):
        if thresholds is not None:
            return with_label_sets(probabilities)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {
            "probabilities": tf.identity(probabilities, name="probabilities"),
            "label": tf.gather(class_names, label_id),
            "label_id": label_id,
            "score": tf.reduce_max(probabilities, axis=-1),
        }

    served = without_unused_parts(model)  # parts of blend weight 0 are not computed

    def serve_text(text):
        return with_labels(served(text, training=False))

    def serve_token_ids(token_ids):
        token_ids = tf.cast(token_ids[:, :sequence_length], "int32")
        known = (token_ids >= 0) & (token_ids < vocabulary_size)
        token_ids = tf.where(known, token_ids, tf.constant(_UNKNOWN_ID, "int32"))
        parts = [as_class_probabilities(member(token_ids, training=False)) for member in members]
        return with_labels(tf.add_n(parts) / float(len(parts)))

    # Explanations are of one predicted class: label sets get no explain signature.
    explainer = TextExplainer(model, steps=explain_steps) if thresholds is None else None

    archive = keras.export.ExportArchive()
    # Tracking the model puts its variables and lookup tables (the
    # vocabularies) into the SavedModel; the endpoints only reference them.
    for resource in explainer.tracked() if explainer is not None else [model]:
        archive.track(resource)
    archive.add_endpoint(
        SERVING_SIGNATURE, serve_text, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
    )
    archive.add_endpoint(
        TOKEN_IDS_SIGNATURE,
        serve_token_ids,
        input_signature=[tf.TensorSpec([None, None], tf.int64, name="token_ids")],
    )
    if _serves_columns(columns):

        def serve_columns(*cells):
            return serve_text(tf.strings.join(list(cells), separator=TEXT_COLUMN_SEPARATOR))

        archive.add_endpoint(
            COLUMNS_SIGNATURE,
            serve_columns,
            input_signature=[tf.TensorSpec([None], tf.string, name=name) for name in serving_input_names(columns)],
        )
    if explainer is not None:

        def explain(text):
            outputs = explainer.function(text, tf.fill(tf.shape(text), -1))  # -1: the predicted class
            return {**outputs, "label": tf.gather(class_names, outputs["label_id"])}

        archive.add_endpoint(
            EXPLAIN_SIGNATURE, explain, input_signature=[tf.TensorSpec([None], tf.string, name="text")]
        )
    # A backbone tokenizer's TensorFlow resources (SentencePiece's model), attached to the object that
    # is saved: Keras before 3.15 does not reach them through the model, and `track` saves only layers.
    for index, resource in enumerate(getattr(preprocessor, "tracked_resources", list)()):
        setattr(archive._tf_trackable, f"tokenizer_resource_{index}", resource)
    return archive


def load_requires(model):
    """Python modules to import before `tf.saved_model.load` of `model`'s export (a backbone's tokenizer ops)."""
    return list(getattr(preprocessor_of(model), "load_requires", ()))


def _serves_columns(columns):
    return bool(columns) and len(columns) > 1


def serving_input_names(columns):
    """The `serving_columns` input name of each text column.

    A column's own name where TensorFlow keeps it as an input name (ASCII
    letters, digits and `_`, starting with a letter, not a Python keyword);
    otherwise the name with every other character replaced by `_` (leading
    and trailing ones dropped), `column_<position>` when nothing of it is
    left, `column_` before a leading digit and `_` after a keyword. A name
    equal to an earlier one but for case gets `_<position>`.

    Args:
        columns: list of str, the text columns in training order.

    Returns:
        list of str, one unique input name per column, in the same order.

    Example:

    >>> serving_input_names(["title", "body text", "标题", "2nd", "class", "Title"])
    ['title', 'body_text', 'column_3', 'column_2nd', 'class_', 'Title_6']
    """
    names, taken = [], set()
    for position, column in enumerate(columns, start=1):
        name = column if _INPUT_NAME.match(column) and not keyword.iskeyword(column) else (
            re.sub(r"[^A-Za-z0-9_]", "_", column).strip("_"))
        if not re.search(r"[A-Za-z0-9]", name):
            name = f"column_{position}"
        elif not name[0].isalpha():
            name = f"column_{name}"
        if keyword.iskeyword(name):
            name += "_"
        while name.lower() in taken:
            name = f"{name}_{position}"
        taken.add(name.lower())
        names.append(name)
    return names


# --------------------------------------------------------------- metadata


def _metadata(classifier, version, explain_steps=EXPLAIN_STEPS):
    record = run_record(classifier)
    outputs = MULTI_LABEL_OUTPUTS if record.get("multi_label") else OUTPUTS
    metadata = {
        **{key: record[key] for key in (
            "classes", "sequence_length", "vocabulary_size", "split_mode", "text_column", "label_column",
            "ensemble_size", "ngram", "ngram_features", "blend_weights", "config", "params", "versions",
        )},
        **{key: record[key] for key in ("multi_label", "label_separator", "thresholds") if key in record},
        # How a row becomes the served `text`: these columns, joined by this separator
        # (transformer_kit.data.formats.join_text_columns; a missing cell is empty).
        "text_columns": text_columns(classifier.text_column),
        "text_separator": TEXT_COLUMN_SEPARATOR,
        "kind": "transformer_kit SavedModel",
        "format_version": FORMAT_VERSION,
        "version": version,
        "signatures": {
            SERVING_SIGNATURE: {
                "inputs": {"text": "string [batch]: raw texts."},
                "outputs": outputs,
                "computes": "the classifier's inference model, as predict_proba",
            },
            TOKEN_IDS_SIGNATURE: {
                "inputs": {
                    "token_ids": "int64 [batch, length]: ids of the exported vocabulary, 0 = padding; "
                    "ids past sequence_length are dropped, unknown ids count as [UNK]."
                },
                "outputs": outputs,
                "computes": "the plain average of the transformers only (the n-gram model needs raw text)",
            },
        },
        "metrics": classifier.metrics_,
    }
    required = load_requires(classifier.model_)
    if required:
        # tensorflow-text registers the tokenizer's ops: import it, then tf.saved_model.load.
        metadata["load_requires"] = required
        metadata["backbone"] = classifier.training_config_.backbone
    if not record.get("multi_label"):  # as build_archive
        pieces = is_backbone_preprocessor(preprocessor_of(classifier.model_))
        metadata["signatures"][EXPLAIN_SIGNATURE] = {
            "inputs": {"text": "string [batch]: raw texts."},
            "outputs": {**explanation_outputs(pieces), "label": OUTPUTS["label"]},
            "computes": "TextClassifier.explain: integrated gradients of the transformers and the "
            "n-gram model's linear contributions, blended; attributions sum to probability(label) "
            "minus baseline_probability" + (
                "; with a backbone, attributions per piece plus word_attributions moved onto the pieces "
                "overlapping each word's characters (transformer_kit.piece_explanations.combine)" if pieces else ""),
            "steps": explain_steps,
            "baseline": "zeros",
        }
    columns = text_columns(classifier.text_column)
    if _serves_columns(columns):
        names = serving_input_names(columns)
        renamed = {column: name for column, name in zip(columns, names) if column != name}
        if renamed:
            log.info("serving_columns: %s (TensorFlow input names are letters, digits and _)",
                     ", ".join(f"column {column!r} is input {name!r}" for column, name in renamed.items()))
        metadata["signatures"][COLUMNS_SIGNATURE] = {
            "inputs": {name: f"string [batch]: the cells of column {column!r} ('' when missing)."
                       for column, name in zip(columns, names)},
            "input_of_column": dict(zip(columns, names)),
            "outputs": outputs,
            "computes": f"the columns joined with {TEXT_COLUMN_SEPARATOR!r}, then serving_default",
        }
    return metadata


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
