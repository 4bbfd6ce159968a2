"""transformer_kit itself, timed the way users serve it: through the exported SavedModel.

This module imports ``transformer_kit.TextClassifier``; until the library has it, the import
fails and the harness reports the system as "not available: <reason>" instead of stopping.

Accuracy comes from ``TextClassifier.predict``. Inference timing goes through the exported
SavedModel's ``serving_default`` signature, which takes raw strings (``text``) and returns
``probabilities``, because that artifact is what the library ships.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import tensorflow as tf

from benchmarks.systems import BenchmarkSystem
from transformer_kit import TextClassifier


class TransformerKitSystem(BenchmarkSystem):
    """``TextClassifier(preset=...)`` fitted on the training split, served from its SavedModel.

    Args:
        language: "en" or "zh"; passed on only through the data (the library decides
            tokenization itself).
        seed: passed to ``TextClassifier``.
        preset: the library preset to benchmark ("default", "single" or "ensemble").
    """

    display_name = "transformer_kit"
    default_preset = "default"

    #: Settings on top of the preset (architecture sizes for like-for-like speed rows).
    overrides: dict = {}
    #: Rows that start from word vectors (benchmarks/unlabeled.py) refuse to run without them.
    needs_vectors = False
    #: Rows that self-train on unlabeled texts refuse to run without a corpus.
    needs_unlabeled = False

    def __init__(self, language: str = "en", seed: int = 0, preset: str | None = None,
                 word_vectors: str | None = None, unlabeled: str | None = None):
        super().__init__(language, seed)
        self.preset = preset if preset is not None else self.default_preset
        self.word_vectors = word_vectors
        self.unlabeled = Path(unlabeled) if unlabeled else None
        if self.needs_vectors and not word_vectors:
            raise ValueError(f"{self.display_name} needs word_vectors (pass it with --system-options).")
        if self.needs_unlabeled and not unlabeled:
            raise ValueError(f"{self.display_name} needs unlabeled (a corpus file; pass it with --system-options).")
        extra = {"word_vectors": word_vectors} if word_vectors else {}
        self.classifier = TextClassifier(preset=self.preset, seed=seed, verbose=0, **self.overrides, **extra)
        self._export_dir = tempfile.TemporaryDirectory(prefix="transformer_kit_bench_")
        self._signature = None

    def fit(self, train_texts: Sequence[str], train_labels: Sequence[str]) -> None:
        self.classifier.fit((list(train_texts), list(train_labels)), unlabeled=self.unlabeled)
        # Early stopping decides the number of epochs; ``history_`` has one row per
        # transformer and epoch, so its length is the number of passes over the data (each
        # over the training split less the library's validation hold-out).
        history = getattr(self.classifier, "history_", None)
        self.epochs = len(history) if history is not None and len(history) else None

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [str(label) for label in self.classifier.predict(list(texts))]

    def inference_fn(self) -> Callable[[Sequence[str]], object]:
        # export() writes TensorFlow Serving's layout, base/<version>/, and returns that folder.
        version_dir = self.classifier.export(self._export_dir.name + "/saved_model")
        self._signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        signature = self._signature

        def serve(batch: Sequence[str]):
            return signature(text=tf.constant(list(batch)))["probabilities"].numpy()

        return serve

    def describe(self) -> dict:
        from transformer_kit.inference import blend_weights_of

        training = self.classifier.training_config_
        vectors = self.classifier.data_report_.get("word_vectors")
        coverage = {"vector_coverage": vectors["share_of_vocabulary"]} if vectors else {}
        self_training = self.classifier.data_report_.get("self_training")
        if self_training:
            coverage["self_training"] = {key: self_training[key] for key in (
                "used", "unlabeled_texts", "log_loss_labels_only", "log_loss_self_trained")}
        return {"preset": self.preset, "batch_size": training.batch_size, "learning_rate": training.learning_rate,
                "blend_weights": [round(w, 4) for w in blend_weights_of(self.classifier.model_)],
                **coverage, **self.overrides}


class TransformerKitSingleSystem(TransformerKitSystem):
    """The single-model preset (no seed ensemble, no n-gram fusion), for a like-for-like speed
    comparison with the other single transformers."""

    display_name = "transformer_kit (single)"
    default_preset = "single"


class TransformerKitKerasIoSizeSystem(TransformerKitSystem):
    """The single-model preset at the keras.io example's size (embed 32, 2 heads, feed-forward
    32; vocabulary 20k as both use): the equal-size training-speed comparison with keras.io."""

    display_name = "transformer_kit (single, keras.io size)"
    default_preset = "single"
    overrides = {"embed_dim": 32, "num_heads": 2, "ff_dim": 32}


class TransformerKitVectorsSystem(TransformerKitSystem):
    """The default preset, every transformer starting from word vectors (``word_vectors=``)."""

    display_name = "transformer_kit + vectors"
    needs_vectors = True


class TransformerKitSingleVectorsSystem(TransformerKitSystem):
    """The single transformer starting from word vectors."""

    display_name = "transformer_kit (single) + vectors"
    default_preset = "single"
    needs_vectors = True


class TransformerKitSelfTrainedSystem(TransformerKitSystem):
    """The default preset, its n-gram model self-trained on unlabeled texts (``fit(unlabeled=...)``)."""

    display_name = "transformer_kit + self-training"
    needs_unlabeled = True


class TransformerKitUnlabeledSystem(TransformerKitSystem):
    """What ``train --unlabeled`` does: word vectors learned on the unlabeled texts start every
    transformer, and the n-gram model is self-trained on the same texts."""

    display_name = "transformer_kit + vectors + self-training"
    needs_vectors = True
    needs_unlabeled = True
