"""`transformer-kit predict`: predict with a run directory or an export, from a file or stdin."""

import logging
import sys
from pathlib import Path

from transformer_kit.cli.options import _add_scoring_arguments, _text_column

log = logging.getLogger(__name__)

PREDICT_EXAMPLES = """\
examples:
  transformer-kit predict runs/spam new_messages.csv --output predictions.csv
  echo "WINNER! claim your prize" | transformer-kit predict runs/spam -
  printf 'Storm\\tHeavy rain\\n' | transformer-kit predict runs/news -    # trained on title and body
  transformer-kit predict exports/spam new_messages.csv     # an exported SavedModel works too
"""


def add_parser(add_command):
    """Add the `predict` command (`add_command` as in `build_parser`)."""
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
