"""Multi-label data: label sets per text, `LabelSetEncoder` (label names <-> 0/1 columns).

A multi-label text carries a set of labels, possibly empty. Files give the
set as one delimited cell (`"anger|fear"`, separator `|` by default) or as
several 0/1 columns (`--label-columns anger,fear`). An empty label cell means
"none of the labels" (most sentences of a tagging corpus carry no tag), not a
missing value, so such rows are kept; the data report counts them.

Inside the toolkit a label set is a sorted tuple of label names.
"""

import collections
import json
from pathlib import Path

import numpy as np
import pandas as pd

from transformer_kit.data.dataset import TextDataset
from transformer_kit.data.labels import LabelEncoder, refuse_unseen_labels
from transformer_kit.data.rows import as_text_list, is_missing
from transformer_kit.data.source import TextSource
from transformer_kit.errors import DataError

DEFAULT_SEPARATOR = "|"
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no", ""}


def split_label_cell(value, separator=DEFAULT_SEPARATOR):
    """One label cell -> a sorted tuple of label names (empty or missing: `()`).

    Args:
        value: str (labels joined with `separator`), an iterable of label
            names (list, tuple, set), or a missing value (`None`, NaN).
        separator: str, default `"|"`.

    Example:

    >>> split_label_cell("joy | anger|joy")
    ('anger', 'joy')
    >>> split_label_cell(""), split_label_cell(None), split_label_cell(["b", "a"])
    ((), (), ('a', 'b'))
    """
    if is_missing(value):
        return ()
    parts = value.split(separator) if isinstance(value, str) else (str(v) for v in value)
    return tuple(sorted({part.strip() for part in parts if part.strip()}))


class LabelSetEncoder(LabelEncoder):
    """Label names <-> columns of a 0/1 indicator matrix, one column per label.

    The label order follows `LabelEncoder` (numeric if every name is an
    integer, else sorted), and the JSON file has the same shape with type
    `transformer_kit.LabelSetEncoder`.

    Args:
        classes: list of str, the label names; position is the column.

    Example:

    >>> encoder = LabelSetEncoder.fit([("joy",), ("anger", "joy"), ()])
    >>> encoder.classes_
    ['anger', 'joy']
    >>> encoder.encode([("joy",), ()]).tolist()
    [[0.0, 1.0], [0.0, 0.0]]
    >>> encoder.decode([[1, 1], [0, 0]])
    [('anger', 'joy'), ()]
    """

    @classmethod
    def fit(cls, label_sets):
        """Learn the label names from training label sets.

        Raises:
            DataError: fewer than two distinct labels.
        """
        names = {name for labels in label_sets for name in labels}
        if len(names) < 2:
            found = f"only label {next(iter(names))!r}" if names else "no labels at all"
            raise DataError(
                f"The training label sets contain {found}; multi-label classification needs at least "
                "two labels. Check --label-column/--label-columns and --label-separator, or train a "
                "binary classifier without --multi-label."
            )
        return cls(LabelEncoder.fit(names).classes_)

    def encode(self, label_sets, source="the data"):
        """Label sets -> float32 indicator matrix `(rows, labels)`.

        Raises:
            DataError: some labels were not seen during `fit`.
        """
        label_sets = list(label_sets)
        unseen = collections.Counter(name for labels in label_sets for name in labels if name not in self._index)
        refuse_unseen_labels(unseen, self.classes_, source)
        indicator = np.zeros((len(label_sets), len(self.classes_)), dtype=np.float32)
        for row, labels in enumerate(label_sets):
            indicator[row, [self._index[name] for name in labels]] = 1.0
        return indicator

    def decode(self, indicator):
        """0/1 (or boolean) matrix `(rows, labels)` -> list of label-name tuples."""
        indicator = np.asarray(indicator).reshape(-1, len(self.classes_)).astype(bool)
        return [tuple(self.classes_[i] for i in np.flatnonzero(row)) for row in indicator]

    def to_json(self, path):
        """Write the label names to `path` as JSON."""
        payload = {"type": "transformer_kit.LabelSetEncoder", "classes": self.classes_}
        Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def as_label_set_dataset(data, labels=None, text_column="text", label_column="label", label_columns=None,
                         separator=DEFAULT_SEPARATOR, role="data", encoding=None):
    """Any of the forms `TextClassifier` accepts, with label sets, as a `TextDataset`.

    Rows with no text are dropped as in single-label data; rows with an empty
    label cell (or all 0 in `label_columns`) are kept with the empty set.
    `TextDataset.labels` holds sorted tuples of label names.

    Args:
        data: texts (with `labels`), a `(texts, labels)` pair, a
            `TextDataset`, or what `load_csv_dataset` reads (path(s),
            DataFrame).
        labels: per text a delimited string or an iterable of names; or a
            0/1 matrix (numpy array: labels named `"0"`, `"1"`...; DataFrame:
            named after its columns); or `None`.
        text_column, label_column: column names in files and DataFrames.
        label_columns: list of 0/1 column names (one per label) instead of
            `label_column`, or `None`.
        separator: str between labels in one cell.
        role: what the data is for, in error messages.
        encoding: file encoding, as for `load_csv_dataset`.

    Example:

    >>> dataset = as_label_set_dataset(["sad and angry", "fine", None], ["anger|sadness", "", "joy"])
    >>> dataset.texts, dataset.labels
    (['sad and angry', 'fine'], [('anger', 'sadness'), ()])
    >>> as_label_set_dataset(["a", "b"], pd.DataFrame({"x": [1, 0], "y": [1, 1]})).labels
    [('x', 'y'), ('y',)]
    """
    if labels is None and isinstance(data, tuple) and len(data) == 2:
        data, labels = data
    if labels is not None:
        return _from_texts_and_labels(data, labels, separator, role)
    if isinstance(data, TextDataset):
        if data.labels is None:
            raise DataError(f"The {role} has no labels.")
        return _with_label_sets(data, [split_label_cell(value, separator) for value in data.labels])
    first_column = label_columns[0] if label_columns else label_column
    dataset = TextSource(data, None, text_column, first_column, encoding, role).read(require_labels=False)
    if label_columns:
        missing = [column for column in label_columns if column not in dataset.frame.columns]
        if missing:
            raise DataError(
                f"{dataset.source} has no label column(s) {', '.join(map(repr, missing))}; "
                f"found columns: {', '.join(map(repr, dataset.frame.columns))}. Check --label-columns."
            )
        indicator = np.column_stack([_binary_column(dataset.frame[c], c, dataset.source) for c in label_columns])
        return _with_label_sets(dataset, _rows_to_sets(indicator, [str(c) for c in label_columns]))
    if label_column not in dataset.frame.columns:
        raise DataError(
            f"{dataset.source} has no label column {label_column!r}; found columns: "
            f"{', '.join(map(repr, dataset.frame.columns))}. Check --label-column, or give 0/1 columns "
            "with --label-columns."
        )
    return _with_label_sets(dataset, [split_label_cell(value, separator) for value in dataset.frame[label_column]])


