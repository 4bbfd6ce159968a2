"""Self-training the n-gram branch on unlabeled texts: reading them, sample weights, the decision, fit."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import log_loss as sklearn_log_loss

from keyword_data import TINY, keyword_dataset, synonym_texts
from transformer_kit import TextClassifier
from transformer_kit.layers.probability_blend import as_class_probabilities
from transformer_kit.ngram import fit_ngram_classifier
from transformer_kit.self_training import (
    cross_validated_log_losses,
    decide,
    log_loss,
    pseudo_labels,
    read_unlabeled,
)


def test_read_unlabeled_drops_empty_texts_reads_corpus_files_and_samples_with_a_seed(tmp_path):
    assert read_unlabeled(["one", "", "  ", None, float("nan"), "two"]) == ["one", "two"]
    (tmp_path / "corpus.csv").write_text("review\nGood film\n\nBad film\n")
    assert read_unlabeled(tmp_path / "corpus.csv", "review") == ["Good film", "Bad film"]
    assert read_unlabeled(str(tmp_path / "corpus.csv"), "review") == ["Good film", "Bad film"]
    texts = [f"text {i}" for i in range(1000)]
    sample = read_unlabeled(texts, max_texts=100, seed=3)
    assert len(sample) == 100 == len(set(sample)) and set(sample) <= set(texts)
    assert sample == read_unlabeled(texts, max_texts=100, seed=3) != read_unlabeled(texts, max_texts=100, seed=4)
    # Uniform: the reservoir holds late texts as often as early ones (expected 50 of each half).
    assert 30 < sum(int(text.split()[1]) >= 500 for text in sample) < 70


def test_sample_weight_reaches_the_solver():
    texts, labels = keyword_dataset(rows=80)
    ids = np.array([label == "positive" for label in labels], dtype=int)
    flipped = ids.copy()
    flipped[:20] = 1 - flipped[:20]
    weights = np.ones(len(texts))
    weights[:20] = 0.0
    kernel = lambda model: model.kernel.numpy()  # noqa: E731
    # Rows of weight 0 do not count, whatever their labels; rows of weight 1 do.
    same = fit_ngram_classifier(texts, flipped, 2, sample_weight=weights)
    np.testing.assert_allclose(kernel(same), kernel(fit_ngram_classifier(texts, ids, 2, sample_weight=weights)),
                               atol=1e-3)
    assert np.abs(kernel(fit_ngram_classifier(texts, flipped, 2)) - kernel(same)).max() > 0.1
    with pytest.raises(ValueError, match="single-label"):
        fit_ngram_classifier(texts, np.eye(2)[ids], 2, multi_label=True, sample_weight=weights)


def test_log_loss_matches_scikit_learn_and_decide_keeps_the_better_model(caplog):
    texts, labels = keyword_dataset(rows=120, classes=("negative", "positive", "neutral"))
    ids = np.array([("negative", "positive", "neutral").index(label) for label in labels])
    good = fit_ngram_classifier(texts[:80], ids[:80], 3)
    bad = fit_ngram_classifier(texts[:80], np.roll(ids[:80], 1), 3)
    held_texts, held_ids = texts[80:], ids[80:]
    probabilities = as_class_probabilities(good(tf.constant(held_texts))).numpy()
    assert log_loss(good, held_texts, held_ids) == pytest.approx(
        sklearn_log_loss(held_ids, probabilities / probabilities.sum(1, keepdims=True), labels=[0, 1, 2]), rel=1e-4)
    assert pseudo_labels(good, held_texts).tolist() == probabilities.argmax(axis=1).tolist()
    assert (probabilities.argmax(axis=1) == held_ids).mean() > 0.9

    args = dict(judged_on="held-out texts", unlabeled_texts=5, pseudo_label_weight=0.3, counts=[1, 2, 2],
                classes=["negative", "positive", "neutral"])
    kept = decide(bad, good, held_texts, held_ids, setting="auto", **args)
    assert kept.used and kept.log_loss_self_trained < kept.log_loss_labels_only
    assert kept.pseudo_label_counts == {"negative": 1, "positive": 2, "neutral": 2}
    assert not decide(good, bad, held_texts, held_ids, setting="auto", **args).used
    assert decide(good, bad, held_texts, held_ids, setting="always", **args).used
    # Few held-out texts: the decision stands, with a warning that it is noisy.
    with caplog.at_level(logging.WARNING, logger="transformer_kit"):
        decide(bad, good, held_texts[:10], held_ids[:10], setting="auto", **args)
    assert "only 10 labelled texts" in caplog.text
    # Nothing to judge on: "auto" keeps the model fitted on labels only.
    nothing = decide(bad, good, [], [], setting="auto", **args)
    assert not nothing.used and nothing.judged_on is None and nothing.log_loss_self_trained is None


def test_cross_validation_scores_every_labelled_text_out_of_fold_and_finds_the_student_better():
    # Labelled: keyword texts and a few texts with only the synonyms. Unlabeled: texts with both, which
    # teach the synonyms; so on held-out synonym texts the student must beat the teacher.
    keyword_texts, keyword_labels = keyword_dataset(rows=60)
    synonyms, synonym_labels = synonym_texts(20, seed=4, with_keyword=False)
    texts, labels = keyword_texts + synonyms, keyword_labels + synonym_labels
    ids = np.array([("negative", "positive").index(label) for label in labels])
    unlabeled, _ = synonym_texts(400, seed=1, with_keyword=True)
    fitted = []

    def fit(texts, ids, sample_weight=None, warm_start=None):
        fitted.append(len(texts))
        return fit_ngram_classifier(texts, ids, 2, sample_weight=sample_weight)

    teacher_loss, student_loss, counts, folds = cross_validated_log_losses(texts, ids, unlabeled, fit, 0.3)
    assert folds == 5 and student_loss < teacher_loss and sum(counts) == 400
    # Each fold: a teacher on 4/5 of the 80 texts, a student on those plus the 400.
    assert fitted == [64, 464] * 5
    # A class with one text cannot be split into folds.
    assert cross_validated_log_losses(texts[:5] + ["x"], [0] * 5 + [1], unlabeled, fit, 0.3) is None


def test_self_training_auto_on_few_labels_is_decided_by_cross_validation():
    texts, labels = keyword_dataset(rows=120)  # 12 held out: too few to judge on
    unlabeled, _ = synonym_texts(100, seed=1, with_keyword=True)
    clf = TextClassifier(**{**TINY, "epochs": 1}, ngram_weight=1.0)
    clf.fit(texts, labels, unlabeled=unlabeled)
    report = clf.data_report_["self_training"]
    assert report["judged_on"] == "5-fold cross-validation over the 120 labelled texts"
    assert report["used"] == (report["log_loss_self_trained"] < report["log_loss_labels_only"])


@pytest.mark.parametrize("setting", ["always", "never"])
def test_self_training_teaches_the_ngram_branch_words_only_unlabeled_texts_have(setting, tmp_path):
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(400, seed=1, with_keyword=True)
    test_texts, test_labels = synonym_texts(60, seed=2, with_keyword=False)
    clf = TextClassifier(**{**TINY, "epochs": 1}, ngram_weight=1.0, self_training=setting)
    clf.fit(texts, labels, unlabeled=unlabeled)
    report = clf.data_report_["self_training"]
    assert report["unlabeled_texts"] == 400 and report["used"] == (setting == "always")
    accuracy = clf.score(test_texts, test_labels)
    if setting == "always":
        # The teacher labels the unlabeled texts by their keyword: about half each.
        counts = report["pseudo_label_counts"]
        assert sorted(counts) == ["negative", "positive"] and sum(counts.values()) == 400
        assert abs(counts["negative"] - counts["positive"]) <= 10
        assert accuracy == 1.0
    else:  # no pseudo-labels, and no n-gram of "superb"/"awful" was ever seen with a label
        assert report["pseudo_label_counts"] == {} and accuracy < 0.8
    clf.save(tmp_path / "run")
    assert TextClassifier.load(tmp_path / "run").data_report_["self_training"] == report


def test_self_training_auto_judges_on_validation_data_when_given():
    texts, labels = keyword_dataset(rows=120)
    unlabeled, _ = synonym_texts(400, seed=1, with_keyword=True)
    validation = synonym_texts(40, seed=3, with_keyword=False)  # only the self-trained model knows these
    clf = TextClassifier(**{**TINY, "epochs": 1}, ngram_weight=1.0)
    clf.fit(texts, labels, validation=validation, unlabeled=unlabeled)
    report = clf.data_report_["self_training"]
    assert report["judged_on"] == "the 40 validation texts"
    assert report["used"] and report["log_loss_self_trained"] < report["log_loss_labels_only"]


def test_unlabeled_texts_without_an_ngram_branch_or_with_multi_label_are_refused():
    texts, labels = keyword_dataset(rows=40)
    with pytest.raises(ValueError, match="no n-gram branch"):
        TextClassifier(preset="single", **TINY).fit(texts, labels, unlabeled=["a text"])
    with pytest.raises(ValueError, match="single-label classifiers only"):
        TextClassifier(multi_label=True, **TINY).fit(texts, labels, unlabeled=["a text"])
    with pytest.raises(ValueError, match="holds no text"):
        TextClassifier(**TINY).fit(texts, labels, unlabeled=["", None])
    with pytest.raises(ValueError, match="self_training"):
        TextClassifier(self_training="sometimes", **TINY).fit(texts, labels)
    with pytest.raises(ValueError, match="pseudo_label_weight"):
        TextClassifier(pseudo_label_weight=0, **TINY).fit(texts, labels)
