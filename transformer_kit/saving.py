"""The run directory: what `TextClassifier.save` writes and `load` reads.

Format 2 (transformer_kit 0.2):

    model.keras            the inference model (strings -> probabilities), preprocessor included
    labels.json            class names, in column order
    config.json            the estimator's parameters, the resolved configuration, versions;
                           multi-label runs add `multi_label`, `label_separator`, `thresholds`
    history.csv            one row per transformer and epoch
    metrics.json           validation/test metrics
    data_report.json/.txt  what the data looked like
    learning_curves.png, confusion_matrix.png
    manifest.json          written last: its presence marks the directory complete

The directory is assembled beside its final name and renamed into place
(`run_directory.atomic_directory`). Format 1 directories (transformer_kit
0.1) are refused with a message to retrain: their model is built of other
layers.
"""

import dataclasses
import json
import platform
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

import transformer_kit
from transformer_kit.config import configs_to_dict, dumps
from transformer_kit.data import LabelEncoder, format_data_report
from transformer_kit.data.label_sets import LabelSetEncoder
from transformer_kit.errors import RunDirectoryError
from transformer_kit.fitting import FitResult
from transformer_kit.inference import blend_weights_of, members_of, ngram_of, preprocessor_of
from transformer_kit.plots import plot_confusion_matrix, plot_learning_curves
from transformer_kit.run_directory import atomic_directory, read_manifest, write_manifest

FORMAT_VERSION = 2


@dataclasses.dataclass
class SavedRun(FitResult):
    """What a run directory holds: what `fit` learned, plus how it was configured.

    Attributes:
        params: the estimator parameters (`TextClassifier.get_params()`).
        record: the whole `config.json`.
    """

    params: dict = dataclasses.field(default_factory=dict)
    record: dict = dataclasses.field(default_factory=dict)


def run_record(classifier):
    """The `config.json` record of a fitted classifier (also the export's metadata core).

    Args:
        classifier: a fitted `TextClassifier`; only its public attributes
            are read.

    Returns:
        A JSON-serializable dict.
    """
    model = classifier.model_
    preprocessor, ngram = preprocessor_of(model), ngram_of(model)
    return {
        "format_version": FORMAT_VERSION,
        "params": classifier.get_params(),
        "config": configs_to_dict(classifier.model_config_, classifier.training_config_),
        "text_column": classifier.text_column,
        "label_column": classifier.label_column,
        "classes": list(classifier.classes_),
        "sequence_length": preprocessor.sequence_length,
        "split_mode": preprocessor.split_mode,
        "vocabulary_size": preprocessor.vocabulary_size,
        "ensemble_size": len(members_of(model)),
        "ngram": ngram is not None,
        "ngram_features": None if ngram is None else ngram.features,
        "blend_weights": blend_weights_of(model),
        "sources": classifier.sources_,
        "resumed": classifier.resumed_,
        "versions": library_versions(),
        **_multi_label_record(classifier),
    }


def _multi_label_record(classifier):
    """`multi_label`, `label_separator` and the `thresholds` (only for multi-label runs)."""
    thresholds = getattr(classifier, "thresholds_", None)
    if thresholds is None:
        return {}
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(classifier.classes_),))
    return {"multi_label": True, "label_separator": classifier.label_separator,
            "thresholds": [float(t) for t in thresholds]}


def save_run(classifier, run_dir, overwrite=False):
    """Write a fitted classifier's run directory, atomically.

    Args:
        classifier: a fitted `TextClassifier`.
        run_dir: directory to create.
        overwrite: replace an existing run directory.

    Returns:
        `pathlib.Path` of the run directory.
    """
    run_dir = Path(run_dir)
    with atomic_directory(run_dir, overwrite=overwrite) as staging:
        classifier.model_.save(staging / "model.keras")
        classifier.label_encoder_.to_json(staging / "labels.json")
        (staging / "config.json").write_text(dumps(run_record(classifier)))
        classifier.history_.to_csv(staging / "history.csv", index=False)
        (staging / "metrics.json").write_text(dumps(classifier.metrics_))
        (staging / "data_report.json").write_text(dumps(classifier.data_report_))
        (staging / "data_report.txt").write_text(format_data_report(classifier.data_report_) + "\n")
        if len(classifier.history_):
            plot_learning_curves(classifier.history_.to_dict("records"), staging / "learning_curves.png")
        scored = classifier.metrics_.get("test") or classifier.metrics_.get("validation")
        if scored and "confusion_matrix" in scored:  # single-label metrics
            plot_confusion_matrix(scored["confusion_matrix"], classifier.classes_, staging / "confusion_matrix.png")
        write_manifest(staging, {
            "kind": "transformer_kit run",
            "format_version": FORMAT_VERSION,
            "files": sorted(p.name for p in staging.iterdir()),
            "versions": library_versions(),
        })
    return run_dir


