"""Errors that transformer_kit raises for problems the user can fix.

The CLI turns these into a one-paragraph message and exit code 2 instead of a
traceback, so every message must say what is wrong (file, column, row or
value) and what to do about it.
"""


class TransformerKitError(Exception):
    """Base class for errors caused by user input or configuration."""


class DataError(TransformerKitError, ValueError):
    """The data (file, columns, labels, rows) cannot be used as given.

    It is also a `ValueError`, so code that catches bad values catches it.

    Example:

    >>> raise DataError("data.csv: no column 'text'. Columns found: 'sentence', "
    ...                 "'label'. Did you mean 'sentence'? Pass --text-column sentence.")
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: data.csv: no column 'text'. Columns found: 'sentence', 'label'. ...
    >>> issubclass(DataError, ValueError)
    True
    """


class RunDirectoryError(TransformerKitError):
    """A run or export directory is missing, incomplete, tampered with, or already exists."""
