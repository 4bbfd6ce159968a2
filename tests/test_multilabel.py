"""Multi-label classification: label sets, thresholds, metrics, training, saving and export (issue 15)."""

import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
import tensorflow as tf
from sklearn import metrics

from plain_tensorflow import serve_in_plain_tensorflow
from transformer_kit.classifier import TextClassifier
from transformer_kit.config import make_configs
from transformer_kit.data import build_data_report, format_data_report, load_csv_dataset
from transformer_kit.data.label_sets import LabelSetEncoder, as_label_set_dataset, split_label_cell
from transformer_kit.errors import DataError, RunDirectoryError
from transformer_kit.evaluation import evaluate_label_sets, format_metrics
from transformer_kit.export import export_saved_model, load_exported, load_exported_predictor
from transformer_kit.ngram import choose_ngram_weight, fit_ngram_classifier
from transformer_kit.thresholds import best_f1_threshold, choose_thresholds

TOPICS = {"sports": ["ball", "goal", "team"], "music": ["song", "guitar", "band"], "food": ["pizza", "pasta", "bread"]}
FILLER = ["the", "a", "today", "we", "saw", "very", "nice", "day", "and", "then"]


def topic_texts(n, seed=0):
    """Texts with each topic's words present with probability 0.35; labels joined with '|' ('' for none)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        chosen = [topic for topic in TOPICS if rng.random() < 0.35]
        words = list(rng.choice(FILLER, 5))
        for topic in chosen:
            words += list(rng.choice(TOPICS[topic], 2))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("|".join(sorted(chosen)))
    return texts, labels


# ------------------------------------------------------------------ label sets


def test_an_empty_label_cell_means_no_labels_not_a_missing_row(tmp_path):
    path = tmp_path / "tags.csv"
    pd.DataFrame({"text": ["goal!", "quiet day", "song and pizza", ""],
                  "label": ["sports", "", "food|music", "food"]}).to_csv(path, index=False)
    dataset = as_label_set_dataset(str(path))
    assert dataset.texts == ["goal!", "quiet day", "song and pizza"]
    assert dataset.labels == [("sports",), (), ("food", "music")]
    assert dataset.dropped == {"missing_text": 1}
    report = build_data_report(dataset)
    assert report["splits"]["train"]["label_sets"]["rows_without_labels"] == 1
    assert report["splits"]["train"]["classes"] == {"food": 1, "music": 1, "sports": 1}
    assert report["splits"]["train"]["label_sets"]["rare_labels"] == ["food", "music", "sports"]
    assert report["splits"]["train"]["label_sets"]["top_pairs"] == [["food", "music", 1]]
    assert "1 training rows carry no label" in format_data_report(report)


def test_labels_from_several_zero_one_columns(tmp_path):
    path = tmp_path / "tags.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "x": [1, 0, 0], "y": ["1", "true", "0"]}).to_csv(path, index=False)
    assert as_label_set_dataset(str(path), label_columns=["x", "y"]).labels == [("x", "y"), ("y",), ()]
    with pytest.raises(DataError, match="no label column"):
        as_label_set_dataset(str(path), label_columns=["x", "z"])
    with pytest.raises(DataError, match="must hold 0/1"):
        as_label_set_dataset(pd.DataFrame({"text": ["a"], "x": ["maybe"]}), label_columns=["x"])


def test_label_sets_from_lists_strings_and_indicator_matrices():
    texts = ["a", "b"]
    assert as_label_set_dataset(texts, [["y", "x"], []]).labels == [("x", "y"), ()]
    assert as_label_set_dataset(texts, ["x;y", "y"], separator=";").labels == [("x", "y"), ("y",)]
    assert as_label_set_dataset(texts, np.array([[0, 1], [1, 1]])).labels == [("1",), ("0", "1")]
    assert split_label_cell(float("nan")) == ()


def test_label_set_encoder_round_trips_and_names_unseen_labels(tmp_path):
    encoder = LabelSetEncoder.fit([("b",), ("a", "c"), ()])
    indicator = encoder.encode([("c",), ("a", "b"), ()])
    assert indicator.tolist() == [[0, 0, 1], [1, 1, 0], [0, 0, 0]]
    assert encoder.decode(indicator) == [("c",), ("a", "b"), ()]
    encoder.to_json(tmp_path / "labels.json")
    assert LabelSetEncoder.from_json(tmp_path / "labels.json") == encoder
    assert json.loads((tmp_path / "labels.json").read_text())["type"] == "transformer_kit.LabelSetEncoder"
    with pytest.raises(DataError, match="'d' \\(1 rows\\)"):
        encoder.encode([("a", "d")])
    with pytest.raises(DataError, match="at least two labels"):
        LabelSetEncoder.fit([("a",), ()])


def test_single_label_data_with_the_separator_in_labels_suggests_multi_label():
    train = load_csv_dataset(pd.DataFrame({"text": ["x", "y", "z"], "label": ["a|b", "a", "b"]}))
    warnings = build_data_report(train)["warnings"]
    assert any("--multi-label" in warning and "'a|b'" in warning for warning in warnings)
    plain = load_csv_dataset(pd.DataFrame({"text": ["x", "y"], "label": ["a", "b"]}))
    assert not any("--multi-label" in warning for warning in build_data_report(plain)["warnings"])


# ------------------------------------------------------------------ thresholds and metrics


def brute_force_best_f1(truth, probabilities):
    """The best F1 over every threshold that can make a difference: each probability (and above all)."""
    candidates = np.r_[np.unique(probabilities), np.inf]
    return max(metrics.f1_score(truth, probabilities >= t, zero_division=0) for t in candidates)


@pytest.mark.parametrize("seed", range(20))
def test_best_threshold_reaches_the_brute_force_best_f1(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    truth = rng.random(n) < rng.uniform(0.05, 0.6)
    truth[0] = True
    # Rounded, so that ties between probabilities occur.
    probabilities = np.round(np.clip(truth * rng.uniform(0, 0.5) + rng.random(n) * 0.7, 0, 1), 2)
    threshold, f1 = best_f1_threshold(truth, probabilities)
    assert f1 == pytest.approx(brute_force_best_f1(truth, probabilities))
    assert metrics.f1_score(truth, probabilities >= threshold) == pytest.approx(f1)


def test_labels_too_rare_to_tune_get_the_global_threshold():
    rng = np.random.default_rng(0)
    truth = rng.random((200, 3)) < [0.3, 0.3, 0.01]
    truth[:2, 2] = [True, False]
    probabilities = np.clip(truth * 0.4 + rng.random((200, 3)) * 0.6, 0, 1)
    thresholds, tuned = choose_thresholds(truth, probabilities, min_positives=5)
    assert tuned.tolist() == [True, True, False]
    global_threshold, _ = best_f1_threshold(truth.ravel(), probabilities.ravel())
    assert thresholds[2] == pytest.approx(global_threshold)
    for label in (0, 1):
        assert thresholds[label] == pytest.approx(best_f1_threshold(truth[:, label], probabilities[:, label])[0])
    # Without enough positives anywhere, 0.5.
    assert choose_thresholds(truth[:3], probabilities[:3], min_positives=5)[0].tolist() == [0.5, 0.5, 0.5]


def test_multi_label_metrics_equal_scikit_learn():
    rng = np.random.default_rng(1)
    truth = (rng.random((60, 4)) < 0.3).astype(int)
    truth[:5] = 0  # rows with no labels
    probabilities = np.clip(truth * 0.3 + rng.random((60, 4)) * 0.7, 0, 1)
    thresholds = np.array([0.5, 0.4, 0.6, 0.3])
    predicted = (probabilities >= thresholds).astype(int)
    result = evaluate_label_sets(truth, probabilities, ["a", "b", "c", "d"], thresholds)
    assert result["micro_f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="micro"))
    assert result["macro_f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro", zero_division=0))
    assert result["samples_f1"] == pytest.approx(
        metrics.f1_score(truth, predicted, average="samples", zero_division=1)
    )
    assert result["exact_match"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert result["hamming_loss"] == pytest.approx(metrics.hamming_loss(truth, predicted))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(truth, predicted, zero_division=0)
    assert [result["per_class"][name]["f1"] for name in "abcd"] == pytest.approx(f1.tolist())
    assert [result["per_class"][name]["recall"] for name in "abcd"] == pytest.approx(recall.tolist())
    assert [result["per_class"][name]["support"] for name in "abcd"] == support.tolist()
    assert result["per_class"]["d"]["threshold"] == 0.3
    assert "exact_match" in format_metrics(result)


def test_blend_weight_for_label_sets_minimizes_binary_cross_entropy():
    rng = np.random.default_rng(2)
    truth = (rng.random((80, 3)) < 0.4).astype(float)
    transformer = np.clip(truth * 0.3 + rng.random((80, 3)) * 0.7, 0.01, 0.99)
    ngram = np.clip(truth * 0.6 + rng.random((80, 3)) * 0.4, 0.01, 0.99)
    weight = choose_ngram_weight(transformer, ngram, truth)

    def loss(w):
        blended = (1 - w) * transformer + w * ngram
        return metrics.log_loss(truth.ravel(), blended.ravel())

    grid = np.arange(0, 1.0001, 0.05)
    assert loss(weight) == pytest.approx(min(loss(w) for w in grid), abs=1e-9)
    assert 0.0 < weight <= 1.0


def test_one_vs_rest_ngram_model_gives_independent_probabilities():
    texts, labels = topic_texts(200)
    encoder = LabelSetEncoder.fit([split_label_cell(label) for label in labels])
    indicator = encoder.encode([split_label_cell(label) for label in labels])
    indicator = np.hstack([indicator, np.zeros((len(texts), 1))])  # a label no text carries
    model = fit_ngram_classifier(texts, indicator, 4, multi_label=True)
    probabilities = model(tf.constant(["goal team pizza", "the day", "guitar"])).numpy()
    assert probabilities.shape == (3, 4)
    assert (probabilities[0, [0, 2]] > 0.5).all() and probabilities[0, 1] < 0.5  # food, sports; not music
    assert (probabilities[1, :3] < 0.5).all()
    assert probabilities[2, 1] > 0.5 and probabilities[2, [0, 2]].max() < 0.5
    assert probabilities[:, 3].max() < 1e-3  # never seen: its training rate, about 0
    assert not np.allclose(probabilities.sum(axis=1), 1.0)


def test_repr_shows_multi_label_parameters():
    clf = TextClassifier(multi_label=True, label_columns=["a", "b"], label_separator=";")
    assert repr(clf) == "TextClassifier(label_separator=';', label_columns=['a', 'b'], multi_label=True)"
    assert repr(TextClassifier(label_separator="|")) == "TextClassifier()"


def test_multi_label_settings_are_checked():
    with pytest.raises(ValueError, match="class_weight"):
        make_configs(multi_label=True, class_weight="balanced")
    with pytest.raises(ValueError, match="threshold"):
        make_configs(multi_label=True, threshold=1.5)
    assert make_configs(multi_label=True, threshold=0.3)[1].threshold == 0.3


# ------------------------------------------------------------------ training end to end

TINY = dict(epochs=3, embed_dim=16, num_heads=2, ff_dim=16, verbose=0)


@pytest.fixture(scope="module")
def multilabel_classifier():
    """The default preset (2 transformers + one-vs-rest n-grams), no validation data:
    blend weight and thresholds chosen on transformer 1's held-out split."""
    texts, labels = topic_texts(300)
    return TextClassifier(multi_label=True, ensemble_size=2, **TINY).fit(texts, labels)


