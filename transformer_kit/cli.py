"""The `transformer-kit` command line: train, evaluate, predict, info, export.

Every user-fixable problem (bad file, missing column, unseen label, existing
output) is printed as one clear message and exits with status 2; no traceback.
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

EXIT_USAGE = 2

TRAIN_EXAMPLES = """\
examples:
  transformer-kit train data/sms_spam_train.csv
  transformer-kit train data/trec_train.csv --test-data data/trec_test.csv --output runs/trec
  transformer-kit train reviews.tsv.gz --text-column review --label-column stars \\
      --class-weight balanced --epochs 5 --seed 1 --output runs/reviews
"""

PREDICT_EXAMPLES = """\
examples:
  transformer-kit predict runs/spam new_messages.csv --output predictions.csv
  echo "WINNER! claim your prize" | transformer-kit predict runs/spam -
  transformer-kit predict exports/spam new_messages.csv     # an exported SavedModel works too
"""


def build_parser():
    """The argument parser of `transformer-kit` (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(
        prog="transformer-kit",
        description=(
            "Train a transformer text classifier from a CSV of labelled texts, evaluate it, "
            "predict with it and export it as a TensorFlow SavedModel that serves raw strings."
        ),
        epilog="Run 'transformer-kit COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="Train a classifier on a CSV and save a run directory.",
        description=(
            "Train a classifier on DATA (CSV, TSV, optionally .gz; one or more files) and save "
            "the model, labels, config, history, metrics, data report and plots in a run "
            "directory. Without --test-data, a stratified 10%% of DATA is held out as test set "
            "(see --test-fraction). Re-running an interrupted command with the same --output "
            "resumes training where it stopped."
        ),
        epilog=TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("data", nargs="+", metavar="DATA", help="Training CSV/TSV file(s).")
    _add_column_arguments(train, labels=True)
    train.add_argument("--validation-data", metavar="FILE", help="Validation CSV. Default: hold out --validation-fraction of DATA per transformer.")
    train.add_argument("--test-data", metavar="FILE", help="Test CSV, scored after training.")
    train.add_argument("--test-fraction", type=float, default=0.1, metavar="F", help="Share of DATA held out as test set when --test-data is not given (0 to disable). Default: 0.1.")
    train.add_argument("--output", metavar="DIR", help="Run directory to create. Default: runs/<data name>-<date-time>.")
    train.add_argument("--overwrite", action="store_true", help="Replace an existing run directory at --output.")
    train.add_argument("--preset", default="default", choices=["default", "single", "ensemble"], help="default: transformers averaged and blended with a TF-IDF n-gram model (most accurate); single: one transformer; ensemble: 3 transformers. Default: default.")
    hyper = train.add_argument_group("training settings (defaults come from the preset)")
    hyper.add_argument("--validation-fraction", type=float, metavar="F", help="Share of DATA each transformer holds out for early stopping when --validation-data is not given. Default: 0.1.")
    hyper.add_argument("--epochs", type=int, help="Maximum epochs per transformer (early stopping usually ends sooner). Default: 10.")
    hyper.add_argument("--batch-size", type=int, help="Texts per batch. Default: 64.")
    hyper.add_argument("--learning-rate", type=float, help="Peak AdamW learning rate. Default: 2e-3.")
    hyper.add_argument("--class-weight", choices=["balanced", "none"], help="'balanced' weights classes inversely to their frequency (imbalanced data). Default: none.")
    hyper.add_argument("--seed", type=int, help="Random seed; the same seed gives the same model. Default: 0.")
    hyper.add_argument("--ensemble-size", type=int, help="Number of transformers averaged. Default: 3 below 20,000 texts, else 1.")
    hyper.add_argument("--ngram-weight", type=_weight, help="Weight of the TF-IDF n-gram model in the blend, 0 to disable, or 'auto' to choose it on held-out data. Default: auto.")
    hyper.add_argument("--max-tokens", type=int, help="Vocabulary size. Default: 20000.")
    hyper.add_argument("--sequence-length", type=int, help="Maximum tokens per text. Default: the 95th percentile of training lengths, at most 512 (less for large corpora of long texts: an epoch is kept near 3M tokens, never under 128).")
    hyper.add_argument(
        "--strategy",
        choices=["auto", "none", "mirrored", "multi-worker", "tpu"],
        help="tf.distribute strategy: mirrored (all GPUs of this machine), multi-worker (several "
        "machines; set TF_CONFIG on each and run the same command on all; the chief writes the "
        "run), tpu, or none. --batch-size is the global batch. Default: auto (mirrored when "
        "there are several GPUs).",
    )
    hyper.add_argument("--split", choices=["auto", "word", "character"], help="Tokens: words and punctuation, or one token per CJK character. Default: auto (character for mostly-CJK text).")
    model = train.add_argument_group("model size")
    model.add_argument("--embed-dim", type=int, help="Embedding width. Default: 64.")
    model.add_argument("--num-heads", type=int, help="Attention heads. Default: 4.")
    model.add_argument("--num-layers", type=int, help="Encoder blocks. Default: 1.")
    model.add_argument("--ff-dim", type=int, help="Feed-forward width. Default: 128.")
    model.add_argument("--dropout", type=float, help="Dropout rate. Default: 0.1.")
    model.add_argument(
        "--attention-dropout", type=float, help="Dropout on attention probabilities. Default: 0."
    )
    train.add_argument(
        "--streaming",
        action="store_true",
        help="Read DATA in chunks instead of into memory, for files larger than memory (automatic "
        "above 1 GiB). The vocabulary and the n-gram model are fitted on a random sample of "
        "100,000 rows; without --validation-data, texts are held out for validation by a hash "
        "of the text; without --test-data there is no test set.",
    )
    train.add_argument("--tensorboard", metavar="DIR", help="Write TensorBoard logs to DIR.")
    train.add_argument("--quiet", action="store_true", help="Print only the final metrics.")
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="Score a trained run on labelled data.",
        description="Score the classifier in RUN_DIR on DATA and print accuracy, macro and per-class precision/recall/F1, ROC-AUC (binary) and the confusion matrix.",
        epilog="example:\n  transformer-kit evaluate runs/spam data/sms_spam_test.csv --output metrics.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("data", metavar="DATA", help="Labelled CSV/TSV file.")
    _add_column_arguments(evaluate, labels=True, defaults_from_run=True)
    evaluate.add_argument("--output", metavar="FILE", help="Also write the metrics as JSON to FILE.")
    evaluate.set_defaults(handler=run_evaluate)

    predict = commands.add_parser(
        "predict",
        help="Predict labels for a CSV or for lines on stdin.",
        description=(
            "Predict with a run directory or an exported SavedModel. INPUT is a CSV/TSV (every "
            "column is kept; 'predicted_label' and one 'probability_<class>' column per class "
            "are added) or '-' to read one text per line from stdin."
        ),
        epilog=PREDICT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("run_dir", metavar="RUN_DIR", help="Run directory, or SavedModel export directory.")
    predict.add_argument("input", metavar="INPUT", help="CSV/TSV file, or - for stdin lines.")
    _add_column_arguments(predict, labels=False, defaults_from_run=True)
    predict.add_argument("--output", metavar="FILE", help="Write the CSV here instead of stdout.")
    predict.set_defaults(handler=run_predict)

    info = commands.add_parser(
        "info",
        help="Describe a run directory.",
        description="Print the classes, configuration, data summary, metrics and versions recorded in RUN_DIR.",
        epilog="example:\n  transformer-kit info runs/spam",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    info.add_argument("run_dir", metavar="RUN_DIR")
    info.set_defaults(handler=run_info)

    export = commands.add_parser(
        "export",
        help="Export a run as a SavedModel that takes raw strings.",
        description=(
            "Export the classifier in RUN_DIR as a TensorFlow SavedModel in OUT_DIR/<version>/, "
            "the layout TensorFlow Serving expects. Its serving_default signature takes a string "
            "tensor 'text' and returns 'probabilities', 'label', 'label_id' and 'score'."
        ),
        epilog="example:\n  transformer-kit export runs/spam exports/spam --version 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("out_dir", metavar="OUT_DIR")
    export.add_argument("--version", type=int, help="Version number (sub-directory). Default: one more than the highest existing.")
    export.add_argument("--overwrite", action="store_true", help="Replace an existing version directory.")
    export.set_defaults(handler=run_export)
    return parser


def _weight(value):
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number in [0, 1], got {value!r}") from None


def _add_column_arguments(parser, labels, defaults_from_run=False):
    suffix = " Default: as in training." if defaults_from_run else " Default: %(default)s."
    default_text = None if defaults_from_run else "text"
    default_label = None if defaults_from_run else "label"
    parser.add_argument("--text-column", default=default_text, metavar="NAME", help="Column holding the texts." + suffix)
    if labels:
        parser.add_argument("--label-column", default=default_label, metavar="NAME", help="Column holding the labels." + suffix)
    parser.add_argument("--encoding", metavar="NAME", help="File encoding, e.g. latin-1. Default: utf-8.")


# ---------------------------------------------------------------- commands


def run_train(args):
    from transformer_kit.classifier import TextClassifier
    from transformer_kit.data import load_csv_dataset, stratified_split
    from transformer_kit.data.loading import TextDataset
    from transformer_kit.data.streaming import should_stream
    from transformer_kit.distribution import is_chief, worker_name
    from transformer_kit.evaluation import format_metrics
    from transformer_kit.run_directory import refuse_existing

    output = Path(args.output) if args.output else _default_output(args.data[0])
    refuse_existing(output, args.overwrite)
    if args.test_data is None and not 0 <= args.test_fraction < 1:
        raise ValueError(f"--test-fraction must be in [0, 1), got {args.test_fraction}.")

    settings = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "class_weight": None if args.class_weight in (None, "none") else args.class_weight,
        "seed": args.seed,
        "ensemble_size": args.ensemble_size,
        "ngram_weight": args.ngram_weight,
        "max_tokens": args.max_tokens,
        "sequence_length": args.sequence_length,
        "split": args.split,
        "strategy": args.strategy,
        "streaming": True if args.streaming else None,
        "embed_dim": args.embed_dim,
        "num_heads": args.num_heads,
        "num_layers": args.num_layers,
        "ff_dim": args.ff_dim,
        "dropout": args.dropout,
        "attention_dropout": args.attention_dropout,
        "validation_fraction": args.validation_fraction,
    }
    classifier = TextClassifier(
        preset=args.preset,
        text_column=args.text_column,
        label_column=args.label_column,
        # Progress bars for a terminal; one line per epoch for logs and pipes.
        verbose=0 if args.quiet else (1 if sys.stdout.isatty() else 2),
        **settings,
    )

    def load(source):
        return load_csv_dataset(source, args.text_column, args.label_column, encoding=args.encoding)

    data = args.data if len(args.data) > 1 else args.data[0]
    streaming = should_stream(data, classifier.training_config.streaming)
    train = data if streaming else load(data)
    validation = load(args.validation_data) if args.validation_data else None
    test = load(args.test_data) if args.test_data else None
    if test is None and args.test_fraction > 0 and not streaming:
        seed = classifier.training_config.seed
        train_index, test_index = stratified_split(train.labels, test_size=args.test_fraction, seed=seed)
        train, test = _subset(train, train_index, TextDataset), _subset(train, test_index, TextDataset, held_out=True)

    # Hidden, resumable state: BackupAndRestore and finished transformers.
    backup_dir = output.parent / f".{output.name}.partial"
    chief = classifier.training_config.strategy != "multi-worker" or is_chief()
    if not chief:
        # Other workers of a multi-worker run train in step with the chief but
        # must not write the run directory (nor share the chief's backups).
        backup_dir = output.parent / f".{output.name}.partial-{worker_name()}"
        output = Path(tempfile.mkdtemp(prefix="transformer-kit-worker-")) / output.name
    classifier.fit(
        train, validation=validation, test=test, backup_dir=backup_dir, tensorboard_dir=args.tensorboard
    )
    classifier.save(output, overwrite=args.overwrite)
    shutil.rmtree(backup_dir, ignore_errors=True)
    if not chief:
        shutil.rmtree(output.parent, ignore_errors=True)
        print("This worker is done; the chief writes the run directory.")
        return 0

    for split_name, metrics in classifier.metrics_.items():
        print("\n" + format_metrics(metrics, title=f"{split_name.capitalize()} metrics ({metrics['num_examples']} texts)"))
    print(f"\nSaved the run to {output}")
    return 0


def run_evaluate(args):
    from transformer_kit.classifier import TextClassifier
    from transformer_kit.data import load_csv_dataset
    from transformer_kit.evaluation import format_metrics

    classifier = TextClassifier.load(args.run_dir, verbose=0)
    dataset = load_csv_dataset(
        args.data,
        args.text_column or classifier.text_column,
        args.label_column or classifier.label_column,
        encoding=args.encoding,
    )
    metrics = classifier.evaluate(dataset)
    print(format_metrics(metrics, title=f"Metrics on {args.data} ({metrics['num_examples']} texts)"))
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n")
    return 0


def run_predict(args):
    from transformer_kit.data import load_csv_dataset

    predictor = _load_predictor(args.run_dir)
    text_column = args.text_column or predictor.text_column
    if args.input == "-":
        import pandas as pd

        lines = [line.rstrip("\r\n") for line in sys.stdin]
        dataset = load_csv_dataset(
            pd.DataFrame({text_column: lines}), text_column, require_labels=False, drop_empty_text=False
        )
    else:
        dataset = load_csv_dataset(
            args.input, text_column, encoding=args.encoding, require_labels=False, drop_empty_text=False
        )
    probabilities = predictor.predict_proba(dataset.texts)
    frame = dataset.frame.copy()
    frame["predicted_label"] = [predictor.classes[i] for i in probabilities.to_numpy().argmax(axis=1)]
    for name in predictor.classes:
        frame[f"probability_{name}"] = probabilities[name].to_numpy()
    if args.output:
        frame.to_csv(args.output, index=False)
        print(f"Wrote {len(frame)} predictions to {args.output}", file=sys.stderr)
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0


def run_info(args):
    from transformer_kit.classifier import TextClassifier

    classifier = TextClassifier.load(args.run_dir, verbose=0)
    record = json.loads((Path(args.run_dir) / "config.json").read_text())
    model, training = record["config"]["model"], record["config"]["training"]
    lines = [
        f"Run directory   {args.run_dir}",
        f"Classes         {', '.join(classifier.classes_)}",
        f"Preset          {training['preset']}  (transformers: {record['ensemble_size']}, n-gram model: {'yes' if record['ngram'] else 'no'})",
        f"Blend weights   {', '.join(f'{w:.3f}' for w in record['blend_weights'])}",
        f"Tokens          {record['split_mode']}, vocabulary {record['vocabulary_size']}, sequence length {record['sequence_length']}",
        f"Model           embed_dim {model['embed_dim']}, heads {model['num_heads']}, layers {model['num_layers']}, ff_dim {model['ff_dim']}, dropout {model['dropout']} (attention {model.get('attention_dropout')}), pooling {model['pooling']}",
        f"Training        epochs <= {training['epochs']}, batch {training['batch_size']}, lr {training['learning_rate']}, seed {training['seed']}, class_weight {training['class_weight']}",
        f"Data            {json.dumps(record.get('sources', {}), ensure_ascii=False)}",
        f"Versions        {', '.join(f'{k} {v}' for k, v in record['versions'].items())}",
    ]
    for split_name, metrics in classifier.metrics_.items():
        lines.append(
            f"{split_name.capitalize():<15} accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}"
            + (f", ROC-AUC {metrics['roc_auc']:.4f}" if metrics.get("roc_auc") is not None else "")
            + f" ({metrics['num_examples']} texts)"
        )
    print("\n".join(lines))
    return 0


def run_export(args):
    from transformer_kit.classifier import TextClassifier

    classifier = TextClassifier.load(args.run_dir, verbose=0)
    path = classifier.export(args.out_dir, version=args.version, overwrite=args.overwrite)
    print(f"Exported a SavedModel to {path}")
    return 0


# ----------------------------------------------------------------- helpers


class _Predictor:
    """What `predict` needs from a run directory or a SavedModel export."""

    def __init__(self, classes, text_column, predict_proba):
        self.classes = classes
        self.text_column = text_column
        self.predict_proba = predict_proba


def _load_predictor(path):
    from transformer_kit.classifier import TextClassifier

    path = Path(path)
    if path.is_dir() and not (path / "manifest.json").exists() and _looks_exported(path):
        from transformer_kit.export import load_exported_predictor

        return load_exported_predictor(path)
    classifier = TextClassifier.load(path, verbose=0)
    return _Predictor(classifier.classes_, classifier.text_column, classifier.predict_proba)


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
    )


def _default_output(data_path):
    stem = Path(data_path).name.split(".")[0] or "run"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stem}-{stamp}"


def _version():
    from transformer_kit import __version__

    return __version__


def main(argv=None):
    """Entry point of the `transformer-kit` console script."""
    # TensorFlow's C++ start-up and graph-rewrite logs (CUDA probing, tf.data
    # attribute notices) are noise on a terminal; real failures still raise.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    from transformer_kit.errors import TransformerKitError

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
