"""Choosing the n-gram model's weight in the blend on held-out texts (transformer_kit.blending)."""

import json

import numpy as np
import pytest
import tensorflow as tf
from sklearn.model_selection import StratifiedKFold
from test_explain import hand_ngram_attributions
from test_ngram import make_texts

from keyword_data import keyword_dataset
from plain_tensorflow import serve_in_plain_tensorflow
from transformer_kit.blending import NgramFitter, choose_features_on, pooled_ngram_weight, validation_split
from transformer_kit.classifier import TextClassifier
from transformer_kit.config import ModelConfig, TrainingConfig
from transformer_kit.data.report_text import _ngram_branch_line
from transformer_kit.encoders import ScratchTransformer, build_member
from transformer_kit.explanations import TextExplainer
from transformer_kit.export import load_exported
from transformer_kit.inference import (
    CompiledScorer,
    blend_weights_of,
    build_inference_model,
    members_of,
    ngram_of,
    preprocessor_of,
)
from transformer_kit.ngram import (
    choose_ngram_weight,
    cross_validated_ngram_probabilities,
    fit_ngram_classifier,
    mean_log_loss,
)
from transformer_kit.preprocessor import TextPreprocessor


def synthetic_probabilities(rows, classes, informative, seed, truth=None):
    """`(probabilities, true ids)`: softmax of noise plus `informative` times the true class's indicator."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, rows) if truth is None else truth
    logits = rng.normal(size=(rows, classes)) + informative * np.eye(classes)[truth]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, truth


def test_weight_one_is_chosen_when_the_transformers_know_nothing():
    ngram, truth = synthetic_probabilities(400, 3, informative=3.0, seed=0)
    uninformed = np.full_like(ngram, 1 / 3)
    assert choose_ngram_weight(uninformed, ngram, truth) == 1.0


@pytest.mark.parametrize("one_standard_error", [False, True])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("classes", [2, 4])
def test_chosen_blend_is_never_worse_than_the_ngram_model_on_the_rows_it_chose_on(seed, classes, one_standard_error):
    transformers, truth = synthetic_probabilities(150, classes, informative=seed * 0.6, seed=seed)
    noise, _ = synthetic_probabilities(150, classes, informative=0.0, seed=seed + 100)
    ngram = 0.5 * noise + 0.5 * np.eye(classes)[truth] * (seed % 3) / 2 + 0.5 * (1 - (seed % 3) / 2) / classes
    weight = choose_ngram_weight(transformers, ngram, truth, one_standard_error=one_standard_error)
    blended = mean_log_loss((1 - weight) * transformers + weight * ngram, truth)
    assert blended <= mean_log_loss(ngram, truth) + 1e-9
    if not one_standard_error:  # the lowest log-loss on the grid, which includes the transformers alone
        assert blended <= mean_log_loss(transformers, truth) + 1e-9


@pytest.mark.parametrize("rows", [40, 4000])
def test_one_standard_error_rule_keeps_the_ngram_model_alone_unless_the_blend_beats_it_beyond_noise(rows):
    transformers, truth = synthetic_probabilities(rows, 2, informative=1.0, seed=11)
    # The same texts, errors independent of the transformers': blending helps a little.
    ngram, _ = synthetic_probabilities(rows, 2, informative=1.5, seed=12, truth=truth)
    grid = np.round(np.arange(0, 1.0001, 0.05), 2)
    losses = np.array([[-np.log(((1 - w) * t + w * g)[y]) for t, g, y in zip(transformers, ngram, truth)]
                       for w in grid])
    lowest = losses.mean(axis=1).argmin()
    gain = losses[-1] - losses[lowest]
    beyond_noise = gain.mean() > gain.std(ddof=1) / np.sqrt(rows)
    assert choose_ngram_weight(transformers, ngram, truth) == grid[lowest] < 1.0
    chosen = choose_ngram_weight(transformers, ngram, truth, one_standard_error=True)
    assert chosen == (grid[lowest] if beyond_noise else 1.0)
    assert beyond_noise == (rows == 4000)  # the same models: 40 rows cannot tell, 4,000 can


def test_one_standard_error_rule_keeps_the_transformers_where_they_clearly_help():
    transformers, truth = synthetic_probabilities(2000, 3, informative=4.0, seed=13)
    ngram, _ = synthetic_probabilities(2000, 3, informative=0.5, seed=13)
    assert choose_ngram_weight(transformers, ngram, truth, one_standard_error=True) < 0.5


@pytest.mark.parametrize("num_classes", [2, 3])
def test_out_of_fold_probabilities_equal_a_fit_without_each_fold(num_classes):
    texts, labels = make_texts(240, seed=6)
    labels = labels % num_classes
    out_of_fold = cross_validated_ngram_probabilities(texts, labels, num_classes, folds=4, seed=1)
    # Reference: the library's own fit on each fold's other texts (its own vocabulary and TF-IDF).
    folds = StratifiedKFold(n_splits=4, shuffle=True, random_state=1).split(np.zeros(len(texts)), labels)
    for fit_rows, scored_rows in folds:
        model = fit_ngram_classifier([texts[i] for i in fit_rows], labels[fit_rows], num_classes)
        expected = model(tf.constant([texts[i] for i in scored_rows])).numpy()
        expected = np.hstack([1 - expected, expected]) if num_classes == 2 else expected
        # Equal up to the solver's tolerance (the folds start from each other's weights).
        np.testing.assert_allclose(out_of_fold[scored_rows], expected, atol=2e-2)


def test_out_of_fold_probabilities_need_two_texts_per_class():
    texts, labels = ["good film", "bad film", "bad plot"], np.array([1, 0, 0])
    assert cross_validated_ngram_probabilities(texts, labels, 2) is None


@pytest.mark.parametrize("rows", [120, 1500])  # out of fold (few pooled rows), one fit without them (many)
def test_pooled_weight_is_chosen_on_every_members_held_out_rows(rows, monkeypatch):
    texts, ids = make_texts(rows, seed=7)
    ids = ids % 2
    labels = [str(i) for i in ids]
    config = TrainingConfig(ngram_features="tfidf-1-2")
    if rows > 1000:  # keep the test small: lower the bar instead of fitting on thousands of texts
        monkeypatch.setattr("transformer_kit.blending.CROSS_VALIDATION_BELOW", 100)
    tf.keras.utils.set_random_seed(0)
    preprocessor, _ = TextPreprocessor.adapt(texts)
    members = [build_member(ScratchTransformer(ModelConfig(embed_dim=16, num_heads=2, ff_dim=32)), preprocessor, 2,
                            f"transformer_{i}") for i in range(3)]
    fitter = NgramFitter(2, preprocessor.split_mode, config)
    weight, warm_start = pooled_ngram_weight(preprocessor, members, texts, ids, labels, fitter)

    splits = [validation_split(labels, config, config.seed + i)[1] for i in range(3)]
    if rows < 1000:
        assert warm_start is None
        ngram_of_row = cross_validated_ngram_probabilities(texts, ids, 2, seed=config.seed)
    else:
        pooled = np.unique(np.concatenate(splits))
        rest = np.setdiff1d(np.arange(rows), pooled)
        reference = fit_ngram_classifier([texts[i] for i in rest], ids[rest], 2)
        probability = reference(tf.constant(texts)).numpy()
        ngram_of_row = np.hstack([1 - probability, probability])
        assert warm_start is not None
    transformer = np.concatenate([CompiledScorer(build_inference_model(preprocessor, [member]))(
        [texts[i] for i in rows_]) for member, rows_ in zip(members, splits)])
    expected = choose_ngram_weight(transformer, np.concatenate([ngram_of_row[r] for r in splits]),
                                   np.concatenate([ids[r] for r in splits]), one_standard_error=True)
    assert weight == expected


def hand_row_losses(probabilities, ids):
    """Each row's negative log-probability of its true class, by hand."""
    return -np.log(np.clip(np.asarray(probabilities)[np.arange(len(ids)), ids], 1e-7, 1.0))


