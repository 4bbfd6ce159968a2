"""Classification metrics, computed with scikit-learn from predicted probabilities."""

import numpy as np
from sklearn import metrics


def evaluate_probabilities(true_ids, probabilities, class_names):
    """Score predicted class probabilities against true class ids.

    Args:
        true_ids: int array `(n,)` of true class ids.
        probabilities: float array `(n, num_classes)`, one column per class.
        class_names: list of str, the name of each class id.

    Returns:
        A JSON-serializable dict: `accuracy`, `macro_precision`,
        `macro_recall`, `macro_f1`, `per_class` (precision, recall, f1,
        support per class name), `roc_auc` (binary only; `None` when the data
        holds a single class), `confusion_matrix` (rows = true, columns =
        predicted, in `class_names` order), `classification_report` (the
        scikit-learn text report) and `num_examples`.

    Example:

    >>> result = evaluate_probabilities([0, 1, 1], np.array([[.9, .1], [.2, .8], [.6, .4]]), ["no", "yes"])
    >>> round(result["accuracy"], 3), result["confusion_matrix"]
    (0.667, [[1, 0], [1, 1]])
    """
    true_ids = np.asarray(true_ids)
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    label_ids = list(range(len(class_names)))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        true_ids, predicted, labels=label_ids, zero_division=0
    )
    result = {
        "num_examples": int(len(true_ids)),
        "accuracy": float(metrics.accuracy_score(true_ids, predicted)),
        "macro_precision": float(np.mean(precision)),
        "macro_recall": float(np.mean(recall)),
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "roc_auc": None,
        "confusion_matrix": metrics.confusion_matrix(
            true_ids, predicted, labels=label_ids
        ).tolist(),
        "classification_report": metrics.classification_report(
            true_ids,
            predicted,
            labels=label_ids,
            target_names=[str(name) for name in class_names],
            digits=4,
            zero_division=0,
        ),
    }
    if len(class_names) == 2 and len(np.unique(true_ids)) == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(true_ids, probabilities[:, 1]))
    return result


def format_metrics(result, title="Metrics"):
    """A short text table of the headline metrics, then the per-class report."""
    lines = [title, "-" * len(title)]
    for key in ("num_examples", "accuracy", "macro_precision", "macro_recall", "macro_f1", "roc_auc"):
        value = result.get(key)
        if value is None:
            continue
        lines.append(f"{key:<16} {value:.4f}" if isinstance(value, float) else f"{key:<16} {value}")
    lines.append("")
    lines.append(result["classification_report"].rstrip())
    return "\n".join(lines)
