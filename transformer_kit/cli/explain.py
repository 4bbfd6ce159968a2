"""`transformer-kit explain`: show which tokens made a run or an export decide."""

import json
import logging
import sys
from pathlib import Path

from transformer_kit.cli.options import _add_column_arguments
from transformer_kit.cli.predict import _looks_exported

log = logging.getLogger(__name__)

EXPLAIN_EXAMPLES = """\
examples:
  transformer-kit explain runs/spam "WINNER! Claim your free prize now"
  transformer-kit explain runs/spam data/sms_spam_test.csv --html spam.html
  echo "this film was a waste of time" | transformer-kit explain exports/sst2 -
"""


def add_parser(add_command):
    """Add the `explain` command (`add_command` as in `build_parser`)."""
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
