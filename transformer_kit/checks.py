"""Argument checks shared by the configuration, the layers and the model builders.

Each check raises ``ValueError`` naming the argument, the value received and
what is expected, so a bad hyper-parameter fails where it is given rather than
deep inside a TensorFlow kernel. Plain Python only: `transformer_kit.config`
(and through it the command line's `--help`) imports this module without
loading TensorFlow or Keras.
"""


def check_positive_int(name, value):
    """Raise ``ValueError`` unless ``value`` is an int > 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}.")
    return value


def check_rate(name, value):
    """Raise ``ValueError`` unless ``0 <= value < 1``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"`{name}` must be a float in [0, 1), got {value!r}.")
    return float(value)


def check_choice(name, value, choices):
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(repr(c) for c in choices)}; got {value!r}."
        )
    return value
