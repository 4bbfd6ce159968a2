"""Plain-data configuration of a training run, saved as JSON beside every artifact.

The dataclasses here are the one source of every default: the classifier, the
command line's help texts and the README's settings list all take their
values from them (`tests/test_config.py` checks the README). This module
imports neither TensorFlow nor Keras, so `transformer-kit --help` stays fast.
"""

import dataclasses
import json

from transformer_kit.checks import check_choice, check_positive_int, check_rate

SPLIT_MODES = ("auto", "word", "character")
SELF_TRAINING = ("auto", "always", "never")
# Names accepted by `transformer_kit.distribution.make_strategy`.
STRATEGIES = ("auto", "none", "mirrored", "multi-worker", "tpu")

# `ensemble_size="auto"`: averaging helps most on small data sets, and costs
# the most time on large ones.
AUTO_ENSEMBLE_SIZE = 3
AUTO_ENSEMBLE_MAX_TEXTS = 20000

# Integration points of the transformers' integrated gradients (explanations and
# the exported `explain` signature). On SST-2, TREC and ChnSentiCorp 4, 8 and 16
# points rank tokens alike (ERASER comprehensiveness equal to 3 decimals,
# benchmarks/RESULTS_explanations.md); 8 keeps the completeness gap near 1e-3
# at half the cost of 16.
EXPLAIN_STEPS = 8

# Fine-tuning a pretrained backbone (`backbone=`): its weights already encode
# language, and the scratch transformers' 2e-3 would wreck them in a few
# steps. 5e-5 with a linear warm-up over the first 10% of steps, then cosine
# decay, is the usual BERT fine-tuning recipe (Devlin et al., 2019: 2e-5 to
# 5e-5). These apply when a backbone is set and `learning_rate` is not.
BACKBONE_LEARNING_RATE = 5e-5
BACKBONE_WARMUP_FRACTION = 0.1

# Presets are named bundles of settings; explicit arguments override them.
# "default" averages a few transformers and blends in an in-graph TF-IDF
# logistic regression: on a few thousand short texts a single from-scratch
# transformer trails n-gram baselines by 1-3 points, and this closes the gap
# (see benchmarks/RESULTS.md). "single" is the plain one-transformer model.
PRESETS = {
    "default": {"ensemble_size": "auto", "ngram_weight": "auto"},
    "single": {"ensemble_size": 1, "ngram_weight": 0.0},
    "ensemble": {"ensemble_size": 3, "ngram_weight": 0.0},
}


@dataclasses.dataclass
class ModelConfig:
    """Architecture of each transformer; see `build_text_classifier` for meanings."""

    embed_dim: int = 64
    num_heads: int = 4
    ff_dim: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    pooling: str = "mean"
    activation: str = "gelu"
    norm_first: bool = False
    position_embedding: str = "learned"
    attention_dropout: float | None = 0.0


