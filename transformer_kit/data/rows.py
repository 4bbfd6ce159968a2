"""The row rules: which cells are texts and labels, which rows are usable, and why not.

One statement of each rule, applied to every chunk `TextSource` reads, so a
file gives the same texts and labels whether it is read into memory or
streamed: `as_text_list` (any value -> str, a missing one -> `""`),
`labels_to_strings`, `require_column` (a missing column, with a "Did you
mean"), `require_text_cells` (a JSON list where a text belongs) and
`usable_rows` (rows without text or label, counted by reason).
"""

import difflib

import numpy as np
import pandas as pd

from transformer_kit.data.formats import join_text_columns
from transformer_kit.data.paths import shorten
from transformer_kit.errors import DataError

# Column names people use for texts and labels, for "Did you mean" hints when
# the name is not merely misspelled ("sentence" is nothing like "text").
_COMMON_NAMES = {
    "text": ("sentence", "review", "content", "message", "body", "document",
             "comment", "tweet", "question", "headline", "title", "text_a"),
    "label": ("labels", "class", "category", "target", "sentiment", "y", "tag",
              "topic", "intent"),
}


def as_text_list(texts):
    """Texts as a list of str, with one rule for missing values.

    This is how every part of transformer_kit turns user texts into strings:
    a missing value (`None`, `NaN`, `pd.NA`, `NaT`) becomes the empty text
    `""` (never `"nan"`), bytes are decoded as UTF-8, and any other value
    becomes `str(value)`.

    Args:
        texts: a list, tuple, NumPy array, `pandas.Series` (or any other
            iterable) of texts; a 2-D array or DataFrame with one column is
            read as that column.

    Returns:
        list of str, one per input text.

    Raises:
        DataError: `texts` is a single string (wrap it in a list), `None`, or
            a table with more than one column.

    Example:

    >>> as_text_list(["fine", None, float("nan"), pd.NA, 42, b"caf\\xc3\\xa9"])
    ['fine', '', '', '', '42', 'café']
    >>> as_text_list("one text")
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: Expected a list of texts, got a single string. Wrap it in a list: ['one text'].
    """
    if isinstance(texts, (str, bytes)):
        shown = repr(texts if len(texts) <= 40 else texts[:37] + "...")
        raise DataError(f"Expected a list of texts, got a single string. Wrap it in a list: [{shown}].")
    if texts is None:
        raise DataError("Expected a list of texts, got None.")
    if isinstance(texts, pd.DataFrame) or getattr(texts, "ndim", 1) > 1:
        width = texts.shape[1] if len(texts.shape) == 2 else None
        if width != 1:
            raise DataError(
                f"Expected a list of texts, got a table of shape {tuple(texts.shape)}. "
                "Pass its text column only, e.g. frame['text']."
            )
        texts = texts.iloc[:, 0] if isinstance(texts, pd.DataFrame) else np.asarray(texts)[:, 0]
    return [_text_of(value) for value in texts]


def _text_of(value):
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if is_missing(value) else str(value)


def is_missing(value):
    """Whether a cell holds no value: None, NaN, pd.NA or NaT (not "" or "NA").

    Example:

    >>> [is_missing(value) for value in (None, float("nan"), pd.NA, "", "NA")]
    [True, True, True, False, False]
    """
    return value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def labels_to_strings(column):
    """Labels as stripped strings, "" when missing.

    DataFrames with integer labels and a missing value store them as floats
    (1.0, NaN); those are written back as "1" so they match "1" in a CSV.

    Example:

    >>> labels_to_strings(pd.Series([1.0, None, 0.0])).tolist(), labels_to_strings(pd.Series([" spam "])).tolist()
    (['1', '', '0'], ['spam'])
    """
    values = column.dropna()
    if pd.api.types.is_float_dtype(column) and (values == values.round()).all():
        column = column.map(lambda v: v if pd.isna(v) else str(int(v)))
    return column.map(lambda v: "" if is_missing(v) else str(v).strip())


