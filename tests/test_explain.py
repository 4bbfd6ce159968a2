"""Tests for `transformer_kit.explanations`: token attributions, in Python and in the SavedModel."""

import collections
import math

import numpy as np
import pytest
import tensorflow as tf

from keyword_data import KEYWORDS, keyword_dataset
from plain_tensorflow import serve_in_plain_tensorflow
from transformer_kit.config import ModelConfig
from transformer_kit.encoders import ScratchTransformer, build_member
from transformer_kit.explanations import TextExplainer, _MemberView
from transformer_kit.export import load_exported
from transformer_kit.inference import build_inference_model
from transformer_kit.ngram import fit_ngram_classifier
from transformer_kit.preprocessor import TextPreprocessor

TINY_MODEL = ModelConfig(embed_dim=16, num_heads=2, ff_dim=32)
CHINESE = ["这部电影很好看", "剧情太差了", "很好的酒店", "服务很差", "好看好看", "太差劲了"] * 4
CHINESE_LABELS = np.array([1, 0, 1, 0, 1, 0] * 4)


def untrained_model(texts, labels, num_classes, ngram=True, members=1, sequence_length=None, features="tfidf-1-2"):
    """An inference model from random transformers (no training: fast) and a fitted n-gram model."""
    tf.keras.utils.set_random_seed(0)
    preprocessor, _ = TextPreprocessor.adapt(texts, sequence_length=sequence_length)
    transformers = [
        build_member(ScratchTransformer(TINY_MODEL), preprocessor, num_classes, f"transformer_{i}")
        for i in range(members)
    ]
    split = preprocessor.split_mode
    ngram_model = fit_ngram_classifier(texts, labels, num_classes, split=split, features=features) if ngram else None
    return build_inference_model(preprocessor, transformers, ngram_model)


def explain(model, texts, target=-1, steps=32):
    out = TextExplainer(model, steps=steps).function(tf.constant(texts), tf.constant([target] * len(texts)))
    return {key: value.numpy() for key, value in out.items()}


def target_probability(out):
    return out["probabilities"][np.arange(len(out["label_id"])), out["label_id"]]


# ------------------------------------------------------------- the n-gram part


def hand_ngram_attributions(layer, text, target):
    """Per-token attributions of a binary n-gram model, computed with numpy from its weights.

    Features are `(1 + log count) x idf` (TF-IDF) or `1 x r` (naive Bayes),
    L2-normalised; logit contributions are feature value x weight;
    integrated gradients of a sigmoid along a line from the bias scale them
    all by (p(z) - p(bias)) / (z - bias) exactly. An n-gram's share is split
    evenly among its tokens.
    """
    vocabulary = {ngram: i for i, ngram in enumerate(layer.get_vocabulary())}
    scale, kernel, bias = layer.scale.numpy(), layer.kernel.numpy()[:, 0], float(layer.bias.numpy()[0])
    tokens = text.split()
    grams = [(" ".join(tokens[i : i + n]), list(range(i, i + n)))
             for n in range(1, int(layer.features[-1]) + 1) for i in range(len(tokens) - n + 1)]
    counts = collections.Counter(gram for gram, _ in grams)
    binary = layer.features.startswith("nb-")
    values = {g: (1.0 if binary else 1 + math.log(c)) * scale[vocabulary.get(g, 0)] for g, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in values.values()))
    if norm == 0:  # only unknown n-grams: no features, the empty text's probability
        return np.zeros(len(tokens))
    logit_share = {g: v / norm * kernel[vocabulary.get(g, 0)] for g, v in values.items()}
    z = bias + sum(logit_share.values())

    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    sign = 1.0 if target == 1 else -1.0
    scale = sign * (sigmoid(z) - sigmoid(bias)) / (z - bias)
    attributions = np.zeros(len(tokens))
    for gram, positions in grams:
        for position in positions:
            attributions[position] += logit_share[gram] * scale / counts[gram] / len(positions)
    return attributions


@pytest.mark.parametrize("features", ["tfidf-1-2", "tfidf-1-3", "nb-1-2", "nb-1-3"])
def test_ngram_contributions_equal_the_regression_weights_computed_by_hand(features):
    texts = ["good film good plot", "bad film", "good acting", "bad plot bad acting", "a good film", "a bad one"] * 3
    labels = np.array([1, 0, 1, 0, 1, 0] * 3)
    model = untrained_model(texts, labels, 2, members=0, features=features)
    layer = model.get_layer("ngram_classifier")
    assert layer.features == features
    probe = ["good film good plot", "a bad film , bad", "unseen words only", "good", "good film good film good"]
    for target in (1, 0):
        out = explain(model, probe, target=target)
        for row, text in enumerate(probe):
            expected = hand_ngram_attributions(layer, text, target)
            np.testing.assert_allclose(out["attributions"][row, : len(expected)], expected, atol=2e-6)
            assert not out["attributions"][row, len(expected) :].any()
    assert out["label_id"].tolist() == [0] * len(probe)  # the target, not the prediction


