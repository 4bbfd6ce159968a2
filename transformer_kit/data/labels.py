"""`LabelEncoder`: class names <-> integer ids, saved as JSON with a run."""

import collections
import json
from pathlib import Path

import numpy as np

from transformer_kit.errors import DataError, RunDirectoryError


def refuse_unseen_labels(unseen, known, source):
    """A `DataError` listing labels the model was not trained on, if there are any.

    Args:
        unseen: `collections.Counter` of unknown label -> rows carrying it.
        known: the class names the model knows.
        source: where the labels came from (e.g. a file name).
    """
    if not unseen:
        return
    shown = ", ".join(f"{name!r} ({n} rows)" for name, n in unseen.most_common(10))
    more = f" and {len(unseen) - 10} more" if len(unseen) > 10 else ""
    raise DataError(
        f"{source} has labels the model was not trained on: {shown}{more}. "
        f"Known classes: {', '.join(repr(c) for c in known)}. "
        "Fix or remove those rows, or retrain with examples of these classes in the training data."
    )


class LabelEncoder:
    """Maps string class names to ids `0..num_classes-1` and back.

    The class order is stable and human-predictable, so the same training
    labels always give the same ids: when every label is an integer written as
    a string (`"0"`, `"1"`, `"10"`) classes are sorted numerically, otherwise
    lexicographically. The encoder is stored as plain JSON (never pickle) next
    to every trained model.

    Args:
        classes: list of str. The class names; position is the id.

    Example:

    >>> encoder = LabelEncoder.fit(["spam", "ham", "ham"])
    >>> encoder.classes_
    ['ham', 'spam']
    >>> encoder.encode(["spam", "ham"])
    array([1, 0], dtype=int32)
    >>> encoder.decode([1])
    array(['spam'], dtype='<U4')
    """

    def __init__(self, classes):
        classes = [str(c) for c in classes]
        if len(set(classes)) != len(classes):
            raise ValueError(f"`classes` contains duplicates: {classes}")
        self.classes_ = classes
        self._index = {name: i for i, name in enumerate(classes)}

    @classmethod
    def fit(cls, labels):
        """Learn the classes from training labels.

        Args:
            labels: iterable of str (or values convertible to str).

        Returns:
            A `LabelEncoder`.

        Raises:
            DataError: fewer than two distinct classes.
        """
        names = {str(label) for label in labels}
        if len(names) < 2:
            found = f"only class {next(iter(names))!r}" if names else "no labels"
            raise DataError(
                f"The training labels contain {found}; a classifier needs at "
                "least two classes. Check --label-column, or add examples of "
                "the other class(es)."
            )
        if all(_is_integer(name) for name in names):
            # (int, str) so "1" and "01" keep a deterministic order too.
            ordered = sorted(names, key=lambda name: (int(name), name))
        else:
            ordered = sorted(names)
        return cls(ordered)

    @property
    def num_classes(self):
        return len(self.classes_)

    def encode(self, labels, source="the data"):
        """Class names -> int32 ids.

        Args:
            labels: iterable of str.
            source: str, default `"the data"`. Where the labels came from
                (e.g. a file name), for the error message.

        Returns:
            `np.ndarray` of int32, same length as `labels`.

        Raises:
            DataError: some labels were not seen during `fit`; lists up to 10
                of them with their counts, and the known classes.
        """
        labels = [str(label) for label in labels]
        refuse_unseen_labels(collections.Counter(label for label in labels if label not in self._index),
                             self.classes_, source)
        return np.array([self._index[label] for label in labels], dtype=np.int32)

    def decode(self, ids):
        """Integer ids -> class names.

        Args:
            ids: iterable of int in `[0, num_classes)`.

        Returns:
            `np.ndarray` of str.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(
                f"Class ids must be in [0, {self.num_classes}); got "
                f"min {ids.min()}, max {ids.max()}."
            )
        return np.array(self.classes_, dtype=str)[ids]

    def to_json(self, path):
        """Write the classes to `path` as JSON."""
        payload = {"type": "transformer_kit.LabelEncoder", "classes": self.classes_}
        Path(path).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")

    @classmethod
    def from_json(cls, path):
        """Read an encoder written by `to_json`.

        Raises:
            RunDirectoryError: the file is missing or not a label encoder.
        """
        path = Path(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            classes = payload["classes"]
            if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
                raise TypeError("'classes' must be a list of strings")
            return cls(classes)
        except FileNotFoundError:
            raise RunDirectoryError(
                f"{path}: label file not found. Point at a complete run "
                "directory (it is written by training)."
            ) from None
        except (ValueError, KeyError, TypeError) as error:
            raise RunDirectoryError(
                f"{path} is not a valid label encoder file ({error}). It may "
                "have been edited; restore it from the run directory or retrain."
            ) from None

    def __eq__(self, other):
        return isinstance(other, LabelEncoder) and other.classes_ == self.classes_

    def __repr__(self):
        return f"LabelEncoder(classes={self.classes_!r})"


def _is_integer(text):
    try:
        int(text)
    except ValueError:
        return False
    return True
