"""The options several commands share, and the options read from `transformer_kit.config`.

Every option that sets a `ModelConfig`/`TrainingConfig` field is added with
`_setting`, which writes its "Default:" sentence from the dataclass field (and
the presets), so a new setting is declared once in config.py plus one
`_setting` line in its command's module.
"""

import argparse
import dataclasses

from transformer_kit.config import PRESETS, ModelConfig, TrainingConfig

# As transformer_kit.data.label_sets.DEFAULT_SEPARATOR (not imported: --help stays light).
DEFAULT_LABEL_SEPARATOR = "|"


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


def _setting(group, name, type_, metavar, text, choices=None, default_text=None, **options):
    """Add the option of the `ModelConfig`/`TrainingConfig` field `name`.

    Its "Default:" sentence is written from the dataclass (and the presets
    that set it), so the help can never disagree with the code.

    Args:
        group: the parser or argument group to add the option to.
        name: the field; the option is `--name-with-dashes`, its dest `name`.
        type_, metavar: argparse's, unless `choices` or an `action` is given.
        text: the help, without its "Default:" sentence.
        choices: the values allowed, if a fixed few.
        default_text: the default as the help states it, instead of the
            field's; "" leaves the "Default:" sentence out (the help says it).
        **options: more `add_argument` keywords: an `action` for a flag
            (`store_const`, `store_true`), or the `default` argparse sets
            when the option is left out (else `None`: "not given").

    Example:
        >>> import argparse
        >>> parser = argparse.ArgumentParser()
        >>> _setting(parser, "epochs", int, "N", "Maximum epochs.")
        >>> parser.parse_args(["--epochs", "3"]).epochs, parser.parse_args([]).epochs
        (3, None)
        >>> [action.help for action in parser._actions if action.dest == "epochs"]
        ['Maximum epochs. Default: 10.']
    """
    if default_text is None:
        default_text = _format_default(_field_default(name))
        by_preset = {preset: values[name] for preset, values in PRESETS.items() if name in values}
        if by_preset:
            default_text = "from --preset (" + ", ".join(
                f"{preset}: {_format_default(value)}" for preset, value in by_preset.items()
            ) + ")"
    if "action" in options:  # a flag: no value to convert or name
        kwargs = {}
    else:
        kwargs = {"choices": choices} if choices else {"type": type_, "metavar": metavar}
    help_text = f"{text} Default: {default_text}." if default_text else text
    group.add_argument(
        "--" + name.replace("_", "-"),
        dest=name,
        help=help_text.replace("%", "%%"),
        **kwargs,
        **options,
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


def _text_column(names):
    """--text-column given once or several times: a name, a list of names, or `None` when not given."""
    if not names:
        return None
    return names[0] if len(names) == 1 else list(names)
