"""The `transformer-kit` command line: train, evaluate, predict, explain, info, export.

Every user-fixable problem (bad file, missing column, unseen label, existing
output) is printed as one clear message and exits with status 2; no traceback.

Building the parser imports neither TensorFlow nor Keras, so `--help` answers
at once; TensorFlow is imported, with its C++ logs kept off the terminal
(`transformer_kit.logs.quiet_tensorflow`), only once a command runs. Results
(metrics, predictions) go to stdout; step messages, warnings and errors go to
stderr through the `transformer_kit` logger.
"""

import argparse
import dataclasses
import datetime
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from transformer_kit.config import (
    AUTO_ENSEMBLE_MAX_TEXTS,
    AUTO_ENSEMBLE_SIZE,
    BACKBONE_LEARNING_RATE,
    EXPLAIN_STEPS,
    PRESETS,
    SELF_TRAINING,
    SPLIT_MODES,
    STRATEGIES,
    ModelConfig,
    TrainingConfig,
    make_configs,
)

EXIT_USAGE = 2
# As transformer_kit.data.label_sets.DEFAULT_SEPARATOR (not imported: --help stays light).
DEFAULT_LABEL_SEPARATOR = "|"
DEFAULT_TEST_FRACTION = 0.1
LOG_LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}

log = logging.getLogger(__name__)

TRAIN_EXAMPLES = """\
examples:
  transformer-kit train data/sms_spam_train.csv
  transformer-kit train data/trec_train.csv --test-data data/trec_test.csv --output runs/trec
  transformer-kit train reviews.tsv.gz --text-column review --label-column stars \\
      --class-weight balanced --epochs 5 --seed 1 --output runs/reviews
  transformer-kit train aclImdb/train --test-data aclImdb/test     # folders: one subfolder per class
  transformer-kit train news.jsonl --text-column title --text-column body --label-column topic
  transformer-kit train goemotions_train.csv --label-column labels --multi-label \\
      --validation-data goemotions_dev.csv --output runs/emotions      # labels like "joy|surprise"
  transformer-kit train data/sst2_train.csv --preset single --teacher runs/sst2 \\
      --unlabeled imdb_reviews.csv --output runs/sst2-small           # distill runs/sst2 into one transformer
"""

PREDICT_EXAMPLES = """\
examples:
  transformer-kit predict runs/spam new_messages.csv --output predictions.csv
  echo "WINNER! claim your prize" | transformer-kit predict runs/spam -
  printf 'Storm\\tHeavy rain\\n' | transformer-kit predict runs/news -    # trained on title and body
  transformer-kit predict exports/spam new_messages.csv     # an exported SavedModel works too
"""

EXPLAIN_EXAMPLES = """\
examples:
  transformer-kit explain runs/spam "WINNER! Claim your free prize now"
  transformer-kit explain runs/spam data/sms_spam_test.csv --html spam.html
  echo "this film was a waste of time" | transformer-kit explain exports/sst2 -
"""
DEFAULT_EXPLAIN_TEXTS = 300


