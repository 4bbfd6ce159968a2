"""TextClassifier end to end: fit, predict, evaluate, save, load."""

import inspect

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn import metrics

from keyword_data import TINY, keyword_frame
from transformer_kit import TextClassifier
from transformer_kit.errors import DataError, RunDirectoryError
from transformer_kit.inference import CompiledScorer, blend_weights_of, members_of
from transformer_kit.training import MemberTrainer, balanced_class_weights, balanced_class_weights_from_counts


def test_text_classifier_stays_a_facade_of_at_most_300_lines():
    # Its work lives in fitting, label_kinds, saving, export, explanations...; a class that
    # grows past this is doing their work (issue 25).
    lines, _ = inspect.getsourcelines(TextClassifier)
    assert len(lines) <= 300, f"TextClassifier is {len(lines)} lines; move code to the module it belongs in"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("classifier")
    keyword_frame(300).to_csv(directory / "train.csv", index=False)
    keyword_frame(90, seed=1).to_csv(directory / "test.csv", index=False)
    classifier = TextClassifier(**TINY)
    classifier.fit(directory / "train.csv", test=directory / "test.csv")
    return classifier, directory


def test_fit_learns_the_keyword_task_and_records_test_metrics(trained):
    classifier, _ = trained
    assert list(classifier.classes_) == ["money", "sport", "weather"]
    assert classifier.metrics_["test"]["accuracy"] >= 0.9
    assert set(classifier.history_.columns) >= {"member", "epoch", "loss", "val_loss"}
    assert list(classifier.predict(["we went to the bank", "rain all day"])) == ["money", "weather"]


def test_predict_proba_has_class_columns_sums_to_one_and_keeps_order(trained):
    classifier, _ = trained
    texts = ["football " * 30, "", "rain", "bank and rain and football"]
    probabilities = classifier.predict_proba(texts)
    assert list(probabilities.columns) == list(classifier.classes_)
    np.testing.assert_allclose(probabilities.to_numpy().sum(1), 1.0, atol=1e-5)
    single = [classifier.predict_proba([text]).to_numpy()[0] for text in texts]
    np.testing.assert_allclose(probabilities.to_numpy(), np.stack(single), atol=1e-5)


def test_fast_predict_path_equals_the_end_to_end_keras_model(trained):
    classifier, _ = trained
    texts = keyword_frame(40, seed=3).text.tolist() + ["", "unknownword " * 80]
    in_graph = classifier.model_(tf.constant(texts)).numpy()
    np.testing.assert_allclose(classifier.predict_proba(texts).to_numpy(), in_graph, atol=1e-6)


def test_compiled_scorer_traces_the_model_once_for_every_batch_width(trained):
    classifier, _ = trained
    scorer = CompiledScorer(classifier.model_, batch_size=1)
    scorer(["rain"] + ["football " * n for n in (3, 12, 30)] + [""])
    assert scorer.function.experimental_get_tracing_count() == 1


def test_evaluate_equals_scikit_learn_on_the_same_predictions(trained):
    classifier, directory = trained
    test = pd.read_csv(directory / "test.csv")
    result = classifier.evaluate(directory / "test.csv")
    predicted = classifier.predict(test.text)
    assert result["accuracy"] == pytest.approx(metrics.accuracy_score(test.label, predicted))
    assert result["macro_f1"] == pytest.approx(metrics.f1_score(test.label, predicted, average="macro"))
    per_class_recall = metrics.recall_score(test.label, predicted, average=None, labels=classifier.classes_)
    assert [result["per_class"][c]["recall"] for c in classifier.classes_] == pytest.approx(per_class_recall)
    assert result["confusion_matrix"] == metrics.confusion_matrix(
        test.label, predicted, labels=classifier.classes_
    ).tolist()
    assert "macro avg" in result["classification_report"]


def test_binary_roc_auc_equals_scikit_learn():
    frame = keyword_frame(200, classes=("sport", "weather"))
    classifier = TextClassifier(**TINY)
    classifier.fit(frame)
    test = keyword_frame(60, classes=("sport", "weather"), seed=2)
    result = classifier.evaluate(test)
    probability_weather = classifier.predict_proba(test.text)["weather"]
    expected = metrics.roc_auc_score(test.label == "weather", probability_weather)
    assert result["roc_auc"] == pytest.approx(expected)
    assert classifier.predict_proba(test.text).shape == (60, 2)


def test_save_and_load_predict_identically_and_write_every_artifact(trained, tmp_path):
    classifier, _ = trained
    run = classifier.save(tmp_path / "run")
    expected_files = {
        "model.keras", "labels.json", "config.json", "history.csv", "metrics.json",
        "data_report.json", "data_report.txt", "learning_curves.png", "confusion_matrix.png",
        "manifest.json",
    }
    assert expected_files <= {p.name for p in run.iterdir()}
    loaded = TextClassifier.load(run)
    texts = ["football match", "", "money money"]
    np.testing.assert_array_equal(
        loaded.predict_proba(texts).to_numpy(), classifier.predict_proba(texts).to_numpy()
    )
    assert list(loaded.classes_) == list(classifier.classes_)
    assert loaded.metrics_["test"]["accuracy"] == classifier.metrics_["test"]["accuracy"]