def require_column(frame, column, role, description):
    """A `DataError` when `frame` lacks `column`: the columns found, the likely one, and the option to pass.

    Args:
        frame: `pandas.DataFrame`.
        column: str, the column wanted.
        role: `"text"` or `"label"`, for the message and the option name.
        description: where the frame came from (a file name).

    Example:

    >>> require_column(pd.DataFrame({"sentence": []}), "text", "text", "a.csv")
    Traceback (most recent call last):
    ...
    transformer_kit.errors.DataError: a.csv: no text column 'text'. Columns found: 'sentence'. Did you mean ...
    """
    if column in frame.columns:
        return
    found = [str(c) for c in frame.columns]
    message = (
        f"{description}: no {role} column {column!r}. "
        f"Columns found: {', '.join(repr(c) for c in found)}."
    )
    suggestion = _closest_column(column, role, found)
    if suggestion:
        message += f" Did you mean {suggestion!r}? Pass --{role}-column {suggestion}."
    else:
        message += f" Pass the right name with --{role}-column."
    if len(found) == 1 and "\t" in found[0]:
        message += (
            " The header contains tabs: the file looks tab-separated, so give "
            "it a .tsv ending."
        )
    elif len(found) == 1 and ";" in found[0]:
        message += " The header contains ';': save the file with commas as separators."
    raise DataError(message)


def _closest_column(column, role, found):
    """A misspelling of `column` first, else a column with a usual name for `role`."""
    lowered = {c.lower().strip(): c for c in found}
    close = difflib.get_close_matches(column.lower(), list(lowered), n=1, cutoff=0.6)
    if close:
        return lowered[close[0]]
    for name in _COMMON_NAMES[role]:
        if name in lowered:
            return lowered[name]
    return None


def require_text_cells(column_values, column, description, numbers, unit="line"):
    """A JSON list or object (or Parquet nested value) where a text belongs is an error, not its repr.

    Args:
        column_values: `pandas.Series`, one text column.
        column: its name.
        description: where it came from.
        numbers: per row, its number in the message.
        unit: `"line"` (files) or `"row"` (a DataFrame).
    """
    nested = column_values.map(lambda value: isinstance(value, (list, dict, tuple, np.ndarray)))
    if not nested.any():
        return
    position = int(np.flatnonzero(nested.to_numpy())[0])
    value = column_values.iloc[position]
    raise DataError(
        f"{description}, {unit} {numbers[position]}: the text column {column!r} holds a {type(value).__name__} "
        f"({shorten(repr(value), quote=False)}), not a text. Pass a column of strings with --text-column, "
        "or join the parts into one string first."
    )


def usable_rows(frame, columns, label_column, require_labels=True, drop_empty_text=True):
    """The texts, labels and the rows to keep of one frame, with the count of rows dropped per reason.

    Args:
        frame: `pandas.DataFrame` holding `columns` (and `label_column`
            when `require_labels`).
        columns: list of text column names, joined as `join_text_columns` says.
        label_column: str; a frame without it has no labels.
        require_labels: bool. Drop rows with an empty label.
        drop_empty_text: bool. Drop rows with a missing or blank text.

    Returns:
        `(texts, labels, keep, dropped)`: `pandas.Series` of str, a Series
        of str or `None`, a boolean Series, and a dict reason -> rows (a row
        is counted once, under its first reason; zero counts omitted).

    Example:

    >>> frame = pd.DataFrame({"text": ["good", None, " ", "bad"], "label": ["a", "b", "a", None]})
    >>> texts, labels, keep, dropped = usable_rows(frame, ["text"], "label")
    >>> texts[keep].tolist(), dropped
    (['good'], {'missing_text': 1, 'empty_text': 1, 'missing_label': 1})
    """
    joined_texts, missing_text = join_text_columns(frame, columns, as_text_list)
    missing_text = missing_text.astype(bool)
    texts = pd.Series(joined_texts, index=frame.index, dtype=object)
    empty_text = ~missing_text & (texts.str.strip() == "")
    keep = pd.Series(True, index=frame.index)
    dropped = {}
    if drop_empty_text:
        keep &= ~missing_text & ~empty_text
        dropped["missing_text"] = int(missing_text.sum())
        dropped["empty_text"] = int(empty_text.sum())
    labels = None
    if label_column in frame.columns:
        labels = labels_to_strings(frame[label_column])
        if require_labels:
            missing_label = labels == ""
            dropped["missing_label"] = int((missing_label & keep).sum())
            keep &= ~missing_label
    return texts, labels, keep, {reason: count for reason, count in dropped.items() if count}
