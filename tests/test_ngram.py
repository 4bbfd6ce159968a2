"""The in-graph n-gram logistic regression (TF-IDF and naive Bayes features) against scikit-learn's own pipelines."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import normalize

from transformer_kit.ngram import NgramLogisticRegression, fit_ngram_classifier, ngram_feature_candidates

WORDS = ["good", "bad", "film", "plot", "great", "awful", "acting", "music", "dull", "fine", "rare"]


def make_texts(count, seed):
    """Lower-case words without punctuation, so both tokenizers split them alike."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(count):
        label = int(rng.integers(0, 3))
        words = list(rng.choice(WORDS[3:10], size=int(rng.integers(2, 7))))
        keyword = ["good", "bad", "film"][label] if rng.random() < 0.8 else "fine"
        words.insert(int(rng.integers(0, len(words) + 1)), keyword)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


def test_ngram_model_equals_scikit_learn_tfidf_logistic_regression():
    texts, labels = make_texts(300, seed=0)
    texts += ["unique words occur once"]  # below min_df: must not become features
    labels = np.append(labels, 0)
    model = fit_ngram_classifier(texts, labels, num_classes=3, min_df=2, c=10.0)

    reference = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"\S+")
    features = reference.fit_transform(texts)
    # The same solver settings as the library: equal features give an equal fit.
    regression = LogisticRegression(C=10.0, max_iter=2000, random_state=0).fit(features, labels)

    vocabulary = model.get_vocabulary()[1:]
    assert sorted(vocabulary) == sorted(reference.get_feature_names_out())
    assert "unique" not in vocabulary and "occur once" not in vocabulary

    test_texts, _ = make_texts(50, seed=1)
    ours = model(tf.constant(test_texts)).numpy()
    theirs = regression.predict_proba(reference.transform(test_texts))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


@pytest.mark.parametrize("order", [2, 3])
def test_naive_bayes_ngram_model_equals_scikit_learn_nbsvm(order):
    texts, labels = make_texts(300, seed=8)
    labels = (labels == 0).astype(int)  # "good" against the rest
    model = fit_ngram_classifier(texts, labels, num_classes=2, min_df=2, c=10.0, features=f"nb-1-{order}")

    # NBSVM (Wang & Manning 2012) from scikit-learn's parts: binary counts, times the log-count
    # ratio r = log(p / |p|_1) - log(q / |q|_1) with add-one smoothing, L2-normalised; then the regression.
    counter = CountVectorizer(ngram_range=(1, order), min_df=2, binary=True, token_pattern=r"\S+")
    binary = counter.fit_transform(texts)
    p, q = (1 + binary[labels == 1].sum(axis=0).A1), (1 + binary[labels == 0].sum(axis=0).A1)
    r = np.log(p / p.sum()) - np.log(q / q.sum())
    regression = LogisticRegression(C=10.0, max_iter=2000, random_state=0).fit(normalize(binary.multiply(r)), labels)

    assert sorted(model.get_vocabulary()[1:]) == sorted(counter.get_feature_names_out())
    test_texts, _ = make_texts(50, seed=9)
    ours = model(tf.constant(test_texts)).numpy()[:, 0]
    theirs = regression.predict_proba(normalize(counter.transform(test_texts).multiply(r)))[:, 1]
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    # The same ratio as scikit-learn's multinomial naive Bayes on binary counts.
    log_probabilities = MultinomialNB(alpha=1.0).fit(binary, labels).feature_log_prob_
    np.testing.assert_allclose(r, log_probabilities[1] - log_probabilities[0], atol=1e-9)


@pytest.mark.parametrize("features", ["nb-1-2", "nb-1-3"])
def test_naive_bayes_features_are_refused_beyond_two_classes(features):
    texts, labels = make_texts(60, seed=10)
    with pytest.raises(ValueError, match="naive Bayes.*two classes, got 3 classes"):
        fit_ngram_classifier(texts, labels, num_classes=3, features=features)
    with pytest.raises(ValueError, match="two classes, got label sets"):
        ngram_feature_candidates(features, 2, multi_label=True)
    with pytest.raises(ValueError, match="must be 'auto' or one of"):
        ngram_feature_candidates("nb-1-4", 2)


def test_auto_candidates_depend_on_the_task():
    assert ngram_feature_candidates("auto", 2) == ("tfidf-1-2", "nb-1-2", "nb-1-3")
    assert ngram_feature_candidates("auto", 5) == ("tfidf-1-2", "tfidf-1-3")
    assert ngram_feature_candidates("auto", 5, multi_label=True) == ("tfidf-1-2",)
    assert ngram_feature_candidates("nb-1-3", 2) == ("nb-1-3",)


@pytest.mark.parametrize("features", ["tfidf-1-2", "nb-1-3"])
def test_ngram_layer_survives_keras_saving(tmp_path, features):
    texts, labels = make_texts(200, seed=4)
    num_classes = 2 if features.startswith("nb-") else 3
    layer = fit_ngram_classifier(texts, labels % num_classes, num_classes=num_classes, features=features)
    text = keras.Input(shape=(), dtype="string")
    keras.Model(text, layer(text)).save(tmp_path / "ngram.keras")
    loaded = keras.saving.load_model(tmp_path / "ngram.keras", safe_mode=True)
    restored = loaded.layers[-1]
    assert isinstance(restored, NgramLogisticRegression)
    assert restored.get_vocabulary() == layer.get_vocabulary()
    assert (restored.features, restored.order) == (features, int(features[-1]))
    test_texts, _ = make_texts(20, seed=5)
    texts = tf.constant(test_texts)
    np.testing.assert_allclose(loaded(texts).numpy(), layer(texts).numpy(), atol=1e-6)


def test_ngram_layer_accepts_an_empty_batch():
    layer = fit_ngram_classifier(["good film", "bad film"] * 3, np.array([1, 0] * 3), num_classes=2)
    assert layer(tf.constant([], tf.string)).shape == (0, 1)


def test_min_df_falls_back_to_every_ngram_when_none_repeats():
    model = fit_ngram_classifier(["alpha beta", "gamma delta"], np.array([0, 1]), num_classes=2, min_df=2)
    vocabulary = model.get_vocabulary()
    assert {"alpha", "beta", "alpha beta", "gamma", "delta", "gamma delta"} <= set(vocabulary)


def test_max_tokens_keeps_the_most_frequent_ngrams():
    texts = ["good film"] * 5 + ["bad film"] * 4 + ["good"] * 2  # film 9, good 7, good film 5
    model = fit_ngram_classifier(texts, np.array([0] * 5 + [1] * 4 + [0] * 2), num_classes=2, max_tokens=3)
    assert model.get_vocabulary() == ["[UNK]", "film", "good"]


@pytest.mark.parametrize("num_classes", [2, 3])
def test_warm_start_reaches_the_same_model(num_classes):
    texts, labels = make_texts(400, seed=2)
    labels = labels % num_classes
    subset = fit_ngram_classifier(texts[:300], labels[:300], num_classes)
    cold = fit_ngram_classifier(texts, labels, num_classes)
    warm = fit_ngram_classifier(texts, labels, num_classes, warm_start=subset)
    test_texts, _ = make_texts(60, seed=3)
    # Equal up to the solver's stopping tolerance (scikit-learn's default, 1e-4
    # on the gradient), which leaves differences of the order of 1e-2.
    np.testing.assert_allclose(warm(tf.constant(test_texts)).numpy(), cold(tf.constant(test_texts)).numpy(), atol=2e-2)
