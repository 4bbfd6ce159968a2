"""Classification metrics, computed with scikit-learn from predicted probabilities."""

import numpy as np
from sklearn import metrics

from transformer_kit.thresholds import apply_thresholds


def evaluate_probabilities(true_ids, probabilities, class_names):
    """Score predicted class probabilities against true class ids.

    Macro averages follow scikit-learn's default (`average="macro"` without
    `labels=`): they are taken over the classes present in the true labels
    or the predictions. A class that has no test rows and is never predicted
    has no precision or recall to speak of; counting it as 0 would make the
    score depend on which classes the test split happens to miss. Such
    classes are listed in `classes_without_test_rows` instead (together with
    any class that has no test rows but was predicted, which does count, as
    in scikit-learn: its precision is 0).

    Args:
        true_ids: int array `(n,)` of true class ids.
        probabilities: float array `(n, num_classes)`, one column per class.
        class_names: list of str, the name of each class id.

    Returns:
        A JSON-serializable dict: `accuracy`, `macro_precision`,
        `macro_recall`, `macro_f1` (averaged as described above),
        `per_class` (precision, recall, f1, support for every class name),
        `classes_without_test_rows` (class names with support 0, in class
        order), `roc_auc` (binary only; `None` when the data holds a single
        class), `confusion_matrix` (rows = true, columns = predicted, every
        class in `class_names` order), `classification_report` (the
        scikit-learn text report over the averaged classes, then a line
        naming the classes without test rows) and `num_examples`.

    Example:

    >>> result = evaluate_probabilities([0, 1, 1], np.array([[.9, .1], [.2, .8], [.6, .4]]), ["no", "yes"])
    >>> round(result["accuracy"], 3), result["confusion_matrix"]
    (0.667, [[1, 0], [1, 1]])

    A class missing from the test rows is left out of the macro averages:

    >>> probabilities = np.eye(3)[[0, 0, 1, 1]]  # predicts a, a, b, b
    >>> result = evaluate_probabilities([0, 1, 1, 1], probabilities, ["a", "b", "c"])
    >>> round(result["macro_f1"], 3), result["classes_without_test_rows"]
    (0.733, ['c'])
    """
    true_ids = np.asarray(true_ids)
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=1)
    all_ids = list(range(len(class_names)))
    averaged_ids = sorted(set(true_ids.tolist()) | set(predicted.tolist()))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        true_ids, predicted, labels=all_ids, zero_division=0
    )
    without_rows = [str(class_names[i]) for i in all_ids if support[i] == 0]
    result = {
        "num_examples": int(len(true_ids)),
        "accuracy": float(metrics.accuracy_score(true_ids, predicted)),
        "macro_precision": float(np.mean(precision[averaged_ids])),
        "macro_recall": float(np.mean(recall[averaged_ids])),
        "macro_f1": float(np.mean(f1[averaged_ids])),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        "classes_without_test_rows": without_rows,
        "roc_auc": None,
        "confusion_matrix": metrics.confusion_matrix(true_ids, predicted, labels=all_ids).tolist(),
        "classification_report": metrics.classification_report(
            true_ids,
            predicted,
            labels=averaged_ids,
            target_names=[str(class_names[i]) for i in averaged_ids],
            digits=4,
            zero_division=0,
        ).rstrip()
        + _without_rows_note(without_rows, len(averaged_ids)),
    }
    if len(class_names) == 2 and len(np.unique(true_ids)) == 2:
        result["roc_auc"] = float(metrics.roc_auc_score(true_ids, probabilities[:, 1]))
    return result


def _without_rows_note(without_rows, num_averaged):
    if not without_rows:
        return "\n"
    return (
        f"\n\nClasses with no test rows ({len(without_rows)}): {', '.join(without_rows)}.\n"
        f"Macro averages are over the {num_averaged} classes in the test labels or predictions.\n"
    )


