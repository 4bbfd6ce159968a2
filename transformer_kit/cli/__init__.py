"""The `transformer-kit` command line: train, evaluate, predict, explain, info, export.

Every user-fixable problem (bad file, missing column, unseen label, existing
output) is printed as one clear message and exits with status 2; no traceback.

Building the parser imports neither TensorFlow nor Keras, so `--help` answers
at once; TensorFlow is imported, with its C++ logs kept off the terminal
(`transformer_kit.logs.quiet_tensorflow`), only once a command runs. Results
(metrics, predictions) go to stdout; step messages, warnings and errors go to
stderr through the `transformer_kit` logger.

Each command lives in its own module (`train`, `evaluate`, `predict`,
`explain`, `info`, `export`, `serve`, `vectors`: its parser and its `run_*`
function); the options they share, and those read from `transformer_kit.config`,
are in `options`.
"""

import argparse
import logging
import sys

from transformer_kit.cli import evaluate, explain, export, info, predict, serve, train, vectors
from transformer_kit.cli.options import DEFAULT_LABEL_SEPARATOR, _output_options, _text_column
from transformer_kit.cli.predict import _load_predictor, _Predictor
from transformer_kit.cli.train import DEFAULT_TEST_FRACTION, _settings_given

# Names other modules and the tests import from `transformer_kit.cli`.
__all__ = [
    "DEFAULT_LABEL_SEPARATOR",
    "DEFAULT_TEST_FRACTION",
    "EXIT_USAGE",
    "LOG_LEVELS",
    "_Predictor",
    "_load_predictor",
    "_settings_given",
    "_text_column",
    "build_parser",
    "main",
]

EXIT_USAGE = 2
LOG_LEVELS = {"quiet": logging.WARNING, "normal": logging.INFO, "verbose": logging.DEBUG}


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

    # One module per command, each adding its parser: the order of `transformer-kit --help`.
    for command in (train, evaluate, predict, explain, info, export, serve, vectors):
        command.add_parser(add_command)
    return parser


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
