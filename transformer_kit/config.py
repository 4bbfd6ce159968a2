"""Plain-data configuration of a training run, saved as JSON beside every artifact.

The dataclasses here are the one source of every setting: the classifier, the
command line and the README's settings list all take their names and defaults
from them (`tests/test_config.py` checks the README), and each field carries
the help of its `transformer-kit train` option (`setting`), from which
`transformer_kit.cli` builds the option; a new setting is declared once, here.
This module imports neither TensorFlow nor Keras, so `transformer-kit --help`
stays fast.
"""

import dataclasses
import json

from transformer_kit.checks import check_choice, check_positive_int, check_rate

SPLIT_MODES = ("auto", "word", "character")
SELF_TRAINING = ("auto", "always", "never")
# The n-gram branch's feature sets (`transformer_kit.ngram.FeatureScaling`): TF-IDF or naive
# Bayes log-count ratios (binary tasks) of word or CJK-character 1-2- or 1-3-grams.
NGRAM_FEATURES = ("tfidf-1-2", "tfidf-1-3", "nb-1-2", "nb-1-3")
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
# "default" averages a few transformers and blends in an in-graph n-gram
# logistic regression: on a few thousand short texts a single from-scratch
# transformer trails n-gram baselines by 1-3 points, and this closes the gap
# (see benchmarks/RESULTS.md). "single" is the plain one-transformer model.
# "small" is one narrow transformer (32 wide: about a third of the default
# transformer's cost per text) beside the n-gram branch: the student to
# distil a default (or larger) teacher into for serving. Distilled from a
# 3-transformer default on 1,000 labels it scored within 1 point of it on
# average on SST-2, TREC, ChnSentiCorp and IMDB, at 3.3 to 10 times its
# texts/s; a 64-wide student was within 1 point too but only 2.1-2.6 times
# as fast on the short sets (benchmarks/RESULTS.md, "the small student").
PRESETS = {
    "default": {"ensemble_size": "auto", "ngram_weight": "auto"},
    "single": {"ensemble_size": 1, "ngram_weight": 0.0},
    "ensemble": {"ensemble_size": 3, "ngram_weight": 0.0},
    "small": {"ensemble_size": 1, "ngram_weight": "auto", "embed_dim": 32, "num_heads": 2, "ff_dim": 64},
}


def setting(default, help, metavar=None, **option):
    """A `ModelConfig`/`TrainingConfig` field with its `transformer-kit train` option.

    The command line builds the option `--name-with-dashes` from this
    (`transformer_kit.cli.options.add_setting`), and writes its "Default:"
    sentence from `default` and the presets, so a setting is declared once,
    here.

    Args:
        default: the field's default.
        help: the option's help, without its "Default:" sentence.
        metavar: the name of the option's value in the help (`"N"`); `None`
            for choices and flags.
        **option: how the option reads its value, when not by `type`:
            `type` (`int`, `float` or `str`), `auto` (the value may also be
            the word 'auto'; the text naming the other values, for the error
            message), `choices`, `action` (`"store_const"` with `const`, or
            `"store_true"`: a flag), `default_text` (the default as the help
            states it; `""` leaves it out), `ungrouped` (listed with the
            command's own options, after the settings' groups).

    Returns:
        A `dataclasses.field` whose metadata holds `help`, `metavar` and `option`.

    Example:

    >>> field = setting(10, "Maximum epochs.", "N", type=int)
    >>> field.default, field.metadata["help"], field.metadata["option"]["type"]
    (10, 'Maximum epochs.', <class 'int'>)
    """
    return dataclasses.field(default=default, metadata={"help": help, "metavar": metavar, "option": option})


def python_only(default, help):
    """A field set from Python only (`TextClassifier(name=...)`): no command-line option.

    For what is rarely changed, or about the model's shape beyond its size.

    Args:
        default: the field's default.
        help: what the field sets.

    Returns:
        A `dataclasses.field` whose metadata holds `help` and `option=None`.
    """
    return dataclasses.field(default=default, metadata={"help": help, "metavar": None, "option": None})


