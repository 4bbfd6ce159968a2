"""`transformer-kit evaluate`: score a trained run on labelled data."""

import json
import logging
from pathlib import Path

from transformer_kit.cli.options import _add_scoring_arguments, _text_column

log = logging.getLogger(__name__)

DEFAULT_EXPLAIN_TEXTS = 300


def add_parser(add_command):
    """Add the `evaluate` command (`add_command` as in `build_parser`)."""
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
