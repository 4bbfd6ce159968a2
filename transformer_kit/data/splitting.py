"""`stratified_split`: carve a validation set out of the training rows."""

import collections

import numpy as np
from sklearn.model_selection import train_test_split

from transformer_kit.errors import DataError


def stratified_split(labels, test_size=0.1, seed=0):
    """Split row indices so each class keeps its share in both parts.

    Stratifying matters for imbalanced data (e.g. 13% spam): a plain random
    10% split of a small file can leave a rare class out of validation
    entirely, and then validation accuracy says nothing about it.

    Args:
        labels: sequence of str, one per row.
        test_size: float in (0, 1) (fraction) or int (rows), default 0.1.
            Size of the held-out part.
        seed: int, default 0. The same seed gives the same split.

    Returns:
        `(train_indices, test_indices)`: two sorted int64 `np.ndarray`s of
        row positions that partition `range(len(labels))`.

    Raises:
        DataError: a class has fewer than 2 rows, or the held-out part is
            too small to contain one row of every class.

    Example:

    >>> train_idx, val_idx = stratified_split(["a"] * 9 + ["b"] * 9, 0.25)
    >>> len(train_idx), len(val_idx)
    (13, 5)
    """
    labels = np.asarray([str(label) for label in labels])
    counts = collections.Counter(labels.tolist())
    fix = (
        "Add examples of these classes, merge or remove them, or pass an "
        "explicit validation file with --validation-data."
    )
    tiny = {name: n for name, n in counts.items() if n < 2}
    if tiny:
        listed = ", ".join(f"{name!r} ({n} row)" for name, n in sorted(tiny.items()))
        raise DataError(
            f"Cannot make a stratified validation split: class(es) {listed} "
            f"need at least 2 rows, one for training and one for validation. {fix}"
        )
    try:
        train, test = train_test_split(
            np.arange(len(labels)),
            test_size=test_size,
            random_state=seed,
            stratify=labels,
        )
    except ValueError as error:
        # sklearn: "The test_size = 2 should be greater or equal to the
        # number of classes = 3", or the train side too small likewise.
        smallest = sorted(counts.items(), key=lambda item: item[1])[:5]
        listed = ", ".join(f"{name!r} ({n} rows)" for name, n in smallest)
        raise DataError(
            f"Cannot make a stratified validation split of {test_size} from "
            f"{len(labels)} rows with {len(counts)} classes ({error}). Smallest "
            f"classes: {listed}. Hold out a larger fraction (test_size), or: {fix}"
        ) from None
    return np.sort(train), np.sort(test)


def random_split(num_rows, test_size=0.1, seed=0):
    """Split row indices at random (seeded), for rows that carry label sets.

    Label sets have no class to stratify on (a text may have several labels,
    or none); a random split keeps every label's share in expectation.

    Returns:
        `(train_indices, test_indices)`, sorted int64 arrays.

    Example:

    >>> train_idx, val_idx = random_split(10, 0.2)
    >>> len(train_idx), len(val_idx)
    (8, 2)
    """
    if num_rows < 2:
        raise DataError(f"Cannot hold out validation rows from {num_rows} row(s); give more data or --validation-data.")
    train, test = train_test_split(np.arange(num_rows), test_size=test_size, random_state=seed)
    return np.sort(train), np.sort(test)