@dataclasses.dataclass
class ModelConfig:
    """Architecture of each transformer; see `build_text_classifier` for meanings.

    Every field's help is in its metadata (`setting`, `python_only`).
    """

    embed_dim: int = setting(64, "Embedding width.", "N", type=int)
    num_heads: int = setting(4, "Attention heads.", "N", type=int)
    num_layers: int = setting(1, "Encoder blocks.", "N", type=int)
    ff_dim: int = setting(128, "Feed-forward width.", "N", type=int)
    dropout: float = setting(0.1, "Dropout rate.", "RATE", type=float)
    pooling: str = python_only("mean", "How token vectors become one text vector: 'mean', 'max' or 'first'.")
    activation: str = python_only("gelu", "Feed-forward activation, e.g. 'gelu' or 'relu'.")
    norm_first: bool = python_only(False, "Pre-norm encoder blocks if True.")
    position_embedding: str = python_only("learned", "Position embeddings: 'learned' or 'sinusoidal'.")
    attention_dropout: float | None = setting(0.0, "Dropout on attention probabilities.", "RATE", type=float)


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
        ngram_weight: weight of the n-gram logistic regression in the blend
            (0 disables it), or `"auto"`: chosen to minimize log-loss on
            held-out data the n-gram model did not see.
        ngram_features: the n-gram regression's features: `"auto"` (the
            candidate with the lowest log-loss on the held-out texts the blend
            weight is chosen on, if it beats `"tfidf-1-2"` there by more
            than one standard error, else `"tfidf-1-2"`; candidates:
            `"tfidf-1-2"`, `"nb-1-2"`, `"nb-1-3"` for two classes,
            `"tfidf-1-2"`, `"tfidf-1-3"` for more, `"tfidf-1-2"` for label
            sets) or one of `NGRAM_FEATURES` (`"nb-*"`, naive
            Bayes log-count ratios, for two classes only).
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

    preset: str = setting(
        "default",
        "default: transformers averaged and blended with an n-gram model (most accurate); "
        "single: one transformer; ensemble: transformers averaged, no n-gram model; small: one narrow "
        "transformer (embed_dim 32) and the n-gram model, the fast student to distil a default into (--teacher).",
        choices=tuple(PRESETS),
    )
    validation_fraction: float = setting(
        0.1,
        "Share of DATA each transformer holds out for early stopping when --validation-data is not given.",
        "F",
        type=float,
    )
    epochs: int = setting(10, "Maximum epochs per transformer (early stopping usually ends sooner).", "N", type=int)
    # 64 texts at 2e-3 rather than 32 at 1e-3: on CPU a step of 64 costs
    # ~1.35x a step of 32, so epochs take 30-40% less time, at equal accuracy
    # (benchmarks/RESULTS.md); 128 lost 5 points on TREC (5k texts).
    batch_size: int = setting(
        64, "Texts per batch (the global batch when training on several devices).", "N", type=int
    )
    learning_rate: float = setting(
        2e-3, "Peak AdamW learning rate (warmup, then cosine decay).", "LR", type=float
    )
    weight_decay: float = setting(0.01, "AdamW decoupled weight decay.", "W", type=float)
    patience: int = python_only(2, "Epochs without validation-loss improvement before stopping.")
    class_weight: str | None = setting(
        None,
        "'balanced' weights classes inversely to their frequency (imbalanced data).",
        choices=("balanced", "none"),
    )
    seed: int = setting(0, "Random seed; the same seed gives the same model.", "N", type=int)
    multi_label: bool = setting(
        False,
        "Each text may carry several labels, or none: LABEL_COLUMN holds them joined with "
        "--label-separator (an empty cell means no label), or --label-columns names one 0/1 column per "
        "label. Trains one sigmoid per label and chooses each label's decision threshold on held-out data.",
        action="store_const",
        const=True,
    )
    threshold: float | str = setting(
        "auto",
        "Multi-label decision threshold: 'auto' chooses one per label to maximize its F1 on held-out "
        "data (labels with fewer than 5 held-out examples share one), or a number used for every label.",
        "T",
        type=float,
        auto="a number in (0, 1)",
    )
    ensemble_size: int | str = setting(
        "auto",
        f"Number of transformers averaged, or 'auto': {AUTO_ENSEMBLE_SIZE} below "
        f"{AUTO_ENSEMBLE_MAX_TEXTS:,} training texts, else 1.",
        "N",
        type=int,
        auto="a whole number",
    )
    ngram_weight: float | str = setting(
        "auto",
        "Weight of the n-gram model in the blend, 0 to disable, or 'auto' to choose it on held-out data.",
        "W",
        type=float,
        auto="a number in [0, 1]",
    )
    ngram_features: str = setting(
        "auto",
        "Features of the n-gram model: tfidf-1-2 (TF-IDF of 1-2-grams), tfidf-1-3, nb-1-2 or nb-1-3 (binary "
        "n-grams scaled by naive Bayes log-count ratios, two classes only), or auto: the candidate with the "
        "lowest log-loss on the held-out texts the blend weight is chosen on, where it beats tfidf-1-2 by more "
        "than one standard error.",
        choices=("auto", *NGRAM_FEATURES),
    )
    ngram_max_tokens: int = python_only(150000, "N-gram vocabulary cap of the n-gram logistic regression.")
    ngram_min_df: int = python_only(2, "Keep only n-grams found in at least this many training texts.")
    ngram_c: float = python_only(10.0, "Inverse L2 regularization strength of the n-gram logistic regression.")
    max_tokens: int = setting(
        20000, "Vocabulary size of the transformers, padding and unknown-word tokens included.", "N", type=int
    )
    sequence_length: int | None = setting(
        None,
        "Maximum tokens per text.",
        "N",
        type=int,
        default_text="chosen from the training texts: the 95th percentile of their lengths, capped "
        "so that large corpora of long texts still train in reasonable time",
    )
    split: str = setting(
        "auto",
        "Tokens: words and punctuation, or one token per CJK character; 'auto' picks characters for "
        "mostly-CJK text.",
        choices=SPLIT_MODES,
    )
    deterministic: bool = python_only(True, "Enable TensorFlow op determinism for repeatable runs.")
    strategy: str = setting(
        "auto",
        "tf.distribute strategy: mirrored (all GPUs of this machine), multi-worker (several "
        "machines; set TF_CONFIG on each and run the same command on all; the chief writes the "
        "run), tpu, or none; 'auto' is mirrored when there are several GPUs.",
        choices=STRATEGIES,
    )
    streaming: bool | str = setting(
        "auto",
        "Read DATA in chunks instead of into memory, for files larger than memory (automatic "
        "above 1 GiB). The vocabulary and the n-gram model are fitted on a random sample of "
        "100,000 rows; without --validation-data, texts are held out for validation by a hash "
        "of the text; without --test-data there is no test set.",
        action="store_true",
        default_text="",  # the field's "auto" is the text's "automatic above 1 GiB"
        ungrouped=True,
    )
    word_vectors: str | None = setting(
        None,
        "Word vectors that start every transformer's token embeddings (GloVe .txt, word2vec/fastText "
        ".vec, optionally .gz); fine-tuned from there. Words without a vector start at random.",
        "PATH",
        type=str,
    )
    backbone: str | None = setting(
        None,
        "A pretrained KerasHub backbone instead of the scratch transformers: a preset name (downloaded "
        "and cached by keras_hub; needs the network once) or a local directory written by save_to_preset. "
        "Its tokenizer becomes the run's and its weights are fine-tuned (learning rate "
        f"{BACKBONE_LEARNING_RATE:g} unless --learning-rate is given). Needs the hub extra: "
        "pip install \"transformer_kit[hub]\". Example: --backbone presets/bert_tiny_en_uncased.",
        "NAME_OR_DIR",
        type=str,
    )
    # 0.3 rather than 1: on IMDB (1,000 labels) and SST-2 with IMDB reviews
    # unlabeled, 0.851 and 0.824 against 0.849 and 0.807 at 1 (issue 13).
    self_training: str = setting(
        "auto",
        "With --unlabeled: refit the n-gram model on the unlabeled texts as it labels them, and keep "
        "that only if it lowers its log-loss on held-out labelled texts (auto; under 500 labels, judged by 5-fold "
        "cross-validation), always, or never.",
        choices=SELF_TRAINING,
    )
    pseudo_label_weight: float = setting(
        0.3, "Weight of each pseudo-labelled text in that refit (labelled texts weigh 1).", "W", type=float
    )
    # Distillation (issue 22), 1,000 labels, default-preset teacher, `single` student: T=1 against
    # T=2 scored +1.0 (TREC), +1.3 (ChnSentiCorp), -0.9 (SST-2) points, so 1 (no softening);
    # the labels weigh as much as the teacher on labelled texts (benchmarks/RESULTS.md).
    distill_temperature: float = setting(
        1.0,
        "With --teacher: temperature on the teacher's probabilities (p^(1/T), renormalised; above 1 flattens).",
        "T",
        type=float,
    )
    true_label_weight: float = setting(
        0.5,
        "With --teacher: weight of the true label in a labelled text's target, the teacher's probabilities "
        "weighing the rest; unlabeled texts get the teacher's alone.",
        "W",
        type=float,
    )

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


# The settings `TextClassifier` takes by keyword (the preset is an argument of its own).
SETTING_NAMES = tuple(
    field.name for config in (ModelConfig, TrainingConfig) for field in dataclasses.fields(config)
    if field.name != "preset"
)


def make_configs(preset="default", **overrides):
    """Build `(ModelConfig, TrainingConfig)` from a preset and keyword overrides.

    Args:
        preset: `"default"`, `"single"`, `"ensemble"` or `"small"`.
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
    check_choice("ngram_features", config.ngram_features, ("auto", *NGRAM_FEATURES))
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