def _from_texts_and_labels(texts, labels, separator, role):
    if isinstance(labels, pd.DataFrame):
        label_sets = _rows_to_sets(labels.to_numpy(), [str(c) for c in labels.columns])
    elif isinstance(labels, np.ndarray) and labels.ndim == 2:
        label_sets = _rows_to_sets(labels, [str(i) for i in range(labels.shape[1])])
    else:
        label_sets = [split_label_cell(value, separator) for value in labels]
    texts = as_text_list(texts) if not isinstance(texts, pd.Series) else texts.tolist()
    if len(texts) != len(label_sets):
        raise DataError(f"The {role} has {len(texts)} texts but {len(label_sets)} label sets; give one per text.")
    # Through the loader, so empty texts follow the file rules; row_numbers are positions.
    dataset = TextSource(pd.DataFrame({"text": texts}), role=role).read(require_labels=False)
    return _with_label_sets(dataset, [label_sets[i] for i in dataset.row_numbers])


def _rows_to_sets(indicator, names):
    indicator = np.asarray(indicator)
    return [tuple(sorted(names[i] for i in np.flatnonzero(row))) for row in indicator.astype(float) != 0]


def _binary_column(column, name, source):
    values = column.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip().lower())
    bad = sorted(set(values) - _TRUE - _FALSE)
    if bad:
        raise DataError(
            f"{source}: label column {name!r} must hold 0/1 (or true/false), found "
            f"{', '.join(map(repr, bad[:5]))}. Use --label-column with --label-separator for label names."
        )
    return values.isin(_TRUE).to_numpy()


def _with_label_sets(dataset, label_sets):
    return TextDataset(texts=dataset.texts, labels=list(label_sets), frame=dataset.frame, source=dataset.source,
                       dropped=dataset.dropped, row_numbers=dataset.row_numbers)
