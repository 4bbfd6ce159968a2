"""Argument checks of the layers: the plain checks of `transformer_kit.checks`.

They live outside `layers/` so that the configuration can use them without
importing Keras (importing any `transformer_kit.layers` module runs the
package's `__init__`, which imports every layer).
"""

from transformer_kit.checks import check_choice, check_positive_int, check_rate

__all__ = ["check_choice", "check_positive_int", "check_rate"]