def test_save_refuses_an_existing_run_unless_overwrite(trained, tmp_path):
    classifier, _ = trained
    classifier.save(tmp_path / "run")
    with pytest.raises(RunDirectoryError, match="overwrite"):
        classifier.save(tmp_path / "run")
    classifier.save(tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "manifest.json").exists()


def test_load_refuses_an_incomplete_directory(trained, tmp_path):
    classifier, _ = trained
    run = classifier.save(tmp_path / "run")
    (run / "manifest.json").unlink()
    with pytest.raises(RunDirectoryError, match="not a complete"):
        TextClassifier.load(run)


def test_unseen_test_labels_fail_before_training():
    classifier = TextClassifier(**TINY)
    test = keyword_frame(30)
    test.loc[0, "label"] = "politics"
    with pytest.raises(DataError, match="politics"):
        classifier.fit(keyword_frame(60), test=test)
    assert not hasattr(classifier, "model_")


def test_class_weight_balanced_weights_rare_classes_more():
    ids = np.array([0] * 90 + [1] * 10 + [3] * 20)
    weights = balanced_class_weights(ids, "balanced")
    assert weights[1] == pytest.approx(9 * weights[0])
    # Streamed files give counts, not rows: the same weights (class 2 absent).
    assert balanced_class_weights_from_counts(np.bincount(ids), "balanced") == pytest.approx(weights)
    assert balanced_class_weights(ids, None) is None


def test_chinese_text_uses_characters_and_learns():
    positive = ["这个酒店很好，服务热情", "质量不错，非常满意", "很好很好，推荐购买", "环境很好，下次再来"]
    negative = ["房间太差了，很失望", "质量很差，不推荐", "服务太差，再也不来", "很失望，太差劲了"]
    rng = np.random.default_rng(0)
    texts = [rng.choice(positive) for _ in range(100)] + [rng.choice(negative) for _ in range(100)]
    labels = ["正面"] * 100 + ["负面"] * 100
    classifier = TextClassifier(**{**TINY, "epochs": 6})
    classifier.fit((texts, labels))
    assert classifier.split_mode_ == "character"
    assert list(classifier.predict(["服务很好，满意", "太差了，失望"])) == ["正面", "负面"]


@pytest.mark.parametrize(
    "settings, match",
    [({"ngram_weight": 2}, "ngram_weight"), ({"preset": "huge"}, "preset"), ({"epochs": 0}, "epoch"),
     ({"learning_rat": 1e-3}, "Unknown setting")],
)
def test_invalid_settings_are_stored_then_named_by_fit(settings, match):
    classifier = TextClassifier(**settings)  # scikit-learn's contract: the constructor only stores
    with pytest.raises(ValueError, match=match):
        classifier.fit(keyword_frame(30))


def test_auto_ngram_weight_prefers_the_better_model():
    from transformer_kit.ngram import choose_ngram_weight

    true_ids = np.array([0, 1, 0, 1])
    good = np.array([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]])
    poor = np.full((4, 2), 0.5)
    assert choose_ngram_weight(poor, good, true_ids) > 0.9
    assert choose_ngram_weight(good, poor, true_ids) < 0.1
    assert choose_ngram_weight(good, good, true_ids) == 0.5


def test_default_preset_chooses_and_saves_its_blend_weight(tmp_path):
    classifier = TextClassifier(**TINY)
    classifier.fit(keyword_frame(200))
    weights = blend_weights_of(classifier.model_)
    assert len(weights) == 2 and sum(weights) == pytest.approx(1.0)
    loaded = TextClassifier.load(classifier.save(tmp_path / "run"))
    assert blend_weights_of(loaded.model_) == pytest.approx(weights)


def test_ensemble_members_reuse_one_compiled_model_yet_train_as_if_alone(monkeypatch):
    # Transformers after the first train in the first one's compiled model
    # (its training step traced once); each must end exactly where it ends
    # when compiled and trained on its own.
    frame = keyword_frame(150)
    data = (frame.text.tolist(), frame.label.tolist())
    settings = dict(preset="ensemble", ensemble_size=3, epochs=2, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)
    reusing = TextClassifier(**settings)
    reusing.fit(data)

    train_member = MemberTrainer.train_member
    compiled = []

    def train_member_alone(self, *args, **kwargs):
        self._trainer = None  # compile every member on its own
        member, rows = train_member(self, *args, **kwargs)
        compiled.append(member)
        return member, rows

    monkeypatch.setattr(MemberTrainer, "train_member", train_member_alone)
    alone = TextClassifier(**settings)
    alone.fit(data)
    reused_members = members_of(reusing.model_)
    assert len(compiled) == 3 and len({id(member) for member in reused_members}) == 3
    for mine, theirs in zip(reused_members, members_of(alone.model_), strict=True):
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(reusing.history_.val_loss, alone.history_.val_loss, rtol=1e-6)
    assert reusing.history_.member.tolist() == alone.history_.member.tolist()
