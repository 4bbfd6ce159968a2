"""`transformer-kit export`: export a run as a SavedModel that takes raw strings."""

import logging

from transformer_kit.config import EXPLAIN_STEPS

log = logging.getLogger(__name__)


def add_parser(add_command):
    """Add the `export` command (`add_command` as in `build_parser`)."""
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


def run_export(args):
    from transformer_kit.classifier import TextClassifier

    log.info("Loading the classifier in %s to export it as a SavedModel for serving", args.run_dir)
    classifier = TextClassifier.load(args.run_dir, verbose=0)
    path = classifier.export(args.out_dir, version=args.version, overwrite=args.overwrite,
                             explain_steps=args.explain_steps)
    print(f"Exported a SavedModel to {path}")
    return 0