@dataclasses.dataclass
class TrainingConfig:
    """How the classifier is trained.

    Attributes:
        preset: name of the preset the run started from.
        epochs: maximum epochs per transformer; early stopping usually ends sooner.
        batch_size: texts per batch.
        learning_rate: peak AdamW learning rate (10% warmup, then cosine decay).
        weight_decay: decoupled weight decay (not on biases, norms, positions).
        patience: epochs without validation-loss improvement before stopping.
        validation_fraction: share of the training data held out per transformer
            when no validation data is given.
        class_weight: `None` or `"balanced"` (weights inversely proportional to
            class frequency, for imbalanced data).
        seed: makes runs repeatable; transformer `i` uses `seed + i`.
        ensemble_size: number of transformers averaged, or `"auto"` (3 below
            20,000 training texts, where averaging helps most, else 1).
        ngram_weight: weight of the TF-IDF logistic regression in the blend
            (0 disables it), or `"auto"`: chosen to minimize log-loss on
            held-out data the n-gram model did not see.
        ngram_max_tokens: n-gram vocabulary cap of that regression.
        ngram_min_df: keep only n-grams found in at least this many
            training texts.
        ngram_c: inverse L2 regularization strength of that regression.
        max_tokens: transformer vocabulary size, padding and OOV included.
        sequence_length: maximum tokens per text, or `None` to choose the 95th
            percentile of training lengths (multiple of 8, at most 512, and
            shorter for large corpora of long texts: see
            `choose_sequence_length`).
        split: `"auto"`, `"word"` or `"character"` (each CJK character a token).
        deterministic: enable TensorFlow op determinism for repeatable runs.
        streaming: `True` to read the training CSV in chunks instead of into
            memory (for files larger than memory; see
            `transformer_kit.data.streaming`), `False`, or `"auto"` (files
            over 1 GiB).
        strategy: `tf.distribute` strategy, see `make_strategy`: `"auto"`
            (mirrored over several GPUs, else none), `"none"`, `"mirrored"`,
            `"multi-worker"` or `"tpu"`. `batch_size` is the global batch.
        multi_label: `True` when a text may carry several labels (or none):
            one sigmoid per label with binary cross-entropy, the n-gram
            model one-vs-rest, and per-label decision thresholds (see
            `transformer_kit.thresholds`).
        threshold: multi-label decision threshold: `"auto"` (one per label,
            chosen on held-out data to maximize its F1) or a float in
            (0, 1) used for every label.
        word_vectors: `None`, or the path of word vectors (GloVe `.txt`,
            word2vec/fastText `.vec`, `.gz`, see `transformer_kit.vectors`)
            that start every transformer's token embeddings, fine-tuned
            from there.
        self_training: what the n-gram branch does with unlabeled texts
            passed to `fit(..., unlabeled=...)`: `"auto"` (refit on them,
            pseudo-labelled by the model fitted on the labels, and keep that
            only if it lowers the log-loss on held-out labelled texts, or
            under 500 labels out of fold in 5-fold cross-validation; see
            `transformer_kit.self_training`), `"always"` or `"never"`.
        pseudo_label_weight: the sample weight of each pseudo-labelled text
            in that refit (labelled texts weigh 1).
        backbone: `None`, or a KerasHub preset (a name, or a directory
            written by `save_to_preset`) whose tokenizer and pretrained
            weights replace the scratch transformers (see
            `transformer_kit.backbones`; needs the `hub` extra). Its learning
            rate defaults to `BACKBONE_LEARNING_RATE`.
        distill_temperature: with a teacher (`fit(..., teacher=...)`, see
            `transformer_kit.distillation`), the temperature applied to its
            probabilities: `p ** (1 / T)`, renormalised (per label for
            multi-label); above 1 the student learns more of which wrong
            classes the teacher finds likely, 1 leaves them as they are.
        true_label_weight: with a teacher, the weight of the true label in
            each labelled text's target `w * true + (1 - w) * teacher`;
            unlabeled texts get the teacher's probabilities alone.
    """

    preset: str = "default"
    epochs: int = 10
    # 64 texts at 2e-3 rather than 32 at 1e-3: on CPU a step of 64 costs
    # ~1.35x a step of 32, so epochs take 30-40% less time, at equal accuracy
    # (benchmarks/RESULTS.md); 128 lost 5 points on TREC (5k texts).
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 0.01
    patience: int = 2
    validation_fraction: float = 0.1
    class_weight: str | None = None
    seed: int = 0
    ensemble_size: int | str = "auto"
    ngram_weight: float | str = "auto"
    ngram_max_tokens: int = 150000
    ngram_min_df: int = 2
    ngram_c: float = 10.0
    max_tokens: int = 20000
    sequence_length: int | None = None
    split: str = "auto"
    deterministic: bool = True
    strategy: str = "auto"
    streaming: bool | str = "auto"
    word_vectors: str | None = None
    # 0.3 rather than 1: on IMDB (1,000 labels) and SST-2 with IMDB reviews
    # unlabeled, 0.851 and 0.824 against 0.849 and 0.807 at 1 (issue 13).
    self_training: str = "auto"
    pseudo_label_weight: float = 0.3
    multi_label: bool = False
    threshold: float | str = "auto"
    backbone: str | None = None
    # Distillation (issue 22), 1,000 labels, default-preset teacher, `single` student: T=1 against
    # T=2 scored +1.0 (TREC), +1.3 (ChnSentiCorp), -0.9 (SST-2) points, so 1 (no softening);
    # the labels weigh as much as the teacher on labelled texts (benchmarks/RESULTS.md).
    distill_temperature: float = 1.0
    true_label_weight: float = 0.5

    def self_trains(self):
        """Whether unlabeled texts can teach this classifier: its n-gram branch self-trains on them.

        Not without an n-gram branch (`ngram_weight=0`), nor for label sets
        (pseudo-labels are of one class).
        """
        return self.ngram_weight != 0 and not self.multi_label

    def resolved_ensemble_size(self, num_train):
        """The number of transformers to train for `num_train` training texts."""
        if self.ensemble_size == "auto":
            return AUTO_ENSEMBLE_SIZE if num_train < AUTO_ENSEMBLE_MAX_TEXTS else 1
        return self.ensemble_size


