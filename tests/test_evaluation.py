"""Tests of transformer_kit.evaluation: metrics agree with scikit-learn's defaults."""

import warnings

import numpy as np
import pytest
from sklearn import metrics

from transformer_kit.evaluation import evaluate_probabilities, format_metrics


def _predictions_with_absent_classes(num_classes=50, absent=8, rows=400, seed=0):
    """True ids that never use the last `absent` classes; predictions that sometimes do."""
    rng = np.random.default_rng(seed)
    true_ids = rng.integers(0, num_classes - absent, size=rows)
    predicted = np.where(rng.random(rows) < 0.7, true_ids, rng.integers(0, num_classes - absent, size=rows))
    # One absent class is predicted, so it counts in scikit-learn's macro
    # average; the other absent classes are never predicted and do not.
    predicted[:3] = num_classes - 1
    probabilities = np.full((rows, num_classes), 0.1 / num_classes)
    probabilities[np.arange(rows), predicted] = 0.9
    return true_ids, predicted, probabilities


def test_macro_averages_match_scikit_learn_default_when_classes_are_absent():
    true_ids, predicted, probabilities = _predictions_with_absent_classes()
    names = [f"class{i:02d}" for i in range(50)]
    result = evaluate_probabilities(true_ids, probabilities, names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the 0/0 precision it sets to 0
        expected = {
            "macro_precision": metrics.precision_score(true_ids, predicted, average="macro"),
            "macro_recall": metrics.recall_score(true_ids, predicted, average="macro"),
            "macro_f1": metrics.f1_score(true_ids, predicted, average="macro"),
        }
    for key, value in expected.items():
        assert result[key] == pytest.approx(value, abs=1e-12), key
    over_all_classes = metrics.f1_score(true_ids, predicted, average="macro", labels=list(range(50)), zero_division=0)
    assert result["macro_f1"] > over_all_classes + 0.05  # the old, wrong average
    assert result["accuracy"] == pytest.approx(metrics.accuracy_score(true_ids, predicted))


def test_classes_without_test_rows_are_listed_and_still_in_per_class_and_confusion_matrix():
    true_ids, predicted, probabilities = _predictions_with_absent_classes()
    names = [f"class{i:02d}" for i in range(50)]
    result = evaluate_probabilities(true_ids, probabilities, names)
    assert result["classes_without_test_rows"] == names[42:]
    assert set(result["per_class"]) == set(names)
    assert result["per_class"]["class49"]["support"] == 0
    confusion = np.asarray(result["confusion_matrix"])
    assert confusion.shape == (50, 50)
    np.testing.assert_array_equal(confusion, metrics.confusion_matrix(true_ids, predicted, labels=list(range(50))))

    report = result["classification_report"]
    assert "Classes with no test rows (8): class42, class43" in report
    assert "Macro averages are over the 43 classes" in report  # 42 true + class49 predicted
    macro_row = next(line for line in report.splitlines() if line.strip().startswith("macro avg"))
    assert float(macro_row.split()[4]) == pytest.approx(result["macro_f1"], abs=1e-4)
    assert "Classes with no test rows (8)" in format_metrics(result)


def test_all_classes_present_gives_a_plain_report_and_binary_roc_auc():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    result = evaluate_probabilities([0, 1, 1, 0], probabilities, ["ham", "spam"])
    assert result["classes_without_test_rows"] == []
    assert "no test rows" not in result["classification_report"]
    assert result["roc_auc"] == pytest.approx(metrics.roc_auc_score([0, 1, 1, 0], probabilities[:, 1]))
    assert result["macro_f1"] == pytest.approx(metrics.f1_score([0, 1, 1, 0], [0, 1, 0, 1], average="macro"))
    text = format_metrics(result, title="Test")
    assert text.startswith("Test\n----\nnum_examples     4\naccuracy         0.5000")
    assert "roc_auc" in text


def test_single_class_test_set_has_no_roc_auc():
    result = evaluate_probabilities([1, 1], np.array([[0.2, 0.8], [0.7, 0.3]]), ["no", "yes"])
    assert result["roc_auc"] is None
    assert result["classes_without_test_rows"] == ["no"]
    # "no" is predicted once, so it counts in the average (precision 0), as in scikit-learn.
    assert result["macro_f1"] == pytest.approx(metrics.f1_score([1, 1], [1, 0], average="macro", zero_division=0))
