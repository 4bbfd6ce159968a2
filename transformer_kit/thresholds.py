"""Per-label decision thresholds for multi-label classification, chosen on held-out data.

A multi-label model gives each label an independent probability; a text gets
every label whose probability reaches that label's threshold. 0.5 is rarely
best: rare labels get low probabilities, and a lower threshold trades
precision for recall where F1 gains. So each label gets the threshold that
maximizes its F1 on held-out texts (validation data, or a split the scoring
models did not train on), found exactly: every distinct held-out probability
is a candidate, and the threshold is set halfway between the best candidate
and the next lower probability, so that new texts a little below the best
held-out positive still count.

A label with fewer than `MIN_POSITIVES` held-out positives would get a
threshold fitted to a handful of texts; it gets the global threshold instead:
the one that maximizes micro-F1 over all labels at once (0.5 when the
held-out data has too few positives for even that).
"""

import numpy as np

FALLBACK_THRESHOLD = 0.5
MIN_POSITIVES = 5


def best_f1_threshold(truth, probabilities):
    """The threshold that maximizes F1 of `probabilities >= threshold` against 0/1 `truth`.

    Args:
        truth: 0/1 array `(n,)`.
        probabilities: float array `(n,)`.

    Returns:
        `(threshold, f1)`; `(FALLBACK_THRESHOLD, 0.0)` without positives.

    Example:

    >>> best_f1_threshold(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.3, 0.1]))
    (0.35, 1.0)
    """
    truth = np.asarray(truth).astype(bool).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64).ravel()
    positives = truth.sum()
    if positives == 0:
        return FALLBACK_THRESHOLD, 0.0
    order = np.argsort(-probabilities, kind="stable")
    scores, hits = probabilities[order], truth[order]
    # Predicting positive down to row i (ties included) gives these counts.
    last_of_tie = np.r_[scores[1:] != scores[:-1], True]
    true_positives = np.cumsum(hits)[last_of_tie]
    predicted = (np.flatnonzero(last_of_tie) + 1)
    f1 = 2 * true_positives / (predicted + positives)
    best = int(np.argmax(f1))
    candidates = scores[last_of_tie]
    below = candidates[best + 1] if best + 1 < len(candidates) else 0.0
    return float((candidates[best] + below) / 2), float(f1[best])


def choose_thresholds(indicator, probabilities, min_positives=MIN_POSITIVES):
    """One threshold per label, maximizing its F1 on held-out data.

    Args:
        indicator: 0/1 array `(n, labels)`, the true label sets.
        probabilities: float array `(n, labels)`, from models that did not
            train on these rows.
        min_positives: labels with fewer held-out positives get the global
            threshold (see the module docstring).

    Returns:
        `(thresholds, tuned)`: float array `(labels,)`, and a bool array
        saying which labels got a threshold of their own.

    Example:

    >>> truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    >>> scores = np.array([[0.9, 0.2], [0.4, 0.1], [0.2, 0.6], [0.3, 0.3]])
    >>> thresholds, tuned = choose_thresholds(truth, scores, min_positives=2)
    >>> thresholds.round(2).tolist(), tuned.tolist()
    ([0.35, 0.35], [True, False])
    """
    indicator = np.asarray(indicator).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    positives = indicator.sum(axis=0)
    if positives.sum() >= min_positives:
        fallback, _ = best_f1_threshold(indicator.ravel(), probabilities.ravel())
    else:
        fallback = FALLBACK_THRESHOLD
    tuned = positives >= min_positives
    thresholds = np.full(indicator.shape[1], fallback, dtype=np.float64)
    for label in np.flatnonzero(tuned):
        thresholds[label], _ = best_f1_threshold(indicator[:, label], probabilities[:, label])
    return thresholds, tuned


def apply_thresholds(probabilities, thresholds):
    """The 0/1 decisions `probabilities >= thresholds` (one threshold, or one per label)."""
    probabilities = np.asarray(probabilities)
    return probabilities >= np.broadcast_to(np.asarray(thresholds, dtype=probabilities.dtype), probabilities.shape[1:])