def test_ngram_only_multiclass_attributions_sum_to_probability_minus_empty_text():
    texts, labels = keyword_dataset(90, classes=list(KEYWORDS))
    ids = np.array([list(KEYWORDS).index(label) for label in labels])
    model = untrained_model(texts, ids, 3, members=0)
    probe = texts[:10] + ["wonderful wonderful average", ""]
    out = explain(model, probe)
    empty = model(tf.constant([""])).numpy()[0]
    np.testing.assert_allclose(out["baseline_probability"], empty[out["label_id"]], atol=1e-6)
    expected = target_probability(out) - empty[out["label_id"]]
    np.testing.assert_allclose(out["attributions"].sum(axis=1), expected, atol=1e-5)
    for row in range(10):  # the keyword is the token pushing hardest towards the predicted class
        tokens = [t.decode() for t in out["tokens"][row] if t]
        assert tokens[int(np.argmax(out["attributions"][row, : len(tokens)]))] in KEYWORDS.values()


# --------------------------------------------------------- the transformer part


def test_member_view_from_embeddings_equals_the_member():
    texts, labels = keyword_dataset(40)
    model = untrained_model(texts, np.array([label == "positive" for label in labels], int), 2, ngram=False)
    member = model.get_layer("transformer_0")
    view = _MemberView(member)
    ids = model.get_layer("preprocessor")(tf.constant(texts[:8] + [""]))
    from_view = view.from_embeddings(ids, view.embedding(ids)).numpy()
    np.testing.assert_allclose(from_view[:, 1:], member(ids).numpy(), atol=1e-6)


@pytest.mark.parametrize("num_classes", [2, 3])
def test_integrated_gradients_are_complete(num_classes):
    classes = list(KEYWORDS)[:num_classes] if num_classes == 3 else ["negative", "positive"]
    texts, labels = keyword_dataset(60, classes=classes)
    ids = np.array([classes.index(label) for label in labels])
    model = untrained_model(texts, ids, num_classes, ngram=False, members=2)
    probe = texts[:12] + ["wonderful", ""]
    out = explain(model, probe, steps=64)
    gap = np.abs(out["attributions"].sum(axis=1) - (target_probability(out) - out["baseline_probability"]))
    assert gap.max() < 2e-3, gap
    # The baseline really is "every token embedding zeroed": recompute it for one member.
    assert np.abs(out["attributions"]).sum() > 0
    np.testing.assert_array_equal(out["attributions"][-1], np.zeros_like(out["attributions"][-1]))


def test_blend_is_complete_and_weights_the_parts():
    texts, labels = keyword_dataset(60)
    ids = np.array([label == "positive" for label in labels], int)
    model = untrained_model(texts, ids, 2, members=2)
    probe = texts[:10]
    out = explain(model, probe, steps=64)
    gap = np.abs(out["attributions"].sum(axis=1) - (target_probability(out) - out["baseline_probability"]))
    assert gap.max() < 2e-3
    # With the n-gram model alone weighted, the explanation is the n-gram model's alone.
    only_ngram = build_inference_model(
        model.get_layer("preprocessor"), [], model.get_layer("ngram_classifier")
    )
    ngram_weighted = build_inference_model(
        model.get_layer("preprocessor"),
        [model.get_layer("transformer_0"), model.get_layer("transformer_1")],
        model.get_layer("ngram_classifier"),
        [0.0, 0.0, 1.0],
    )
    target = int(out["label_id"][0])
    np.testing.assert_allclose(
        explain(ngram_weighted, probe, target=target)["attributions"],
        explain(only_ngram, probe, target=target)["attributions"],
        atol=1e-6,
    )


def test_truncated_texts_get_transformer_attributions_only_where_the_transformer_reads():
    texts, labels = keyword_dataset(60)
    ids = np.array([label == "positive" for label in labels], int)
    model = untrained_model(texts, ids, 2, ngram=False, sequence_length=5)
    out = explain(model, ["the film plot actor scene story wonderful music"])
    assert out["transformer_tokens"].tolist() == [5]
    assert out["attributions"].shape == (1, 8)
    assert np.abs(out["attributions"][0, :5]).sum() > 0
    assert not out["attributions"][0, 5:].any()


def test_chinese_texts_are_explained_character_by_character():
    model = untrained_model(CHINESE, CHINESE_LABELS, 2)
    explainer = TextExplainer(model)
    [result] = explainer.explain(["剧情很好看！"], ["差", "好"])
    assert result.tokens == ["剧", "情", "很", "好", "看", "！"]
    assert result.spans == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6)]
    assert result.completeness_gap < 5e-3
    assert "好" in result.to_html() and "好" in result.to_terminal(colour=False)


# ------------------------------------------------------------ the public API


@pytest.fixture(scope="module")
def trained(default_classifier):
    """The session's default classifier (tests/conftest.py): two transformers, n-grams, three keyword classes."""
    return default_classifier


