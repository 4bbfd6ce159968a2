"""The options several commands share, and the options read from `transformer_kit.config`.

Every option that sets a `ModelConfig`/`TrainingConfig` field is built by
`add_setting` from the field's metadata (its help, value name and type, given
by `transformer_kit.config.setting`), with a "Default:" sentence written from
the field's default and the presets: a new setting is declared once, in
config.py.
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


def setting_fields():
    """The fields of `ModelConfig` and `TrainingConfig`, in the order they are declared."""
    return [field for config in (ModelConfig, TrainingConfig) for field in dataclasses.fields(config)]


def add_setting(group, field, default=None):
    """Add the option of a `ModelConfig`/`TrainingConfig` field, as its metadata describes it.

    The field is declared with `transformer_kit.config.setting`, which gives
    the help and how the value is read; its "Default:" sentence is written
    here from the field's default (and the presets that set it), so the help
    can never disagree with the code.

    Args:
        group: the parser or argument group to add the option to.
        field: a `dataclasses.Field`; the option is `--name-with-dashes`,
            its dest the field's name.
        default: the value argparse sets when the option is left out:
            `None` means "not given" (the preset or the field decides).

    Example:
        >>> import argparse, dataclasses
        >>> from transformer_kit.config import TrainingConfig
        >>> parser = argparse.ArgumentParser()
        >>> epochs = next(f for f in dataclasses.fields(TrainingConfig) if f.name == "epochs")
        >>> add_setting(parser, epochs)
        >>> parser.parse_args(["--epochs", "3"]).epochs, parser.parse_args([]).epochs
        (3, None)
        >>> [action.help for action in parser._actions if action.dest == "epochs"]
        ['Maximum epochs per transformer (early stopping usually ends sooner). Default: 10.']
    """
    if "help" not in field.metadata:
        raise TypeError(f"Declare the config field {field.name!r} with config.setting(...) or config.python_only(...).")
    option = dict(field.metadata["option"])
    default_text = option.pop("default_text", None)
    if default_text is None:
        default_text = _default_text(field)
    help_text = field.metadata["help"]
    help_text = f"{help_text} Default: {default_text}." if default_text else help_text
    kwargs = {"help": help_text.replace("%", "%%")}
    if default is not None:
        kwargs["default"] = default
    if "action" in option:  # a flag: no value to convert or name
        kwargs.update(action=option["action"], **({"const": option["const"]} if "const" in option else {}))
    elif "choices" in option:
        kwargs["choices"] = list(option["choices"])
    else:
        convert = option["type"]
        kwargs.update(type=_auto_or(convert, option["auto"]) if "auto" in option else convert,
                      metavar=field.metadata["metavar"])
    group.add_argument("--" + field.name.replace("_", "-"), dest=field.name, **kwargs)


def _default_text(field):
    """The default as the help states it: the field's, or each preset's when presets set it.

    A field only some presets set says so, and what the others get:
    "from --preset (small: 32; others: 64)".
    """
    by_preset = {preset: values[field.name] for preset, values in PRESETS.items() if field.name in values}
    if not by_preset:
        return _format_default(field.default)
    others = "" if len(by_preset) == len(PRESETS) else f"; others: {_format_default(field.default)}"
    return "from --preset (" + ", ".join(
        f"{preset}: {_format_default(value)}" for preset, value in by_preset.items()
    ) + others + ")"


def _field_default(name):
    for field in setting_fields():
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
