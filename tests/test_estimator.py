"""TextClassifier keeps scikit-learn's estimator contract, and every scoring path is the one model."""

import json

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from keyword_data import FILLER, keyword_dataset
from transformer_kit import TextClassifier
from transformer_kit.errors import DataError, RunDirectoryError
from transformer_kit.export import export_saved_model, load_exported_predictor

QUICK = dict(preset="single", epochs=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)


def test_constructor_only_stores_and_get_params_round_trips():
    classifier = TextClassifier(epochs=0, learning_rat=1)  # invalid, yet stored as given
    params = classifier.get_params()
    assert params["epochs"] == 0 and params["learning_rat"] == 1 and params["batch_size"] is None
    assert not hasattr(classifier, "model_")
    classifier.set_params(epochs=3, preset="single")
    assert (classifier.epochs, classifier.preset) == (3, "single")
    copy = clone(classifier)
    assert copy is not classifier and copy.get_params() == classifier.get_params()


def test_fit_takes_texts_and_labels_and_returns_self():
    texts, labels = keyword_dataset(rows=120)
    classifier = TextClassifier(**QUICK)
    assert classifier.fit(texts, labels) is classifier
    assert list(classifier.history_.columns[:2]) == ["member", "epoch"]
    assert classifier.score(texts, labels) == pytest.approx(np.mean(classifier.predict(texts) == np.array(labels)))


def test_a_list_of_texts_without_labels_is_a_clear_error():
    texts, _ = keyword_dataset(rows=20)
    with pytest.raises(DataError, match="texts"):
        TextClassifier(**QUICK).fit(texts)


def test_cross_val_score_and_grid_search_run():
    texts, labels = keyword_dataset(rows=150)
    scores = cross_val_score(TextClassifier(**QUICK), texts, labels, cv=3)
    assert scores.shape == (3,) and (scores > 0.5).all()
    search = GridSearchCV(TextClassifier(**QUICK), {"learning_rate": [1e-3, 3e-3]}, cv=2, refit=False)
    search.fit(texts, labels)
    assert len(search.cv_results_["mean_test_score"]) == 2


ODD_TEXTS = [
    None, float("nan"), "", "   ", "\t\n", "wonderful 😀🎬", "这部电影很好看", "\x00\x07 dreadful \x1b[31m",
    "zero\u200bwidth\u00a0space", "WONDERFUL!!! <br />dreadful", "wonderful film",
]


# `default_classifier` (tests/conftest.py): the default preset, two transformers and the n-gram branch, blended.


def test_every_scoring_path_agrees_on_odd_inputs(default_classifier, tmp_path):
    classifier = default_classifier
    texts = ODD_TEXTS + [" ".join(["dreadful"] + FILLER * (10 * classifier.sequence_length_ // len(FILLER)))]
    as_strings = ["" if text is None or text != text else text for text in texts]  # None/NaN score as ""

    fast = classifier.predict_proba(texts).to_numpy()
    direct = classifier.model_(tf.constant(as_strings)).numpy()
    one_by_one = np.concatenate([classifier.model_(tf.constant([text])).numpy() for text in as_strings])
    loaded = TextClassifier.load(classifier.save(tmp_path / "run")).predict_proba(texts).to_numpy()
    version_dir = export_saved_model(classifier, tmp_path / "export")
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](text=tf.constant(as_strings))
    predictor = load_exported_predictor(version_dir).predict_proba(texts).to_numpy()

    for other in (direct, one_by_one, loaded, served["probabilities"].numpy(), predictor):
        np.testing.assert_allclose(fast, other, atol=1e-6)
    assert len(classifier.model_.get_layer("probabilities").blend_weights) == 3


def test_format_1_run_directories_are_refused_with_a_message_to_retrain(default_classifier, tmp_path):
    run = default_classifier.save(tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(format_version=1, versions={"transformer_kit": "0.1.0"})
    (run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunDirectoryError, match=r"0\.1\.0 \(run-directory format 1\).*Retrain"):
        TextClassifier.load(run)