@pytest.mark.slow
def test_fit_predicts_label_tuples_and_one_probability_column_per_label(multilabel_classifier):
    clf = multilabel_classifier
    texts, labels = topic_texts(100, seed=1)
    assert clf.classes_.tolist() == ["food", "music", "sports"]
    assert clf.model_.get_layer("ngram_classifier").multi_label
    assert len(clf.model_.get_layer("probabilities").blend_weights) == 3
    probabilities = clf.predict_proba(texts)
    assert list(probabilities.columns) == ["food", "music", "sports"]
    predicted = clf.predict(texts)
    assert isinstance(predicted, list) and all(isinstance(row, tuple) for row in predicted)
    expected = [tuple(c for c, p, t in zip(clf.classes_, row, clf.thresholds_) if p >= t)
                for row in probabilities.to_numpy()]
    assert predicted == expected
    assert () in predicted  # texts with no topic get no label
    assert clf.thresholds_.shape == (3,) and ((0 < clf.thresholds_) & (clf.thresholds_ < 1)).all()
    assert clf.data_report_["splits"]["train"]["label_sets"]["rows_without_labels"] > 0


@pytest.mark.slow
def test_evaluate_equals_scikit_learn_on_the_predictions(multilabel_classifier):
    clf = multilabel_classifier
    texts, labels = topic_texts(100, seed=1)
    result = clf.evaluate(texts, labels)
    truth = LabelSetEncoder(clf.classes_).encode([split_label_cell(label) for label in labels])
    predicted = LabelSetEncoder(clf.classes_).encode(clf.predict(texts))
    assert result["micro_f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="micro"))
    assert result["macro_f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))
    assert clf.score(texts, labels) == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert result["micro_f1"] > 0.8  # the topic words decide the labels


@pytest.mark.slow
def test_thresholds_can_be_overridden(multilabel_classifier, tmp_path):
    clf = multilabel_classifier
    texts, _ = topic_texts(50, seed=2)
    tuned = clf.thresholds_.copy()
    try:
        clf.thresholds_ = 0.999999
        assert all(labels == () for labels in clf.predict(texts))
        clf.thresholds_ = 1e-6
        assert all(labels == ("food", "music", "sports") for labels in clf.predict(texts))
    finally:
        clf.thresholds_ = tuned


@pytest.mark.slow
def test_save_and_load_keep_multi_label_and_thresholds(multilabel_classifier, tmp_path):
    clf = multilabel_classifier
    texts, _ = topic_texts(50, seed=3)
    clf.save(tmp_path / "run")
    loaded = TextClassifier.load(tmp_path / "run")
    assert loaded.multi_label and loaded.label_separator == "|"
    np.testing.assert_array_equal(loaded.thresholds_, clf.thresholds_)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert loaded.predict(texts) == clf.predict(texts)


@pytest.mark.slow
def test_export_serves_probabilities_and_joined_labels_in_plain_tensorflow(multilabel_classifier, tmp_path):
    clf = multilabel_classifier
    texts = topic_texts(120, seed=4)[0] + ["", "unseen words only", "goal " * 300]
    version_dir = export_saved_model(clf, tmp_path / "model")
    served, _ = serve_in_plain_tensorflow(version_dir, texts, tmp_path)
    np.testing.assert_allclose(served["probabilities"], clf.predict_proba(texts).to_numpy(), atol=1e-5)
    predicted = clf.predict(texts)
    assert served["labels"].tolist() == ["|".join(labels) for labels in predicted]
    assert served["decisions"].tolist() == LabelSetEncoder(clf.classes_).encode(predicted).astype(int).tolist()
    _, metadata = load_exported(tmp_path / "model")
    assert metadata["thresholds"] == pytest.approx(clf.thresholds_.tolist())
    assert metadata["multi_label"] and metadata["label_separator"] == "|"
    assert "labels" in metadata["signatures"]["serving_default"]["outputs"]
    assert load_exported_predictor(tmp_path / "model").predict(texts) == predicted
    # Explanations are of one class: a multi-label export has no explain signature, and says why.
    assert "explain" not in metadata["signatures"]
    with pytest.raises(RunDirectoryError, match="multi-label classifier, which cannot be explained"):
        load_exported_predictor(tmp_path / "model").explain(texts[:2])
    with pytest.raises(ValueError, match="multi-label classifiers cannot be explained"):
        clf.explain(texts[:2])


@pytest.mark.slow
def test_single_transformer_with_validation_data_chooses_thresholds_there(tmp_path):
    texts, labels = topic_texts(200, seed=5)
    validation = pd.DataFrame(dict(zip(("text", "label"), topic_texts(80, seed=6))))
    clf = TextClassifier(preset="single", multi_label=True, **TINY).fit(texts, labels, validation=validation)
    assert clf.model_.output_shape == (None, 3)
    probabilities = clf.predict_proba(validation["text"]).to_numpy()
    truth = LabelSetEncoder(clf.classes_).encode([split_label_cell(v) for v in validation["label"]])
    expected, _ = choose_thresholds(truth, probabilities)
    np.testing.assert_allclose(clf.thresholds_, expected, atol=1e-6)
    assert clf.metrics_["validation"]["micro_f1"] == pytest.approx(
        metrics.f1_score(truth, probabilities >= clf.thresholds_, average="micro")
    )


@pytest.mark.slow
def test_without_validation_data_thresholds_come_from_transformer_1s_held_out_split():
    from transformer_kit.data.splitting import random_split
    from transformer_kit.inference import build_inference_model, members_of, preprocessor_of

    texts, labels = topic_texts(200, seed=7)
    clf = TextClassifier(preset="single", multi_label=True, **TINY).fit(texts, labels)
    _, held_out = random_split(len(texts), test_size=0.1, seed=0)
    model = build_inference_model(preprocessor_of(clf.model_), members_of(clf.model_))
    probabilities = model(tf.constant([texts[i] for i in held_out])).numpy()
    truth = LabelSetEncoder(clf.classes_).encode([split_label_cell(labels[i]) for i in held_out])
    np.testing.assert_allclose(clf.thresholds_, choose_thresholds(truth, probabilities)[0], atol=1e-5)


@pytest.mark.slow
def test_a_multi_label_run_resumes_from_its_backup(tmp_path):
    texts, labels = topic_texts(150)
    first = TextClassifier(preset="single", multi_label=True, **TINY).fit(texts, labels, backup_dir=tmp_path)
    again = TextClassifier(preset="single", multi_label=True, **TINY).fit(texts, labels, backup_dir=tmp_path)
    assert again.resumed_ == {"transformer_0": "finished before the interruption"}
    np.testing.assert_array_equal(again.thresholds_, first.thresholds_)
    np.testing.assert_allclose(again.predict_proba(texts), first.predict_proba(texts), atol=1e-6)


# ------------------------------------------------------------------ command line


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "transformer_kit", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def run_cli_here(capsys, *args):
    """The command line in this process (no TensorFlow start-up per command): `(exit code, stdout, stderr)`."""
    from transformer_kit import cli

    code = cli.main([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_multi_label_options_reach_the_classifier():
    from transformer_kit import cli

    args = cli.build_parser().parse_args(
        ["train", "d.csv", "--multi-label", "--label-columns", "a,b", "--threshold", "0.4", "--label-separator", ";"]
    )
    assert cli._settings_given(args) == {"multi_label": True, "threshold": 0.4}
    assert args.label_columns == ["a", "b"] and args.label_separator == ";"
    assert cli.build_parser().parse_args(["train", "d.csv"]).label_separator == "|"


@pytest.mark.slow
def test_cli_trains_predicts_evaluates_and_describes_a_multi_label_run(tmp_path, capsys):
    texts, labels = topic_texts(240)
    pd.DataFrame({"text": texts, "tags": labels}).to_csv(tmp_path / "train.csv", index=False)
    test_texts, test_labels = topic_texts(60, seed=1)
    pd.DataFrame({"text": test_texts, "tags": test_labels}).to_csv(tmp_path / "test.csv", index=False)
    result = run_cli("train", tmp_path / "train.csv", "--label-column", "tags", "--multi-label", "--test-data",
                     tmp_path / "test.csv", "--output", tmp_path / "run", "--preset", "single", "--epochs", "2",
                     "--embed-dim", "16", "--num-heads", "2", "--ff-dim", "16", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "micro_f1" in result.stdout and "exact_match" in result.stdout

    # Training ran as a user runs it, in its own process; the other commands run here, which proves
    # the same about them without a TensorFlow start-up each.
    code, _, err = run_cli_here(capsys, "predict", tmp_path / "run", tmp_path / "test.csv", "--output",
                                tmp_path / "out.csv", "--quiet")
    assert code == 0, err
    predictions = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    clf = TextClassifier.load(tmp_path / "run")
    assert predictions["predicted_labels"].tolist() == ["|".join(labels) for labels in clf.predict(test_texts)]
    assert [f"probability_{name}" for name in clf.classes_] == list(predictions.columns[-3:])

    code, out, err = run_cli_here(capsys, "predict", tmp_path / "run", tmp_path / "test.csv", "--threshold",
                                  "0.999999", "--quiet")
    assert code == 0, err
    assert set(pd.read_csv(io.StringIO(out), keep_default_na=False)["predicted_labels"]) == {""}

    code, _, err = run_cli_here(capsys, "evaluate", tmp_path / "run", tmp_path / "test.csv", "--output",
                                tmp_path / "m.json", "--quiet")
    assert code == 0, err
    assert json.loads((tmp_path / "m.json").read_text())["micro_f1"] == pytest.approx(
        clf.evaluate(test_texts, test_labels)["micro_f1"]
    )
    code, out, err = run_cli_here(capsys, "info", tmp_path / "run")
    assert code == 0, err
    assert "thresholds food" in out and "exact match" in out


def test_one_vs_rest_regressions_are_the_same_in_parallel_and_in_turn():
    from transformer_kit.ngram import _fit_one_vs_rest

    rng = np.random.default_rng(3)
    features = scipy.sparse.random(120, 40, density=0.2, random_state=3, format="csr")
    indicator = (rng.random((120, 4)) < 0.3).astype(float)
    indicator[:, 3] = 0
    in_turn = _fit_one_vs_rest(features, indicator, 10.0, 0, n_jobs=1)
    in_parallel = _fit_one_vs_rest(features, indicator, 10.0, 0, n_jobs=2)
    np.testing.assert_array_equal(in_turn[0], in_parallel[0])
    np.testing.assert_array_equal(in_turn[1], in_parallel[1])
    assert in_turn[1][3] < -9  # never present: a constant probability of about 0


def test_multi_label_files_larger_than_half_the_memory_are_refused_before_reading(tmp_path, monkeypatch):
    from transformer_kit.data import streaming

    path = tmp_path / "tags.csv"
    pd.DataFrame({"text": ["a ball", "a song"], "label": ["sports", "music"]}).to_csv(path, index=False)
    # Pretend the machine has 16 bytes: the file is then "larger than half the memory".
    monkeypatch.setattr(streaming, "_physical_memory_bytes", lambda: 16)
    with pytest.raises(DataError, match=r"tags\.csv hold .* GiB.*multi-label training reads its data into memory"):
        TextClassifier(multi_label=True).fit(str(path))
    monkeypatch.setattr(streaming, "_physical_memory_bytes", lambda: 1 << 40)
    streaming.refuse_files_larger_than_memory(str(path), "it is read whole")  # plenty of memory: no error