def one_standard_error_choice(rows_by_features):
    """The reference rule: the lowest mean loss, if it beats the first set by more than one paired standard error."""
    names = list(rows_by_features)
    best = min(names, key=lambda name: rows_by_features[name].mean())
    gain = rows_by_features[names[0]] - rows_by_features[best]
    return best if gain.mean() > gain.std(ddof=1) / np.sqrt(len(gain)) else names[0]


def tiny_members(preprocessor, count=2):
    tf.keras.utils.set_random_seed(0)
    return [build_member(ScratchTransformer(ModelConfig(embed_dim=16, num_heads=2, ff_dim=32)), preprocessor, 2,
                         f"transformer_{i}") for i in range(count)]


@pytest.mark.parametrize("rows", [120, 1500])  # out of fold (few pooled rows), one fit without them (many)
def test_auto_features_are_the_candidate_of_lowest_log_loss_on_the_pooled_rows(rows, monkeypatch):
    texts, ids = make_texts(rows, seed=7)
    ids = (ids == 0).astype(int)
    labels = [str(i) for i in ids]
    config = TrainingConfig()  # ngram_features="auto"
    if rows > 1000:
        monkeypatch.setattr("transformer_kit.blending.CROSS_VALIDATION_BELOW", 100)
    preprocessor, _ = TextPreprocessor.adapt(texts)
    members = tiny_members(preprocessor)
    fitter = NgramFitter(2, preprocessor.split_mode, config)
    weight, warm_start = pooled_ngram_weight(preprocessor, members, texts, ids, labels, fitter)

    counted = np.concatenate([validation_split(labels, config, config.seed + i)[1] for i in range(2)])
    expected, rows_by_features = {}, {}
    for features in ("tfidf-1-2", "nb-1-2", "nb-1-3"):
        if rows < 1000:
            probabilities = cross_validated_ngram_probabilities(texts, ids, 2, seed=config.seed, features=features)
        else:
            rest = np.setdiff1d(np.arange(rows), counted)
            reference = fit_ngram_classifier([texts[i] for i in rest], ids[rest], 2, features=features)
            probability = reference(tf.constant(texts)).numpy()
            probabilities = np.hstack([1 - probability, probability])
        expected[features] = mean_log_loss(probabilities[counted], ids[counted])
        rows_by_features[features] = hand_row_losses(probabilities[counted], ids[counted])
    assert fitter.feature_losses == pytest.approx(expected, abs=1e-5)
    assert fitter.features == one_standard_error_choice(rows_by_features)
    assert np.diff(sorted(expected.values())).min() > 1e-5  # a real choice, not a tie within the tolerance
    report = fitter.report()
    assert report["features"] == fitter.features and report["ngram_features"] == "auto"
    assert report["held_out_log_loss"] == pytest.approx(expected, abs=1e-5)
    assert report["judged_on"] == f"the {len(np.unique(counted))} texts 2 transformer(s) held out"
    best = min(expected, key=expected.get)
    gain = rows_by_features["tfidf-1-2"] - rows_by_features[best]
    assert report["best_gain"] == pytest.approx({"features": best, "over": "tfidf-1-2", "mean": gain.mean(),
                                                 "standard_error": gain.std(ddof=1) / np.sqrt(len(gain))}, abs=1e-5)
    if rows > 1000:  # the chosen candidate's fit without the pooled rows starts the final fit
        assert warm_start.features == fitter.features