def format_metrics(result, title="Metrics"):
    """A short text table of the headline metrics, then the per-class report.

    Example:

    >>> result = evaluate_probabilities([0, 1], np.eye(3)[[0, 1]], ["a", "b", "c"])
    >>> print(format_metrics(result))  # doctest: +ELLIPSIS
    Metrics
    -------
    num_examples     2
    accuracy         1.0000
    ...
    Classes with no test rows (1): c.
    Macro averages are over the 2 classes in the test labels or predictions.
    """
    lines = [title, "-" * len(title)]
    keys = ("num_examples", "accuracy", "macro_precision", "macro_recall", "macro_f1", "roc_auc")
    if "exact_match" in result:  # multi-label (evaluate_label_sets)
        keys = ("num_examples", "micro_f1", "macro_f1", "samples_f1", "exact_match", "hamming_loss")
    for key in keys:
        value = result.get(key)
        if value is None:
            continue
        lines.append(f"{key:<16} {value:.4f}" if isinstance(value, float) else f"{key:<16} {value}")
    lines.append("")
    lines.append(result["classification_report"].rstrip())
    return "\n".join(lines)


def evaluate_label_sets(indicator, probabilities, class_names, thresholds):
    """Score multi-label probabilities against true label sets.

    A text gets every label whose probability reaches that label's threshold.
    Averages are scikit-learn's over all labels, with `zero_division=0`,
    except the sample average, where a text with no true and no predicted
    label counts as a perfect 1 (predicting nothing was right).

    Args:
        indicator: 0/1 array `(n, labels)`, the true label sets.
        probabilities: float array `(n, labels)`.
        class_names: list of str, the label of each column.
        thresholds: float or float array `(labels,)`.

    Returns:
        A JSON-serializable dict: `num_examples`, `micro_f1`, `macro_f1`,
        `samples_f1`, `micro_precision`, `micro_recall`, `macro_precision`,
        `macro_recall`, `exact_match` (share of texts whose predicted set
        is exactly the true one), `hamming_loss` (share of wrong text-label
        decisions), `label_cardinality` (true, predicted: labels per text),
        `per_class` (precision, recall, f1, support and threshold per label),
        `classes_without_test_rows` and `classification_report`.

    Example:

    >>> truth = np.array([[1, 0], [1, 1], [0, 0]])
    >>> result = evaluate_label_sets(truth, np.array([[.9, .2], [.6, .3], [.1, .1]]), ["a", "b"], 0.5)
    >>> result["micro_f1"], result["exact_match"], result["hamming_loss"]
    (0.8, 0.6666666666666666, 0.16666666666666666)
    """
    truth = np.asarray(indicator).astype(int)
    predicted = apply_thresholds(np.asarray(probabilities), thresholds).astype(int)
    labels = list(range(len(class_names)))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    thresholds = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(class_names),))
    result = {"num_examples": int(len(truth))}
    for average in ("micro", "macro"):
        p, r, f, _ = metrics.precision_recall_fscore_support(truth, predicted, average=average, zero_division=0)
        result.update({f"{average}_precision": float(p), f"{average}_recall": float(r), f"{average}_f1": float(f)})
    result.update({
        "samples_f1": float(metrics.f1_score(truth, predicted, average="samples", zero_division=1)),
        "exact_match": float(metrics.accuracy_score(truth, predicted)),
        "hamming_loss": float(metrics.hamming_loss(truth, predicted)),
        "label_cardinality": {"true": float(truth.sum(axis=1).mean()) if len(truth) else 0.0,
                              "predicted": float(predicted.sum(axis=1).mean()) if len(truth) else 0.0},
        "per_class": {
            str(name): {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                        "support": int(support[i]), "threshold": float(thresholds[i])}
            for i, name in enumerate(class_names)
        },
        "classes_without_test_rows": [str(class_names[i]) for i in labels if support[i] == 0],
        "classification_report": metrics.classification_report(
            truth, predicted, labels=labels, target_names=[str(name) for name in class_names], digits=4,
            zero_division=0,
        ).rstrip() + "\n",
    })
    return result
