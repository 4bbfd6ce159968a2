"""Baseline systems compared by the benchmark, all behind one small interface.

A system is a class constructed as ``System(language=..., seed=..., **options)`` with

- ``fit(train_texts, train_labels)``: trains from scratch on lists of strings;
- ``predict(texts) -> list[str]``: predicted class names, used for accuracy and macro-F1;
- ``inference_fn() -> callable``: what inference timing calls on a list of strings. It is
  ``predict`` unless the system serves through something else (``transformer_kit`` times
  its exported SavedModel);
- ``epochs``: passes over the training data, or ``None`` for a system that is not trained
  in epochs (training samples/s is then ``n_train / train time``).

Systems are named here and imported lazily, inside the child process that runs them, so a
system whose dependency is missing is reported as "not available: <reason>" in the results
instead of stopping the benchmark.

Extension point: to add a system, write a module in this folder with a ``BenchmarkSystem``
subclass and add one line to ``SYSTEMS`` below. ``transformer_kit`` and
``transformer_kit_single`` are already registered; they import the library and fail (and
are skipped, with the reason) until ``transformer_kit.TextClassifier`` exists.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

# name -> "module:Class", relative to this package.
SYSTEMS: dict[str, str] = {
    "tfidf_lr": "tfidf_lr:TfidfLogisticRegression",
    "fasttext": "fasttext_baseline:FastTextBaseline",
    "nbsvm": "nbsvm:NaiveBayesLogisticRegression",
    "keras_io": "keras_io_transformer:KerasIoTransformer",
    "kerashub": "kerashub_stack:KerasHubStack",
    "transformer_kit": "transformer_kit_system:TransformerKitSystem",
    "transformer_kit_single": "transformer_kit_system:TransformerKitSingleSystem",
    "transformer_kit_small": "transformer_kit_system:TransformerKitKerasIoSizeSystem",
    "transformer_kit_vectors": "transformer_kit_system:TransformerKitVectorsSystem",
    "transformer_kit_single_vectors": "transformer_kit_system:TransformerKitSingleVectorsSystem",
    "transformer_kit_self_trained": "transformer_kit_system:TransformerKitSelfTrainedSystem",
    "transformer_kit_unlabeled": "transformer_kit_system:TransformerKitUnlabeledSystem",
}

# The training-speed ratio column divides by this system's training samples/s.
REFERENCE_SYSTEM = "keras_io"


class BenchmarkSystem:
    """Base class: stores the language and seed; subclasses implement ``fit`` and ``predict``."""

    #: Human-readable name for the results table.
    display_name = "base"

    def __init__(self, language: str = "en", seed: int = 0):
        if language not in ("en", "zh"):
            raise ValueError(f"language must be 'en' or 'zh', got {language!r}.")
        self.language = language
        self.seed = seed
        self.epochs: int | None = None

    def fit(self, train_texts: Sequence[str], train_labels: Sequence[str]) -> None:
        raise NotImplementedError

    def predict(self, texts: Sequence[str]) -> list[str]:
        raise NotImplementedError

    def inference_fn(self) -> Callable[[Sequence[str]], object]:
        return self.predict

    def describe(self) -> dict:
        """Settings worth recording next to the numbers."""
        return {}


def load_system_class(name: str) -> type[BenchmarkSystem]:
    """Imports and returns the class registered as ``name``; ImportError if a dependency is missing."""
    if name not in SYSTEMS:
        raise KeyError(f"Unknown system {name!r}; choose from {sorted(SYSTEMS)}.")
    module_name, class_name = SYSTEMS[name].split(":")
    module = importlib.import_module(f"{__name__}.{module_name}")
    return getattr(module, class_name)