@pytest.mark.parametrize("lead, chosen", [(0.01, "tfidf-1-2"), (0.2, "nb-1-3")])
def test_a_candidate_replaces_tfidf_only_when_it_wins_beyond_one_standard_error(lead, chosen):
    # Per-row losses: nb-1-3 is lower on average by `lead`, with paired noise of standard deviation 0.3 over 400
    # rows (one standard error about 0.015): a lead of 0.01 is within noise, 0.2 is not.
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 2, 400)
    tfidf_rows = rng.uniform(1.5, 2.5, 400)
    noise = rng.normal(0.0, 0.3, 400)
    rows_by_features = {"tfidf-1-2": tfidf_rows, "nb-1-2": tfidf_rows + 0.01,
                        "nb-1-3": tfidf_rows - lead - noise + noise.mean()}

    def probabilities_for(rows):  # the true class's probability is exp(-row loss)
        true = np.exp(-rows)
        return np.where(ids[:, None] == np.arange(2), true[:, None], (1 - true)[:, None])

    fitter = NgramFitter(2, "word", TrainingConfig())
    probabilities, returned = fitter.choose_features(
        lambda features: (probabilities_for(rows_by_features[features]), features), ids, "synthetic rows")
    np.testing.assert_allclose(probabilities, probabilities_for(rows_by_features[chosen]))
    assert returned == chosen
    assert fitter.features == chosen == one_standard_error_choice(rows_by_features)
    assert min(fitter.feature_losses, key=fitter.feature_losses.get) == "nb-1-3"  # lowest either way
    assert fitter.report()["best_gain"]["mean"] == pytest.approx(lead, abs=1e-6)