def load_run(run_dir):
    """Read a run directory written by `save_run`.

    The model is loaded with Keras `safe_mode` and everything else from JSON
    and CSV only: a run directory whose files were edited to contain code
    (e.g. a `Lambda` layer) is refused.

    Args:
        run_dir: the directory.

    Returns:
        A `SavedRun`.

    Raises:
        RunDirectoryError: incomplete, tampered with, or of another format.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        written_by = manifest.get("versions", {}).get("transformer_kit", "an unknown version")
        raise RunDirectoryError(
            f"{run_dir} was written by transformer_kit {written_by} (run-directory format {version}); "
            f"transformer_kit {transformer_kit.__version__} reads format {FORMAT_VERSION} only, whose model "
            "is built differently. Retrain it with this version (its settings and data sources are in "
            f"{run_dir / 'config.json'})."
        )
    record = read_json(run_dir / "config.json")
    if not isinstance(record.get("params"), dict):
        raise RunDirectoryError(f"{run_dir / 'config.json'} is not a valid run configuration (no 'params').")
    if record["params"].get("backbone"):
        from transformer_kit.backbones import require_keras_hub

        require_keras_hub()  # registers the KerasHub layers model.keras is made of
    try:
        model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    except Exception as error:  # Keras raises several types for unsafe or broken files
        raise RunDirectoryError(
            f"Could not load {run_dir / 'model.keras'} safely: {error}. transformer_kit only "
            "loads models made of its own and Keras' built-in layers; retrain the model "
            "rather than loading a file you do not trust."
        ) from error
    if len(members_of(model)) != record.get("ensemble_size"):
        raise RunDirectoryError(f"{run_dir}: model.keras and config.json disagree on the number of transformers.")
    history_path = run_dir / "history.csv"
    multi_label = bool(record.get("multi_label"))
    thresholds = record.get("thresholds") if multi_label else None
    if multi_label and (not isinstance(thresholds, list) or len(thresholds) != model.output_shape[-1]):
        raise RunDirectoryError(f"{run_dir / 'config.json'}: a multi-label run needs one threshold per label.")
    return SavedRun(
        model=model,
        label_encoder=(LabelSetEncoder if multi_label else LabelEncoder).from_json(run_dir / "labels.json"),
        history=pd.read_csv(history_path) if history_path.stat().st_size > 1 else pd.DataFrame(),
        metrics=read_json(run_dir / "metrics.json"),
        data_report=read_json(run_dir / "data_report.json"),
        sources=record.get("sources", {}),
        resumed=record.get("resumed", {}),
        thresholds=None if thresholds is None else np.asarray(thresholds, dtype=float),
        params=record["params"],
        record=record,
    )


def load_classifier(cls, run_dir, verbose=None):
    """`cls.load`: a `TextClassifier` (or subclass) restored from a run directory.

    Args:
        cls: the classifier class; built from the saved parameters.
        run_dir: a directory written by `save_run`.
        verbose: overrides the saved `verbose` if given.

    Returns:
        The fitted classifier, its configuration resolved again from its parameters.

    Raises:
        RunDirectoryError: as `load_run`, or the saved parameters are not a
            valid configuration.
    """
    saved = load_run(run_dir)
    classifier = cls(**{**saved.params, **({} if verbose is None else {"verbose": verbose})})
    try:
        classifier.model_config_, classifier.training_config_ = classifier._configs()
    except (TypeError, ValueError) as error:
        raise RunDirectoryError(f"{run_dir}/config.json is not a valid run configuration ({error}).") from error
    classifier._set_fitted(saved)
    return classifier


def read_json(path):
    """A JSON file of a run directory, or a `RunDirectoryError` that names it."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise RunDirectoryError(f"{path} is missing; the run directory is incomplete.") from error
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{path} is not valid JSON ({error}).") from error


def library_versions():
    """The versions recorded with every artifact."""
    return {
        "transformer_kit": transformer_kit.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": sys.platform,
    }