def build_parser():
    """The argument parser of `transformer-kit` (exposed for documentation and tests).

    Building it imports neither TensorFlow nor Keras, so `--help` answers at
    once; the default of every setting is read from `transformer_kit.config`.
    """
    output_options = _output_options()
    parser = argparse.ArgumentParser(
        prog="transformer-kit",
        description=(
            "Train a transformer text classifier from a CSV of labelled texts, evaluate it, "
            "predict with it and export it as a TensorFlow SavedModel that serves raw strings."
        ),
        epilog="Run 'transformer-kit COMMAND --help' for the options of each command.",
        parents=[output_options],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add_command(name, handler, **kwargs):
        command = commands.add_parser(
            name, parents=[output_options], formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs
        )
        command.set_defaults(handler=handler)
        return command

    train = add_command(
        "train",
        run_train,
        help="Train a classifier on a CSV and save a run directory.",
        description=(
            "Train a classifier on DATA (CSV, TSV, JSON Lines, optionally .gz; Parquet; or a folder with one "
            "subfolder per class and one .txt file per text; one or more of them) and save "
            "the model, labels, config, history, metrics, data report and plots in a run "
            f"directory. Without --test-data, a stratified {DEFAULT_TEST_FRACTION:.0%} of DATA is held out "
            "as test set (see --test-fraction). Re-running an interrupted command with the same "
            "--output resumes training where it stopped."
        ),
        epilog=TRAIN_EXAMPLES,
    )
    train.add_argument(
        "data", nargs="+", metavar="DATA", help="Training file(s) (CSV/TSV/JSON Lines/Parquet) or folder(s)."
    )
    _add_column_arguments(train, labels=True)
    train.add_argument(
        "--validation-data",
        metavar="FILE",
        help="Validation file or folder, for early stopping and the n-gram weight. Default: hold out "
        "--validation-fraction of DATA per transformer.",
    )
    train.add_argument("--test-data", metavar="FILE", help="Test file or folder, scored after training.")
    train.add_argument(
        "--test-fraction",
        type=float,
        default=DEFAULT_TEST_FRACTION,
        metavar="F",
        help="Share of DATA held out as test set when --test-data is not given (0 to disable). "
        "Default: %(default)s.",
    )
    train.add_argument(
        "--output", metavar="DIR", help="Run directory to create. Default: runs/<data name>-<date-time>."
    )
    train.add_argument("--overwrite", action="store_true", help="Replace an existing run directory at --output.")
    train.add_argument(
        "--preset",
        default=TrainingConfig.preset,
        choices=list(PRESETS),
        help="default: transformers averaged and blended with a TF-IDF n-gram model (most accurate); "
        "single: one transformer; ensemble: transformers averaged, no n-gram model. Default: %(default)s.",
    )
    hyper = train.add_argument_group("training settings")
    _setting(
        hyper,
        "validation_fraction",
        float,
        "F",
        "Share of DATA each transformer holds out for early stopping when --validation-data is not given.",
    )
    _setting(hyper, "epochs", int, "N", "Maximum epochs per transformer (early stopping usually ends sooner).")
    _setting(hyper, "batch_size", int, "N", "Texts per batch (the global batch when training on several devices).")
    _setting(hyper, "learning_rate", float, "LR", "Peak AdamW learning rate (warmup, then cosine decay).")
    _setting(hyper, "weight_decay", float, "W", "AdamW decoupled weight decay.")
    _setting(
        hyper,
        "class_weight",
        None,
        None,
        "'balanced' weights classes inversely to their frequency (imbalanced data).",
        choices=["balanced", "none"],
    )
    _setting(hyper, "seed", int, "N", "Random seed; the same seed gives the same model.")
    hyper.add_argument(
        "--multi-label",
        dest="multi_label",
        action="store_const",
        const=True,
        help="Each text may carry several labels, or none: LABEL_COLUMN holds them joined with "
        "--label-separator (an empty cell means no label), or --label-columns names one 0/1 column per "
        "label. Trains one sigmoid per label and chooses each label's decision threshold on held-out data. "
        "Default: False.",
    )
    _setting(
        hyper,
        "threshold",
        _auto_or(float, "a number in (0, 1)"),
        "T",
        "Multi-label decision threshold: 'auto' chooses one per label to maximize its F1 on held-out "
        "data (labels with fewer than 5 held-out examples share one), or a number used for every label.",
    )
    _setting(
        hyper,
        "ensemble_size",
        _int_or_auto,
        "N",
        f"Number of transformers averaged, or 'auto': {AUTO_ENSEMBLE_SIZE} below "
        f"{AUTO_ENSEMBLE_MAX_TEXTS:,} training texts, else 1.",
    )
    _setting(
        hyper,
        "ngram_weight",
        _weight,
        "W",
        "Weight of the TF-IDF n-gram model in the blend, 0 to disable, or 'auto' to choose it on held-out data.",
    )
    _setting(
        hyper, "max_tokens", int, "N", "Vocabulary size of the transformers, padding and unknown-word tokens included."
    )
    _setting(
        hyper,
        "sequence_length",
        int,
        "N",
        "Maximum tokens per text.",
        default_text="chosen from the training texts: the 95th percentile of their lengths, capped "
        "so that large corpora of long texts still train in reasonable time",
    )
    _setting(
        hyper,
        "split",
        None,
        None,
        "Tokens: words and punctuation, or one token per CJK character; 'auto' picks characters for "
        "mostly-CJK text.",
        choices=list(SPLIT_MODES),
    )
    _setting(
        hyper,
        "strategy",
        None,
        None,
        "tf.distribute strategy: mirrored (all GPUs of this machine), multi-worker (several "
        "machines; set TF_CONFIG on each and run the same command on all; the chief writes the "
        "run), tpu, or none; 'auto' is mirrored when there are several GPUs.",
        choices=list(STRATEGIES),
    )
    _setting(
        hyper,
        "word_vectors",
        str,
        "PATH",
        "Word vectors that start every transformer's token embeddings (GloVe .txt, word2vec/fastText "
        ".vec, optionally .gz); fine-tuned from there. Words without a vector start at random.",
    )
    _setting(
        hyper,
        "backbone",
        str,
        "NAME_OR_DIR",
        "A pretrained KerasHub backbone instead of the scratch transformers: a preset name (downloaded "
        "and cached by keras_hub; needs the network once) or a local directory written by save_to_preset. "
        "Its tokenizer becomes the run's and its weights are fine-tuned (learning rate "
        f"{BACKBONE_LEARNING_RATE:g} unless --learning-rate is given). Needs the hub extra: "
        "pip install \"transformer_kit[hub]\". Example: --backbone presets/bert_tiny_en_uncased.",
    )
    hyper.add_argument(
        "--unlabeled",
        nargs="+",
        metavar="CORPUS",
        help="Unlabeled texts (files or folders, as for the vectors command). Word vectors are learned "
        "from them first, into OUTPUT-vectors/ beside the run (kept; reused when present), and the "
        "transformers start from them, as with --word-vectors (needs gensim: the 'vectors' extra). The "
        "n-gram model is also self-trained on them (see --self-training).",
    )
    hyper.add_argument(
        "--vector-workers",
        type=_positive_int,
        metavar="N",
        help="With --unlabeled: threads that learn the word vectors. 1 makes them (and so the run) repeatable "
        "bit for bit, taking about 1.5 times as long on 2 cores; more threads update the vectors in a timing-dependent "
        "order. Default: every core.",
    )
    _setting(
        hyper,
        "self_training",
        None,
        None,
        "With --unlabeled: refit the n-gram model on the unlabeled texts as it labels them, and keep "
        "that only if it lowers its log-loss on held-out labelled texts (auto; under 500 labels, judged by 5-fold "
        "cross-validation), always, or never.",
        choices=list(SELF_TRAINING),
    )
    _setting(hyper, "pseudo_label_weight", float, "W",
             "Weight of each pseudo-labelled text in that refit (labelled texts weigh 1).")
    hyper.add_argument(
        "--teacher",
        metavar="RUN_OR_EXPORT",
        help="Distill: a run directory or SavedModel export (base or version directory) whose probabilities "
        "the new model learns, on DATA and on the --unlabeled texts (which the teacher labels; the n-gram model "
        "is then not self-trained). Its classes must be DATA's labels. The data report records the teacher and "
        "the new model's agreement with it on the test texts.",
    )
    _setting(hyper, "distill_temperature", float, "T",
             "With --teacher: temperature on the teacher's probabilities (p^(1/T), renormalised; above 1 flattens).")
    _setting(hyper, "true_label_weight", float, "W",
             "With --teacher: weight of the true label in a labelled text's target, the teacher's probabilities "
             "weighing the rest; unlabeled texts get the teacher's alone.")
    model = train.add_argument_group("model size")
    _setting(model, "embed_dim", int, "N", "Embedding width.")
    _setting(model, "num_heads", int, "N", "Attention heads.")
    _setting(model, "num_layers", int, "N", "Encoder blocks.")
    _setting(model, "ff_dim", int, "N", "Feed-forward width.")
    _setting(model, "dropout", float, "RATE", "Dropout rate.")
    _setting(model, "attention_dropout", float, "RATE", "Dropout on attention probabilities.")
    train.add_argument(
        "--streaming",
        action="store_true",
        help="Read DATA in chunks instead of into memory, for files larger than memory (automatic "
        "above 1 GiB). The vocabulary and the n-gram model are fitted on a random sample of "
        "100,000 rows; without --validation-data, texts are held out for validation by a hash "
        "of the text; without --test-data there is no test set.",
    )
    train.add_argument("--tensorboard", metavar="DIR", help="Write TensorBoard logs to DIR.")

    evaluate = add_command(
        "evaluate",
        run_evaluate,
        help="Score a trained run on labelled data.",
        description=(
            "Score the classifier in RUN_DIR on DATA and print accuracy, macro and per-class "
            "precision/recall/F1, ROC-AUC (binary) and the confusion matrix."
        ),
        epilog="example:\n  transformer-kit evaluate runs/spam data/sms_spam_test.csv --output metrics.json",
    )
    _add_scoring_arguments(
        evaluate, ("data", "DATA", "Labelled file (CSV/TSV/JSON Lines/Parquet) or folder of class subfolders."),
        "Also write the metrics as JSON to FILE.", labels=True
    )
    evaluate.add_argument(
        "--explain-texts",
        type=int,
        default=DEFAULT_EXPLAIN_TEXTS,
        metavar="N",
        help="Explain N texts of DATA (evenly spaced) and save the tokens that push hardest towards each "
        "class as RUN_DIR/evaluations/<DATA name>/top_features.csv and .png; 0 skips it (as do multi-label runs). "
        "Default: %(default)s.",
    )

    predict = add_command(
        "predict",
        run_predict,
        help="Predict labels for a CSV or for lines on stdin.",
        description=(
            "Predict with a run directory or an exported SavedModel. INPUT is a CSV/TSV, JSON Lines "
            "or Parquet file (every column is kept; 'predicted_label' and one 'probability_<class>' "
            "column per class are added), a folder of .txt files (a 'file' column names each), or '-' "
            "to read one text per line from stdin (with several text columns, a line holds their "
            "values separated by tabs, e.g. 'Storm<TAB>Heavy rain'). The text columns are those of "
            "training unless --text-column is given, joined as in training. The CSV goes to stdout "
            "unless --output is given; messages go to stderr."
        ),
        epilog=PREDICT_EXAMPLES,
    )
    _add_scoring_arguments(
        predict, ("input", "INPUT", "File, folder, or - for stdin lines."), "Write the CSV here instead of stdout.",
        labels=False, run_help="Run directory, or SavedModel export directory.",
    )

    explain = add_command(
        "explain",
        run_explain,
        help="Show which words made the model decide.",
        description=(
            "Explain the predictions of a run directory or an exported SavedModel (its 'explain' "
            "signature): each token's share of the predicted class's probability, from integrated "
            "gradients of the transformers and the n-gram model's exact contributions. INPUT is a "
            "text, a CSV/TSV file or '-' for one text per line on stdin. Tokens are shaded in a "
            "terminal (green for, red against) and marked [+token] / [-token] otherwise."
        ),
        epilog=EXPLAIN_EXAMPLES,
    )
    explain.add_argument("run_dir", metavar="RUN_OR_EXPORT", help="Run directory, or SavedModel export directory.")
    explain.add_argument("input", metavar="INPUT", help="A text, a CSV/TSV file, or - for stdin lines.")
    _add_column_arguments(explain, labels=False, defaults_from_run=True)
    explain.add_argument(
        "--target", metavar="CLASS", help="Explain this class instead of the predicted one (run directories only)."
    )
    explain.add_argument("--html", metavar="FILE", help="Also write the explanations as an HTML page to FILE.")

    info = add_command(
        "info",
        run_info,
        help="Describe a run directory.",
        description="Print the classes, configuration, data summary, metrics and versions recorded in RUN_DIR.",
        epilog="example:\n  transformer-kit info runs/spam",
    )
    info.add_argument("run_dir", metavar="RUN_DIR")

    export = add_command(
        "export",
        run_export,
        help="Export a run as a SavedModel that takes raw strings.",
        description=(
            "Export the classifier in RUN_DIR as a TensorFlow SavedModel in OUT_DIR/<version>/, "
            "the layout TensorFlow Serving expects. Its serving_default signature takes a string "
            "tensor 'text' and returns 'probabilities', 'label', 'label_id' and 'score'."
        ),
        epilog="example:\n  transformer-kit export runs/spam exports/spam --version 1",
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("out_dir", metavar="OUT_DIR")
    export.add_argument(
        "--version", type=int, help="Version number (sub-directory). Default: one more than the highest existing."
    )
    export.add_argument("--overwrite", action="store_true", help="Replace an existing version directory.")
    export.add_argument("--explain-steps", type=int, default=EXPLAIN_STEPS, metavar="N",
                        help="Integration points of the 'explain' signature: fewer serve explanations faster, with "
                             "a larger completeness gap. Default: %(default)s.")

    from transformer_kit import serving  # its arguments only: TensorFlow and the server load when it runs

    serving.add_arguments(add_command(
        "serve",
        serving.run,
        help="Serve an export over TensorFlow Serving's REST API, with a page to try it.",
        description=(
            "Serve EXPORT_BASE_OR_RUN on http://HOST:PORT with TensorFlow Serving's REST API "
            "(/v1/models/NAME:predict, row and column formats, every signature), batching concurrent "
            "requests into one model call, with a page to try the model at / and Prometheus metrics at "
            "/metrics. A newly exported version is served without a restart. Stops cleanly on SIGTERM. "
            'Needs the serve extra: pip install "transformer_kit[serve]".'
        ),
        epilog="examples:\n  transformer-kit serve exports/sst2\n"
        "  curl -d '{\"instances\": [\"a gripping film\"]}' localhost:8501/v1/models/sst2:predict\n"
        "  KEY=secret transformer-kit serve exports/sst2 --host 0.0.0.0 --api-key-env KEY",
    ))

    vectors = add_command(
        "vectors",
        run_vectors,
        help="Learn word vectors from unlabeled texts (for train --word-vectors).",
        description=(
            "Learn subword-aware skip-gram word vectors (fastText, through gensim) from unlabeled CORPUS "
            "files, tokenized exactly as the classifier tokenizes: CSV/TSV (--text-column), JSON Lines "
            "(--text-column field), plain text with one document per line, or folders of them (where a "
            ".txt file is one document), each optionally .gz. Writes OUT_DIR/vectors.vec, fasttext.bin and "
            "manifest.json. An interrupted run resumes when started again. Needs gensim: "
            'pip install "transformer_kit[vectors]".'
        ),
        epilog="example:\n  transformer-kit vectors reviews.csv --output vectors/reviews --time-budget 300\n"
        "  transformer-kit train data/sst2_train.csv --word-vectors vectors/reviews",
    )
    vectors.add_argument("corpus", nargs="+", metavar="CORPUS", help="Files or folders of unlabeled texts.")
    vectors.add_argument("--output", required=True, metavar="DIR", help="Directory to write.")
    vectors.add_argument("--text-column", default="text", metavar="NAME",
                         help="Column (CSV/TSV) or field (JSON Lines) holding the texts. Default: %(default)s.")
    vectors.add_argument("--split", choices=list(SPLIT_MODES), default="auto",
                         help="Tokens, as train's --split. Default: %(default)s.")
    vectors.add_argument("--dim", type=int, default=_field_default("embed_dim"), metavar="N",
                         help="Vector width; the classifier's --embed-dim. Default: %(default)s.")
    vectors.add_argument("--epochs", type=int, default=5, metavar="N", help="Passes over the corpus. Default: 5.")
    vectors.add_argument("--min-count", type=int, default=3, metavar="N",
                         help="Ignore words seen fewer times. Default: 3.")
    vectors.add_argument("--buckets", type=int, default=200_000, metavar="N",
                         help="Hash buckets for character n-grams (fastText's own default is 2,000,000: a 512 MB "
                              "fasttext.bin at dim 64). Default: %(default)s.")
    vectors.add_argument("--time-budget", type=float, metavar="SECONDS",
                         help="Stop after the epoch that passes this time and write what was learned. Default: none.")
    vectors.add_argument("--seed", type=int, default=0, metavar="N",
                         help="Random seed of the initial vectors and the sampling. Default: %(default)s.")
    vectors.add_argument("--workers", type=_positive_int, metavar="N",
                         help="Training threads. 1 makes the vectors repeatable bit for bit (the same corpus, "
                              "settings and seed give the same file), taking about 1.5 times as long on 2 cores; more "
                              "threads update the vectors in a timing-dependent order. Default: every core.")
    vectors.add_argument("--overwrite", action="store_true", help="Replace an existing DIR.")
    return parser


def _output_options():
    """--quiet/--verbose, accepted before or after the command.

    Every parser gets them with a suppressed default, so that a value given
    before the command is not reset by the command's parser.
    """
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("output").add_mutually_exclusive_group()
    for flag, help_text in (
        ("quiet", "Print only the results and warnings: no progress bars, no step messages."),
        ("verbose", "Also print debug messages and TensorFlow's own logs."),
    ):
        group.add_argument(
            f"--{flag}", dest="verbosity", action="store_const", const=flag, default=argparse.SUPPRESS, help=help_text
        )
    return options


def _positive_int(text):
    """An argparse type: a whole number of at least 1 (argparse names the option and exits 2 otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _setting(group, name, type_, metavar, text, choices=None, default_text=None):
    """Add the option of the `ModelConfig`/`TrainingConfig` field `name`.

    Its "Default:" sentence is written from the dataclass (and the presets
    that set it), so the help can never disagree with the code.
    """
    if default_text is None:
        default_text = _format_default(_field_default(name))
        by_preset = {preset: values[name] for preset, values in PRESETS.items() if name in values}
        if by_preset:
            default_text = "from --preset (" + ", ".join(
                f"{preset}: {_format_default(value)}" for preset, value in by_preset.items()
            ) + ")"
    kwargs = {"choices": choices} if choices else {"type": type_, "metavar": metavar}
    group.add_argument(
        "--" + name.replace("_", "-"),
        dest=name,
        help=f"{text} Default: {default_text}.".replace("%", "%%"),
        **kwargs,
    )


def _field_default(name):
    for config in (ModelConfig, TrainingConfig):
        for field in dataclasses.fields(config):
            if field.name == name:
                return field.default
    raise KeyError(f"{name} is not a field of ModelConfig or TrainingConfig")


def _format_default(value):
    return "none" if value is None else str(value)


def _auto_or(convert, expected):
    """An argparse type: the word 'auto', or a value `convert` accepts."""

    def parse(value):
        if value == "auto":
            return value
        try:
            return convert(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected 'auto' or {expected}, got {value!r}") from None

    return parse


_int_or_auto = _auto_or(int, "a whole number")
_weight = _auto_or(float, "a number in [0, 1]")


def _add_scoring_arguments(parser, data, output_help, labels, run_help=None):
    """RUN_DIR, a data argument `(dest, metavar, help)`, its column options and --output."""
    parser.add_argument("run_dir", metavar="RUN_DIR", help=run_help)
    parser.add_argument(data[0], metavar=data[1], help=data[2])
    _add_column_arguments(parser, labels=labels, defaults_from_run=True)
    parser.add_argument("--output", metavar="FILE", help=output_help)
    parser.add_argument(
        "--threshold", type=float, metavar="T",
        help="Multi-label: use this decision threshold for every label instead of the run's "
        "per-label thresholds.",
    )


def _column_list(value):
    columns = [column.strip() for column in value.split(",") if column.strip()]
    if len(columns) < 2:
        raise argparse.ArgumentTypeError(f"expected two or more comma-separated column names, got {value!r}")
    return columns


def _add_column_arguments(parser, labels, defaults_from_run=False):
    suffix = " Default: as in training." if defaults_from_run else " Default: %(default)s."
    default_text = None if defaults_from_run else "text"
    default_label = None if defaults_from_run else "label"
    parser.add_argument(
        "--text-column",
        action="append",
        metavar="NAME",
        help="Column (JSON Lines: field) holding the texts. Repeat it to join several columns in that order "
        "with a line break, e.g. --text-column title --text-column body."
        + (" Default: as in training." if defaults_from_run else f" Default: {default_text}."),
    )
    if labels:
        parser.add_argument(
            "--label-column", default=default_label, metavar="NAME", help=f"Column holding the labels.{suffix}"
        )
        parser.add_argument(
            "--label-columns", metavar="A,B,C", type=_column_list,
            help="Multi-label: one 0/1 column per label, comma-separated, instead of --label-column."
            + (" Default: as in training." if defaults_from_run else ""),
        )
    if labels or defaults_from_run:
        parser.add_argument(
            "--label-separator", default=None if defaults_from_run else DEFAULT_LABEL_SEPARATOR, metavar="SEP",
            help="Multi-label: the separator between labels in one cell (and in predict's "
            "'predicted_labels' column)." + (suffix if defaults_from_run else " Default: %(default)s."),
        )
    parser.add_argument(
        "--encoding",
        metavar="NAME",
        help="File encoding, e.g. gb18030 or cp1252. Default: detected for CSV/TSV (UTF-8, else GB18030, Big5, "
        "Shift-JIS, cp1252; the data report names it), UTF-8 for other files.",
    )


# ---------------------------------------------------------------- commands


def run_train(args):
    output = Path(args.output) if args.output else _default_output(args.data[0])
    if args.test_data is None and not 0 <= args.test_fraction < 1:
        raise ValueError(f"--test-fraction must be in [0, 1), got {args.test_fraction}.")
    settings = _settings_given(args)
    # Validated here, before any file is read, so a typo costs no waiting.
    _, training_config = make_configs(args.preset, **settings)

    from transformer_kit.classifier import TextClassifier
    from transformer_kit.data import load_csv_dataset, stratified_split
    from transformer_kit.data.label_sets import as_label_set_dataset
    from transformer_kit.data.loading import TextDataset
    from transformer_kit.data.splitting import random_split
    from transformer_kit.data.streaming import should_stream
    from transformer_kit.distribution import is_chief, worker_name
    from transformer_kit.evaluation import format_metrics
    from transformer_kit.run_directory import refuse_existing
    from transformer_kit.run_lock import run_lock

    refuse_existing(output, args.overwrite)
    if args.teacher is None and ({"distill_temperature", "true_label_weight"} & set(settings)):
        raise ValueError("--distill-temperature and --true-label-weight set how a model learns from a teacher; "
                         "pass --teacher RUN_OR_EXPORT too, or drop them.")
    if args.teacher is not None and not Path(args.teacher).exists():
        raise ValueError(f"--teacher {args.teacher} does not exist: pass a run directory (transformer-kit train) "
                         "or a SavedModel export directory (transformer-kit export).")
    if args.vector_workers and not args.unlabeled:
        raise ValueError("--vector-workers sets the threads that learn word vectors from --unlabeled texts; "
                         "pass --unlabeled CORPUS too, or drop --vector-workers.")
    if args.unlabeled and not (args.teacher and "word_vectors" in settings):  # a teacher may label them alone
        settings["word_vectors"] = str(_vectors_from_unlabeled(args, output, settings))
    quiet = getattr(args, "verbosity", None) == "quiet"
    text_column = _text_column(args.text_column) or "text"
    classifier = TextClassifier(
        preset=args.preset,
        text_column=text_column,
        label_column=args.label_column,
        encoding=args.encoding,  # for files streamed in chunks; the others are read below
        label_separator=args.label_separator,
        label_columns=args.label_columns,
        # Progress bars for a terminal; one line per epoch for logs and pipes.
        verbose=0 if quiet else (1 if sys.stdout.isatty() else 2),
        **settings,
    )

    multi_label = training_config.multi_label
    if args.label_columns and not multi_label:
        raise ValueError("--label-columns gives several labels per text; add --multi-label.")

    def load(source, purpose):
        log.info("Reading %s (%s)", source if isinstance(source, str) else ", ".join(source), purpose)
        if multi_label:
            return as_label_set_dataset(source, None, text_column, args.label_column, args.label_columns,
                                        args.label_separator, encoding=args.encoding)
        return load_csv_dataset(source, text_column, args.label_column, encoding=args.encoding)

    data = args.data if len(args.data) > 1 else args.data[0]
    streaming = should_stream(data, training_config.streaming) and not multi_label
    if streaming:
        log.info("Streaming %s in chunks (training data, not read into memory)", ", ".join(args.data))
        train = data
    else:
        train = load(data, "training data")
    validation = load(args.validation_data, "validation data, for early stopping") if args.validation_data else None
    test = load(args.test_data, "test data, scored after training") if args.test_data else None
    if test is None and args.test_fraction > 0 and not streaming:
        if multi_label:
            train_index, test_index = random_split(len(train), test_size=args.test_fraction, seed=training_config.seed)
        else:
            train_index, test_index = stratified_split(
                train.labels, test_size=args.test_fraction, seed=training_config.seed
            )
        train, test = _subset(train, train_index, TextDataset), _subset(train, test_index, TextDataset, held_out=True)
        log.info(
            "Holding out %d of %d texts (%s, %s) as test set, to score the model after training",
            len(test.texts), len(train.texts) + len(test.texts), f"{args.test_fraction:.0%}",
            "at random" if multi_label else "stratified",
        )

    # Hidden, resumable state: BackupAndRestore and finished transformers.
    backup_dir = output.parent / f".{output.name}.partial"
    chief = training_config.strategy != "multi-worker" or is_chief()
    if not chief:
        # Other workers of a multi-worker run train in step with the chief but
        # must not write the run directory (nor share the chief's backups).
        backup_dir = output.parent / f".{output.name}.partial-{worker_name()}"
        output = Path(tempfile.mkdtemp(prefix="transformer-kit-worker-")) / output.name
    unlabeled = None
    if args.unlabeled and (training_config.self_trains() or args.teacher):  # else they only gave the vectors
        unlabeled = [Path(path) for path in args.unlabeled]  # paths (a list of str would be texts)
    # Held until the backup is removed: a second train on this --output is refused meanwhile.
    with run_lock(backup_dir):
        classifier.fit(
            train, validation=validation, test=test, backup_dir=backup_dir, tensorboard_dir=args.tensorboard,
            unlabeled=unlabeled, teacher=args.teacher,
        )
        log.info("Saving the run to %s, to evaluate, predict with or export it later", output)
        classifier.save(output, overwrite=args.overwrite)
        shutil.rmtree(backup_dir, ignore_errors=True)
    if not chief:
        shutil.rmtree(output.parent, ignore_errors=True)
        log.info("This worker is done; the chief writes the run directory.")
        return 0

    for split_name, metrics in classifier.metrics_.items():
        title = f"{split_name.capitalize()} metrics ({metrics['num_examples']} texts)"
        print("\n" + format_metrics(metrics, title=title))
    print(f"\nSaved the run to {output}")
    return 0


def _settings_given(args):
    """The `ModelConfig`/`TrainingConfig` fields set on the command line, by name.

    Settings left out come from the preset and the dataclasses' defaults.
    """
    names = {field.name for config in (ModelConfig, TrainingConfig) for field in dataclasses.fields(config)}
    names -= {"preset", "streaming"}  # --preset is passed on its own; --streaming is a flag
    settings = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if settings.get("class_weight") == "none":
        settings["class_weight"] = None
    if args.streaming:
        settings["streaming"] = True
    return settings


def _vectors_from_unlabeled(args, output, settings):
    """`train --unlabeled`: learn word vectors beside the run (kept, and reused if already there)."""
    from transformer_kit.vector_training import train_word_vectors

    if "word_vectors" in settings:
        raise ValueError("Pass either --unlabeled (learn word vectors) or --word-vectors (use ones you have).")
    vectors_dir = output.parent / f"{output.name}-vectors"
    if (vectors_dir / "manifest.json").exists():
        log.info("Using the word vectors already learned in %s", vectors_dir)
        return vectors_dir
    log.info("Learning word vectors from the unlabeled texts in %s, into %s", ", ".join(args.unlabeled), vectors_dir)
    return train_word_vectors(
        # With several --text-column, the corpus files' texts are in the first.
        args.unlabeled, vectors_dir, text_column=(args.text_column or ["text"])[0], split=settings.get("split", "auto"),
        dim=settings.get("embed_dim", _field_default("embed_dim")), seed=settings.get("seed", _field_default("seed")),
        workers=args.vector_workers,
    )


def run_evaluate(args):
    from transformer_kit.classifier import TextClassifier
    from transformer_kit.data import load_csv_dataset
    from transformer_kit.evaluation import format_metrics

    log.info("Loading the classifier in %s to score it on %s", args.run_dir, args.data)
    classifier = TextClassifier.load(args.run_dir, verbose=0)
    if classifier.multi_label:
        from transformer_kit.data.label_sets import as_label_set_dataset

        if args.threshold is not None:
            classifier.thresholds_ = args.threshold
        dataset = as_label_set_dataset(
            args.data, None, _text_column(args.text_column) or classifier.text_column,
            args.label_column or classifier.label_column, args.label_columns or classifier.label_columns,
            args.label_separator or classifier.label_separator, encoding=args.encoding,
        )
    else:
        dataset = load_csv_dataset(
            args.data,
            _text_column(args.text_column) or classifier.text_column,
            args.label_column or classifier.label_column,
            encoding=args.encoding,
        )
    metrics = classifier.evaluate(dataset)
    print(format_metrics(metrics, title=f"Metrics on {args.data} ({metrics['num_examples']} texts)"))
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
    if args.explain_texts < 0:
        raise ValueError(f"--explain-texts must be 0 or more, got {args.explain_texts}.")
    if args.explain_texts and not classifier.multi_label:  # explanations are of one predicted class
        _save_top_features(classifier, dataset.texts, args.explain_texts, Path(args.run_dir), args.data)
    return 0


def _save_top_features(classifier, texts, count, run_dir, data_path):
    import numpy as np

    from transformer_kit.plots import plot_top_features

    # Evenly spaced rows: a file sorted by label still gives every class.
    rows = np.unique(np.linspace(0, len(texts) - 1, min(count, len(texts))).astype(int)) if texts else []
    log.info("Explaining %d texts for the tokens that push hardest towards each class", len(rows))
    table = classifier.top_features([texts[i] for i in rows])
    folder = run_dir / "evaluations" / (Path(data_path).name.split(".")[0] or "data")
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "top_features.csv", index=False)
    plot_top_features(table, folder / "top_features.png")
    log.info("Wrote %s and top_features.png", folder / "top_features.csv")


def run_explain(args):
    from transformer_kit.data import load_csv_dataset

    texts = _explain_inputs(args, load_csv_dataset)
    path = Path(args.run_dir)
    if path.is_dir() and not (path / "manifest.json").exists() and _looks_exported(path):
        from transformer_kit.export import load_exported_predictor

        if args.target is not None:
            raise ValueError("--target needs a run directory: an export's explain signature explains the prediction.")
        explanations = load_exported_predictor(path).explain(texts)
    else:
        from transformer_kit.classifier import TextClassifier

        explanations = TextClassifier.load(path, verbose=0).explain(texts, target=args.target)
    colour = sys.stdout.isatty()
    print("\n\n".join(explanation.to_terminal(colour=colour) for explanation in explanations))
    if args.html:
        explanations.to_html(args.html)
        log.info("Wrote %d explanations to %s", len(explanations), args.html)
    return 0


def _explain_inputs(args, load_csv_dataset):
    """The texts to explain: stdin lines, a CSV's text column, or INPUT itself."""
    if args.input == "-":
        return [line.rstrip("\r\n") for line in sys.stdin]
    if Path(args.input).is_file():
        text_column = args.text_column or _text_column_of(args.run_dir)
        dataset = load_csv_dataset(
            args.input, text_column, encoding=args.encoding, require_labels=False, drop_empty_text=False
        )
        return dataset.texts
    if args.input.lower().endswith((".csv", ".tsv", ".gz", ".txt")) and " " not in args.input:
        raise ValueError(f"INPUT {args.input} looks like a file name but there is no such file; check the path.")
    return [args.input]


def _text_column_of(path):
    path = Path(path)
    for record in (path / "config.json", *sorted(path.glob("*/assets.extra/transformer_kit.json"))[-1:],
                   path / "assets.extra" / "transformer_kit.json"):
        if record.is_file():
            return json.loads(record.read_text()).get("text_column", "text")
    return "text"


def run_predict(args):
    from transformer_kit.data import load_csv_dataset

    log.info("Loading the classifier in %s to predict the labels of %s", args.run_dir, _input_name(args.input))
    predictor = _load_predictor(args.run_dir)
    text_column = _text_column(args.text_column) or predictor.text_column
    if args.input == "-":
        # One line is one text; with several text columns, a line holds their cells separated by tabs
        # (the rest in the last), and a missing cell is empty, as in a table.
        import pandas as pd

        from transformer_kit.data.formats import text_columns

        columns = text_columns(text_column)
        rows = [line.rstrip("\r\n").split("\t", len(columns) - 1) for line in sys.stdin]
        frame = pd.DataFrame([row + [""] * (len(columns) - len(row)) for row in rows], columns=columns, dtype=object)
        dataset = load_csv_dataset(frame, text_column, require_labels=False, drop_empty_text=False)
    else:
        dataset = load_csv_dataset(
            args.input, text_column, encoding=args.encoding, require_labels=False, drop_empty_text=False
        )
    probabilities = predictor.predict_proba(dataset.texts)
    frame = dataset.frame.copy()
    if predictor.thresholds is not None:  # multi-label
        import numpy as np

        thresholds = predictor.thresholds if args.threshold is None else args.threshold
        chosen = probabilities.to_numpy() >= np.asarray(thresholds, dtype="float32")
        separator = args.label_separator or predictor.label_separator
        frame["predicted_labels"] = [
            separator.join(predictor.classes[i] for i in np.flatnonzero(row)) for row in chosen
        ]
    else:
        frame["predicted_label"] = [predictor.classes[i] for i in probabilities.to_numpy().argmax(axis=1)]
    for name in predictor.classes:
        frame[f"probability_{name}"] = probabilities[name].to_numpy()
    if args.output:
        frame.to_csv(args.output, index=False)
        log.info("Wrote %d predictions to %s", len(frame), args.output)
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0


def run_info(args):
    import numpy as np

    from transformer_kit.classifier import TextClassifier

    classifier = TextClassifier.load(args.run_dir, verbose=0)
    record = json.loads((Path(args.run_dir) / "config.json").read_text())
    model, training = record["config"]["model"], record["config"]["training"]
    ngram = "yes" if record["ngram"] else "no"
    lines = [
        f"Run directory   {args.run_dir}",
        f"Classes         {', '.join(classifier.classes_)}",
        f"Preset          {training['preset']}  (transformers: {record['ensemble_size']}, n-gram model: {ngram})",
        f"Blend weights   {', '.join(f'{w:.3f}' for w in record['blend_weights'])}",
        f"Tokens          {record['split_mode']}, vocabulary {record['vocabulary_size']}, "
        f"sequence length {record['sequence_length']}",
        f"Model           embed_dim {model['embed_dim']}, heads {model['num_heads']}, layers {model['num_layers']}, "
        f"ff_dim {model['ff_dim']}, dropout {model['dropout']} (attention {model.get('attention_dropout')}), "
        f"pooling {model['pooling']}",
        f"Training        epochs <= {training['epochs']}, batch {training['batch_size']}, "
        f"lr {training['learning_rate']}, seed {training['seed']}, class_weight {training['class_weight']}",
        f"Data            {json.dumps(record.get('sources', {}), ensure_ascii=False)}",
        f"Versions        {', '.join(f'{k} {v}' for k, v in record['versions'].items())}",
    ]
    vectors = classifier.data_report_.get("word_vectors")
    if vectors:
        lines.append(f"Word vectors    {vectors['source']} ({vectors['share_of_vocabulary']:.0%} of the vocabulary)")
    if record.get("resumed"):
        lines.append(f"Resumed         {', '.join(f'{k} {v}' for k, v in record['resumed'].items())}")
    if classifier.multi_label:
        thresholds = np.broadcast_to(classifier.thresholds_, len(classifier.classes_))
        shown = ", ".join(f"{name} {t:.2f}" for name, t in zip(classifier.classes_, thresholds))
        lines.insert(2, f"Multi-label     thresholds {shown}")
    for split_name, metrics in classifier.metrics_.items():
        if "exact_match" in metrics:
            lines.append(
                f"{split_name.capitalize():<15} micro F1 {metrics['micro_f1']:.4f}, "
                f"macro F1 {metrics['macro_f1']:.4f}, exact match {metrics['exact_match']:.4f} "
                f"({metrics['num_examples']} texts)"
            )
            continue
        lines.append(
            f"{split_name.capitalize():<15} accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"
            + (f", ROC-AUC {metrics['roc_auc']:.4f}" if metrics.get("roc_auc") is not None else "")
            + f" ({metrics['num_examples']} texts)"
        )
    print("\n".join(lines))
    return 0


def run_vectors(args):
    from transformer_kit.vector_training import train_word_vectors

    path = train_word_vectors(
        args.corpus, args.output, text_column=args.text_column, split=args.split, dim=args.dim, epochs=args.epochs,
        min_count=args.min_count, buckets=args.buckets, time_budget_s=args.time_budget, seed=args.seed,
        workers=args.workers, overwrite=args.overwrite,
    )
    print(f"Wrote word vectors to {path}; use them with: transformer-kit train DATA --word-vectors {path}")
    return 0


def run_export(args):
    from transformer_kit.classifier import TextClassifier

    log.info("Loading the classifier in %s to export it as a SavedModel for serving", args.run_dir)
    classifier = TextClassifier.load(args.run_dir, verbose=0)
    path = classifier.export(args.out_dir, version=args.version, overwrite=args.overwrite,
                             explain_steps=args.explain_steps)
    print(f"Exported a SavedModel to {path}")
    return 0


# ----------------------------------------------------------------- helpers


class _Predictor:
    """What `predict` needs from a run directory or a SavedModel export."""

    def __init__(self, classes, text_column, predict_proba, thresholds=None, label_separator=None):
        self.classes = classes
        self.text_column = text_column
        self.predict_proba = predict_proba
        self.thresholds = thresholds  # multi-label only
        self.label_separator = label_separator


def _load_predictor(path):
    from transformer_kit.classifier import TextClassifier

    path = Path(path)
    if path.is_dir() and not (path / "manifest.json").exists() and _looks_exported(path):
        from transformer_kit.export import load_exported_predictor

        return load_exported_predictor(path)
    classifier = TextClassifier.load(path, verbose=0)
    return _Predictor(classifier.classes_, classifier.text_column, classifier.predict_proba,
                      classifier.thresholds_, classifier.label_separator)


def _input_name(source):
    return "the lines of stdin" if source == "-" else source


def _looks_exported(path):
    if (path / "saved_model.pb").exists():
        return True
    return any((child / "saved_model.pb").exists() for child in path.iterdir() if child.is_dir())


def _subset(dataset, indices, dataset_type, held_out=False):
    frame = dataset.frame.iloc[indices].reset_index(drop=True)
    return dataset_type(
        texts=[dataset.texts[i] for i in indices],
        labels=[dataset.labels[i] for i in indices],
        frame=frame,
        source=f"{dataset.source} (held-out test split)" if held_out else dataset.source,
        dropped={} if held_out else dataset.dropped,
        row_numbers=[dataset.row_numbers[i] for i in indices] if dataset.row_numbers else [],
        notes=dataset.notes,
    )


def _text_column(names):
    """--text-column given once or several times: a name, a list of names, or `None` when not given."""
    if not names:
        return None
    return names[0] if len(names) == 1 else list(names)


def _default_output(data_path):
    stem = Path(data_path).name.split(".")[0] or "run"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stem}-{stamp}"


def _version():
    from transformer_kit import __version__

    return __version__


def main(argv=None):
    """Entry point of the `transformer-kit` console script."""
    args = build_parser().parse_args(argv)
    from transformer_kit.errors import TransformerKitError
    from transformer_kit.logs import configure_logging, quiet_tensorflow

    verbosity = getattr(args, "verbosity", "normal")
    configure_logging(LOG_LEVELS[verbosity])
    if verbosity != "verbose":
        # Before TensorFlow's first import: CUDA probing, oneDNN and graph
        # rewrite notices are noise on a terminal; real failures still raise.
        quiet_tensorflow()
    try:
        return args.handler(args)
    except (TransformerKitError, ValueError) as error:
        print(f"transformer-kit {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"transformer-kit {args.command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