def test_the_report_line_says_whether_the_lowest_loss_won_beyond_noise():
    branch = {"ngram_features": "auto", "features": "tfidf-1-2", "judged_on": "the 60 texts 3 transformer(s) held out",
              "held_out_log_loss": {"tfidf-1-2": 0.52, "nb-1-2": 0.51},
              "best_gain": {"features": "nb-1-2", "over": "tfidf-1-2", "mean": 0.01, "standard_error": 0.02}}
    assert _ngram_branch_line(branch) == (
        "N-gram features: tfidf-1-2 (auto: held-out log-loss tfidf-1-2 0.5200, nb-1-2 0.5100; on the 60 texts 3 "
        "transformer(s) held out; nb-1-2 beats tfidf-1-2 by 0.0100 ± 0.0200, not more than one standard error)")
    branch.update(features="nb-1-2", best_gain={**branch["best_gain"], "mean": 0.05})
    assert _ngram_branch_line(branch).endswith("by 0.0500 ± 0.0200, more than one standard error)")


@pytest.mark.parametrize("features", ["tfidf-1-3", "nb-1-2"])
def test_forced_features_are_used_without_comparing(features):
    texts, ids = make_texts(120, seed=7)
    ids = (ids == 0).astype(int)
    labels = [str(i) for i in ids]
    preprocessor, _ = TextPreprocessor.adapt(texts)
    fitter = NgramFitter(2, preprocessor.split_mode, TrainingConfig(ngram_features=features))
    pooled_ngram_weight(preprocessor, tiny_members(preprocessor), texts, ids, labels, fitter)
    assert (fitter.features, fitter.feature_losses) == (features, None)
    assert fitter.report() == {"ngram_features": features, "features": features}
    assert fitter.fit(texts, ids).features == features


def test_without_held_out_rows_features_are_chosen_out_of_fold_or_on_validation_texts():
    texts, ids = make_texts(200, seed=3)
    ids = (ids == 0).astype(int)
    config = TrainingConfig(ngram_weight=0.5)  # a fixed weight: no held-out rows are scored
    candidates = ("tfidf-1-2", "nb-1-2", "nb-1-3")
    fitter = NgramFitter(2, "word", config)
    fitter.choose_features_by_cross_validation(texts, ids)
    out_of_fold = {features: cross_validated_ngram_probabilities(texts, ids, 2, features=features)
                   for features in candidates}
    expected = {features: mean_log_loss(probabilities, ids) for features, probabilities in out_of_fold.items()}
    assert fitter.feature_losses == pytest.approx(expected, abs=1e-6)
    assert fitter.features == one_standard_error_choice(
        {features: hand_row_losses(probabilities, ids) for features, probabilities in out_of_fold.items()})

    validation_texts, validation_ids = make_texts(80, seed=4)
    validation_ids = (validation_ids == 0).astype(int)
    fitter = NgramFitter(2, "word", config)
    start = choose_features_on(fitter, (texts, ids), (validation_texts, validation_ids), "the 80 validation texts")
    expected, rows_by_features = {}, {}
    for features in candidates:
        probability = fit_ngram_classifier(texts, ids, 2, features=features)(tf.constant(validation_texts)).numpy()
        expected[features] = mean_log_loss(np.hstack([1 - probability, probability]), validation_ids)
        rows_by_features[features] = hand_row_losses(np.hstack([1 - probability, probability]), validation_ids)
    assert fitter.feature_losses == pytest.approx(expected, abs=1e-5)
    assert start.features == fitter.features == one_standard_error_choice(rows_by_features)
    assert fitter.report()["judged_on"] == "the 80 validation texts"


def test_multiclass_auto_compares_tfidf_only_and_naive_bayes_is_refused_before_training():
    assert NgramFitter(3, "word", TrainingConfig()).candidates == ("tfidf-1-2", "tfidf-1-3")
    texts, labels = keyword_dataset(60, classes=("negative", "positive", "neutral"))
    classifier = TextClassifier(ngram_features="nb-1-2", epochs=1, ensemble_size=1, embed_dim=16, num_heads=2,
                                ff_dim=32, verbose=0)
    with pytest.raises(ValueError, match="naive Bayes.*two classes, got 3 classes"):
        classifier.fit(texts, labels)
    assert not hasattr(classifier, "model_")


@pytest.fixture(scope="module")
def pooled_classifier():
    """A tiny default classifier fitted without validation data: its weight comes from `pooled_ngram_weight`."""
    texts, labels = keyword_dataset(240)
    classifier = TextClassifier(epochs=2, ensemble_size=2, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)
    return classifier.fit(texts, labels), texts, labels