def make_configs(preset="default", **overrides):
    """Build `(ModelConfig, TrainingConfig)` from a preset and keyword overrides.

    Args:
        preset: `"default"`, `"single"` or `"ensemble"`.
        **overrides: any field of `ModelConfig` or `TrainingConfig`.

    Returns:
        A validated `(ModelConfig, TrainingConfig)` pair.

    Example:

    >>> model_config, training_config = make_configs("single", epochs=3, embed_dim=32)
    >>> training_config.ensemble_size, model_config.embed_dim
    (1, 32)
    """
    check_choice("preset", preset, tuple(PRESETS))
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    training_fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = set(overrides) - model_fields - training_fields
    if unknown:
        raise ValueError(
            f"Unknown setting(s) {sorted(unknown)}. Known: {sorted(model_fields | training_fields)}."
        )
    settings = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    if settings.get("backbone") and "learning_rate" not in settings:
        settings["learning_rate"] = BACKBONE_LEARNING_RATE
    model_config = ModelConfig(**{k: v for k, v in settings.items() if k in model_fields})
    training_config = TrainingConfig(
        preset=preset, **{k: v for k, v in settings.items() if k in training_fields}
    )
    validate_training_config(training_config)
    return model_config, training_config


def validate_training_config(config):
    """Raise `ValueError` naming the first invalid field of a `TrainingConfig`."""
    check_positive_int("epochs", config.epochs)
    check_positive_int("batch_size", config.batch_size)
    check_positive_int("patience", config.patience)
    check_positive_int("max_tokens", config.max_tokens)
    check_positive_int("ngram_max_tokens", config.ngram_max_tokens)
    check_positive_int("ngram_min_df", config.ngram_min_df)
    if config.ensemble_size != "auto":
        check_positive_int("ensemble_size", config.ensemble_size)
    if config.sequence_length is not None:
        check_positive_int("sequence_length", config.sequence_length)
    if not 0 < config.validation_fraction < 1:
        raise ValueError(
            f"`validation_fraction` must be in (0, 1), got {config.validation_fraction!r}."
        )
    if config.learning_rate <= 0:
        raise ValueError(f"`learning_rate` must be positive, got {config.learning_rate!r}.")
    if config.ngram_weight != "auto" and not (
        isinstance(config.ngram_weight, (int, float)) and 0 <= config.ngram_weight <= 1
    ):
        raise ValueError(f"`ngram_weight` must be 'auto' or in [0, 1], got {config.ngram_weight!r}.")
    if config.ngram_c <= 0:
        raise ValueError(f"`ngram_c` must be positive, got {config.ngram_c!r}.")
    check_choice("class_weight", config.class_weight, (None, "balanced"))
    check_choice("split", config.split, SPLIT_MODES)
    check_choice("strategy", config.strategy, STRATEGIES)
    check_choice("streaming", config.streaming, (True, False, "auto"))
    check_rate("weight_decay", config.weight_decay)
    check_choice("self_training", config.self_training, SELF_TRAINING)
    if not (isinstance(config.pseudo_label_weight, (int, float)) and 0 < config.pseudo_label_weight <= 1):
        raise ValueError(f"`pseudo_label_weight` must be in (0, 1], got {config.pseudo_label_weight!r}.")
    check_choice("multi_label", config.multi_label, (True, False))
    if isinstance(config.distill_temperature, bool) or not (
        isinstance(config.distill_temperature, (int, float)) and config.distill_temperature > 0
    ):
        raise ValueError(f"`distill_temperature` must be a positive number, got {config.distill_temperature!r}.")
    if isinstance(config.true_label_weight, bool) or not (
        isinstance(config.true_label_weight, (int, float)) and 0 <= config.true_label_weight <= 1
    ):
        raise ValueError(f"`true_label_weight` must be in [0, 1], got {config.true_label_weight!r}.")
    if config.threshold != "auto" and not (
        isinstance(config.threshold, (int, float)) and not isinstance(config.threshold, bool)
        and 0 < config.threshold < 1
    ):
        raise ValueError(f"`threshold` must be 'auto' or in (0, 1), got {config.threshold!r}.")
    if config.multi_label and config.class_weight is not None:
        raise ValueError(
            "`class_weight` applies to single-label classes; with `multi_label=True` leave it None "
            "(per-label thresholds already favour rare labels' recall)."
        )
    if config.backbone is not None and not (isinstance(config.backbone, str) and config.backbone.strip()):
        raise ValueError(f"`backbone` must be a KerasHub preset name or directory, got {config.backbone!r}.")
    if config.backbone and config.word_vectors:
        raise ValueError("`backbone` and `word_vectors` both start the transformers from pretrained weights; "
                         "pass one of them.")
    if config.multi_label and config.streaming is True:
        raise ValueError("`multi_label=True` reads its data into memory; set `streaming` to 'auto' or False.")


def configs_to_dict(model_config, training_config):
    """Both configs as one JSON-serializable dict."""
    return {
        "model": dataclasses.asdict(model_config),
        "training": dataclasses.asdict(training_config),
    }


def configs_from_dict(data):
    """Inverse of `configs_to_dict`; unknown keys are an error (tampered files)."""
    return ModelConfig(**data["model"]), TrainingConfig(**data["training"])


def dumps(data):
    """Pretty, stable JSON used for every artifact file."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