@pytest.mark.slow
def test_explain_gives_tokens_spans_and_the_keyword_first(trained):
    texts = ["The FILM was Wonderful!", "dreadful, dreadful plot", "Average: the cast"]
    results = trained.explain(texts)
    predicted = trained.predict(texts).tolist()
    probabilities = trained.predict_proba(texts).to_numpy()
    for text, result, label, row in zip(texts, results, predicted, probabilities):
        assert result.label == result.predicted == label
        assert result.probability == pytest.approx(row.max(), abs=1e-6)
        assert all(text[start:end].lower() == token for token, (start, end) in zip(result.tokens, result.spans))
        assert result.tokens[int(np.argmax(result.attributions))] in KEYWORDS.values()
        assert result.completeness_gap < 0.01
        assert not result.truncated
    frame = results.to_frame()
    assert frame.groupby("text_index").size().tolist() == [len(r.tokens) for r in results]
    assert "Wonderful" in results._repr_html_().replace("wonderful", "Wonderful")


@pytest.mark.slow
def test_explain_a_target_class_and_a_long_text(trained):
    [against] = trained.explain(["wonderful film"], target="negative")
    assert against.label == "negative" and against.predicted == "positive"
    assert against.attributions[0] < 0  # "wonderful" pushes away from negative
    with pytest.raises(ValueError, match="unknown classes"):
        trained.explain(["film"], target="spam")
    long_text = " ".join(["dreadful"] * (trained.sequence_length_ + 5))
    [result] = trained.explain(long_text)
    assert result.truncated and result.transformer_tokens == trained.sequence_length_
    assert "truncated" in result.to_terminal(colour=False)


@pytest.mark.slow
def test_served_explain_signature_in_plain_tensorflow_equals_explain(trained, tmp_path):
    # Three points, not the default: the export must carry the steps it is given.
    version_dir = trained.export(tmp_path / "model", explain_steps=3)
    assert load_exported(tmp_path / "model")[1]["signatures"]["explain"]["steps"] == 3
    texts = ["The FILM was Wonderful!", "dreadful plot", "", "average " * 3, "电影 wonderful"]
    served, dtypes = serve_in_plain_tensorflow(version_dir, texts, tmp_path, signature="explain")
    assert [dtypes[k] for k in ("tokens", "attributions", "label", "probabilities")] == [
        "string", "float32", "string", "float32"]
    expected = trained.explain(texts, steps=3)
    assert served["label"].tolist() == [result.label for result in expected]
    np.testing.assert_allclose(served["probabilities"], trained.predict_proba(texts).to_numpy(), atol=1e-6)
    for row, result in enumerate(expected):
        width = len(result.tokens)
        assert served["tokens"][row, :width].tolist() == result.tokens
        assert not any(served["tokens"][row, width:])
        np.testing.assert_allclose(served["attributions"][row, :width], result.attributions, atol=1e-4)
        assert not served["attributions"][row, width:].any()


# ----------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def saved_run(trained, tmp_path_factory):
    return trained.save(tmp_path_factory.mktemp("run") / "run")


@pytest.mark.slow
def test_cli_explains_a_text_with_plain_markers_and_writes_html(saved_run, tmp_path, capsys):
    from transformer_kit.cli import main

    page = tmp_path / "out.html"
    assert main(["explain", str(saved_run), "what a wonderful film", "--html", str(page), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("positive (")
    assert "[++wonderful]" in printed  # not a TTY: markers, no ANSI codes
    assert "\x1b[" not in printed
    assert "wonderful" in page.read_text(encoding="utf-8")


@pytest.mark.slow
def test_cli_explains_a_csv_and_an_export_the_same_way(trained, saved_run, tmp_path, capsys):
    from transformer_kit.cli import main

    data = tmp_path / "texts.csv"
    data.write_text("text\nwonderful film\ndreadful plot\n", encoding="utf-8")
    assert main(["explain", str(saved_run), str(data), "--quiet"]) == 0
    from_run = capsys.readouterr().out
    export = trained.export(tmp_path / "export")
    assert main(["explain", str(export.parent), str(data), "--quiet"]) == 0
    from_export = capsys.readouterr().out
    assert from_run == from_export
    assert from_run.count("\n\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.csv"], "no such file"),
        (["film", "--target", "spam"], "unknown classes"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(saved_run, capsys, argv, message):
    from transformer_kit.cli import main

    assert main(["explain", str(saved_run), *argv, "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and "\n" not in error and error.startswith("transformer-kit explain: error:")


@pytest.mark.slow
def test_evaluate_saves_the_top_features_with_the_run(saved_run, tmp_path, capsys):
    from transformer_kit.cli import main

    texts, labels = keyword_dataset(60, seed=5, classes=list(KEYWORDS))
    data = tmp_path / "holdout.csv"
    rows = "".join(f"{text},{label}\n" for text, label in zip(texts, labels))
    data.write_text("text,label\n" + rows, encoding="utf-8")
    assert main(["evaluate", str(saved_run), str(data), "--explain-texts", "45", "--quiet"]) == 0
    folder = saved_run / "evaluations" / "holdout"
    import pandas as pd

    table = pd.read_csv(folder / "top_features.csv")
    assert (folder / "top_features.png").stat().st_size > 1000
    top = table.groupby("class").head(1).set_index("class")["token"].to_dict()
    assert top == {label: keyword for label, keyword in KEYWORDS.items()}
    assert (table["count"] >= 3).all()