def test_default_fit_uses_the_pooled_weight(pooled_classifier):
    classifier, texts, labels = pooled_classifier
    model, config = classifier.model_, classifier.training_config_
    ids = np.array([list(classifier.classes_).index(label) for label in labels])
    fitter = NgramFitter(2, preprocessor_of(model).split_mode, config)
    weight, _ = pooled_ngram_weight(preprocessor_of(model), members_of(model), texts, ids, labels, fitter)
    assert blend_weights_of(model) == pytest.approx([(1 - weight) / 2, (1 - weight) / 2, weight])
    # The features too: chosen on the same rows, recorded in the data report, used by the branch.
    branch = classifier.data_report_["ngram_branch"]
    assert branch == fitter.report() and set(branch["held_out_log_loss"]) == {"tfidf-1-2", "nb-1-2", "nb-1-3"}
    lowest = min(branch["held_out_log_loss"], key=branch["held_out_log_loss"].get)
    assert branch["best_gain"]["features"] == lowest
    assert branch["features"] == (lowest if branch["best_gain"]["mean"] > branch["best_gain"]["standard_error"]
                                  else "tfidf-1-2")
    assert ngram_of(model).features == branch["features"]


def test_export_of_the_pooled_blend_equals_predict_proba_and_explains_the_ngram_part_exactly(pooled_classifier,
                                                                                             tmp_path):
    classifier, _, _ = pooled_classifier
    texts = ["a wonderful film", "dreadful plot and cast", "", "the the the", "unseen words only"]
    served, _ = serve_in_plain_tensorflow(classifier.export(tmp_path / "model"), texts, tmp_path)
    np.testing.assert_allclose(served["probabilities"], classifier.predict_proba(texts).to_numpy(), atol=1e-6)
    # The n-gram part of an explanation: the branch's own contributions, computed by hand, times its weight.
    model = classifier.model_
    ngram = ngram_of(model)
    ngram_only = build_inference_model(preprocessor_of(model), [], ngram)
    explainer = TextExplainer(ngram_only, steps=32)
    for text in texts[:2]:
        target = 1
        out = explainer.function(tf.constant([text]), tf.constant([target]))
        expected = hand_ngram_attributions(ngram, text, target)
        np.testing.assert_allclose(out["attributions"].numpy()[0, : len(expected)], expected, atol=2e-6)


@pytest.fixture(scope="module")
def naive_bayes_classifier():
    """A tiny default classifier with its n-gram branch forced to naive Bayes 1-3-gram features."""
    texts, labels = keyword_dataset(200)
    classifier = TextClassifier(ngram_features="nb-1-3", epochs=1, ensemble_size=1, embed_dim=16, num_heads=2,
                                ff_dim=32, verbose=0)
    return classifier.fit(texts, labels)


def test_naive_bayes_branch_exports_as_predict_proba_and_explains_its_part_exactly(naive_bayes_classifier,
                                                                                    tmp_path):
    classifier = naive_bayes_classifier
    ngram = ngram_of(classifier.model_)
    assert ngram.features == "nb-1-3" and blend_weights_of(classifier.model_)[-1] > 0
    texts = ["a wonderful film", "dreadful plot and cast", "", "the film the film the", "unseen words only"]
    version = classifier.export(tmp_path / "model")
    served, _ = serve_in_plain_tensorflow(version, texts, tmp_path)
    np.testing.assert_allclose(served["probabilities"], classifier.predict_proba(texts).to_numpy(), atol=1e-6)
    assert load_exported(version)[1]["ngram_features"] == "nb-1-3"
    explainer = TextExplainer(build_inference_model(preprocessor_of(classifier.model_), [], ngram), steps=32)
    for text in texts[:2] + texts[3:4]:
        out = explainer.function(tf.constant([text]), tf.constant([1]))
        expected = hand_ngram_attributions(ngram, text, 1)
        np.testing.assert_allclose(out["attributions"].numpy()[0, : len(expected)], expected, atol=2e-6)


def test_saved_run_keeps_the_features(naive_bayes_classifier, tmp_path):
    classifier = naive_bayes_classifier
    classifier.save(tmp_path / "run")
    loaded = TextClassifier.load(tmp_path / "run", verbose=0)
    assert ngram_of(loaded.model_).features == "nb-1-3"
    assert loaded.training_config_.ngram_features == "nb-1-3"
    assert loaded.data_report_["ngram_branch"] == {"ngram_features": "nb-1-3", "features": "nb-1-3"}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["ngram_features"] == "nb-1-3"
    texts = ["a wonderful film", "dreadful plot"]
    np.testing.assert_allclose(loaded.predict_proba(texts), classifier.predict_proba(texts), atol=1e-6)
