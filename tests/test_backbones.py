"""Tests for `transformer_kit.backbones`: KerasHub presets as encoders, from tiny local presets.

Nothing here downloads: every preset is written by `save_to_preset` into a
temporary directory (tests/tiny_presets.py), with random weights. The tests
check correctness (ids, masks, equalities, errors), not accuracy.
"""

import builtins
import json
import subprocess
import sys
import textwrap
import unicodedata

import numpy as np
import pytest

from keyword_data import keyword_dataset
from plain_tensorflow import serve_in_plain_tensorflow, serve_signatures_in_plain_tensorflow
from tiny_presets import CHINESE_LINES, write_albert_preset, write_bert_preset
from transformer_kit import TextClassifier
from transformer_kit.backbones import BackboneError, check_preset, require_keras_hub, swap_ids
from transformer_kit.cli import main

HUB_REASON = "keras-hub (the hub extra) is not installed"
# Random weights learn this keyword task at the scratch transformers' rate, not at 5e-5.
TINY_BACKBONE = dict(epochs=3, ensemble_size=1, learning_rate=1e-3, verbose=0)


@pytest.fixture(scope="module")
def bert_preset(tmp_path_factory):
    pytest.importorskip("keras_hub", reason=HUB_REASON)
    return write_bert_preset(tmp_path_factory.mktemp("presets") / "bert_tiny")


@pytest.fixture(scope="module")
def albert_preset(tmp_path_factory):
    pytest.importorskip("keras_hub", reason=HUB_REASON)
    pytest.importorskip("sentencepiece", reason="sentencepiece (the hub extra) is not installed")
    english, _ = keyword_dataset(60)
    return write_albert_preset(tmp_path_factory.mktemp("presets") / "albert_tiny", CHINESE_LINES * 3 + english)


# ------------------------------------------------------------ errors, fast


def test_a_directory_that_is_not_a_preset_names_the_missing_file(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackboneError, match=r"tokenizer\.json, model\.weights\.h5 or model\.weights\.json missing"):
        check_preset(str(tmp_path))
    with pytest.raises(BackboneError, match="does not exist"):
        check_preset(str(tmp_path / "nowhere"))


def test_without_keras_hub_the_error_names_the_hub_extra(monkeypatch, tmp_path, capsys):
    real_import = builtins.__import__

    def no_keras_hub(name, *args, **kwargs):
        if name == "keras_hub" or name.startswith("keras_hub."):
            raise ImportError("No module named 'keras_hub'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_keras_hub)
    monkeypatch.delitem(__import__("sys").modules, "keras_hub", raising=False)
    with pytest.raises(BackboneError, match=r'pip install "transformer_kit\[hub\]"'):
        require_keras_hub()
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(20)))
    assert main(["train", str(data), "--output", str(tmp_path / "run"), "--backbone", "bert_tiny_en_uncased",
                 "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "transformer_kit[hub]" in error


def test_a_name_that_cannot_be_fetched_is_one_line_naming_the_directory_alternative(monkeypatch, tmp_path, capsys):
    keras_hub = pytest.importorskip("keras_hub", reason=HUB_REASON)

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'www.kaggle.com'\n(many more lines)")

    # As on a machine without network: keras_hub would try to download the name.
    monkeypatch.setattr(keras_hub.tokenizers.Tokenizer, "from_preset", offline)
    monkeypatch.setattr(keras_hub.models.Backbone, "from_preset", offline)
    data = tmp_path / "train.csv"
    data.write_text("text,label\n" + "".join(f"good film {i},pos\nbad film {i},neg\n" for i in range(20)))
    assert main(["train", str(data), "--output", str(tmp_path / "run"), "--backbone", "bert_tiny_en_uncased",
                 "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "'bert_tiny_en_uncased'" in error and "local preset directory" in error and "save_to_preset" in error


def test_backbone_settings_default_to_the_fine_tuning_rate_and_clone_keeps_the_backbone():
    from sklearn.base import clone

    from transformer_kit.config import BACKBONE_LEARNING_RATE, make_configs

    assert make_configs("single", backbone="some/dir")[1].learning_rate == BACKBONE_LEARNING_RATE
    assert make_configs("single", backbone="some/dir", learning_rate=1e-3)[1].learning_rate == 1e-3
    assert make_configs("single")[1].learning_rate != BACKBONE_LEARNING_RATE
    with pytest.raises(ValueError, match="pass one of them"):
        make_configs(backbone="some/dir", word_vectors="vectors.vec")
    assert clone(TextClassifier(backbone="some/dir", epochs=2)).get_params()["backbone"] == "some/dir"


def test_swap_ids_exchanges_padding_and_zero_and_is_its_own_inverse():
    import tensorflow as tf

    ids = tf.constant([0, 1, 2, 5, 1])
    assert swap_ids(ids, 1).numpy().tolist() == [1, 0, 2, 5, 0]
    assert swap_ids(swap_ids(ids, 1), 1).numpy().tolist() == ids.numpy().tolist()
    assert swap_ids(ids, 0) is ids


# --------------------------------------------------------- preprocessing


def test_preprocessor_adds_start_and_end_truncates_keeping_end_and_counts_texts_cut_short(bert_preset):
    from transformer_kit.backbones import BackbonePreprocessor, load_tokenizer

    tokenizer = load_tokenizer(str(bert_preset))
    texts = ["good film", "the " * 30]
    preprocessor, lengths = BackbonePreprocessor.adapt(tokenizer, texts, max_sequence_length=16)
    assert lengths == [4, 32]  # [CLS] good film [SEP]; [CLS] 30 x the [SEP]
    assert preprocessor.sequence_length == 16  # chosen from the texts, capped at the preset's maximum
    vocabulary = tokenizer.get_vocabulary()
    ids = preprocessor(np.array(texts)).numpy()
    assert ids.shape == (2, 16)
    assert [vocabulary[i] for i in ids[0, :4]] == ["[CLS]", "good", "film", "[SEP]"] and not ids[0, 4:].any()
    assert vocabulary[ids[1, 0]] == "[CLS]" and vocabulary[ids[1, -1]] == "[SEP]"  # cut, end token kept
    assert preprocessor.token_ids(["good film"]) == [ids[0, :4].tolist()]


def test_member_output_does_not_depend_on_padding(bert_preset):
    from transformer_kit.backbones import PretrainedBackbone
    from transformer_kit.encoders import build_member

    encoder = PretrainedBackbone(str(bert_preset))
    preprocessor, _ = encoder.make_preprocessor(["good film", "a bad film"], TextClassifier()._configs()[1])
    member = build_member(encoder, preprocessor, num_classes=2, name="transformer_0")
    ids = preprocessor(np.array(["good film", "a bad film"])).numpy()
    padded = np.pad(ids, [[0, 0], [0, 5]])
    np.testing.assert_allclose(member(ids, training=False), member(padded, training=False), atol=1e-6)


def test_sentencepiece_preset_tokenizes_chinese_and_english(albert_preset):
    from transformer_kit.backbones import BackbonePreprocessor, load_tokenizer

    tokenizer = load_tokenizer(str(albert_preset))
    preprocessor, lengths = BackbonePreprocessor.adapt(tokenizer, ["这部电影很好看", "a wonderful film"], 64)
    vocabulary = tokenizer.get_vocabulary()
    unknown = tokenizer.token_to_id("<unk>")
    for row, length in zip(preprocessor(np.array(["这部电影很好看", "a wonderful film"])).numpy(), lengths):
        assert vocabulary[row[0]] == "[CLS]" and vocabulary[row[length - 1]] == "[SEP]"
        assert length > 2 and unknown not in row[1 : length - 1].tolist()


# --------------------------------------------------- end to end (slow)


@pytest.fixture(scope="module")
def backbone_run(bert_preset, tmp_path_factory):
    """A single-backbone classifier trained from the tiny BERT preset, and its saved run."""
    texts, labels = keyword_dataset(200)
    classifier = TextClassifier(preset="single", backbone=str(bert_preset), **TINY_BACKBONE).fit(texts, labels)
    run_dir = classifier.save(tmp_path_factory.mktemp("runs") / "bert")
    return classifier, run_dir


def test_single_backbone_trains_saves_and_loads_with_equal_predictions(backbone_run):
    classifier, run_dir = backbone_run
    texts, labels = keyword_dataset(60, seed=1)
    assert classifier.score(texts, labels) > 0.9
    assert classifier.model_.get_layer("preprocessor").__class__.__name__ == "BackbonePreprocessor"
    assert "truncated_fraction" in classifier.data_report_
    loaded = TextClassifier.load(run_dir)
    np.testing.assert_allclose(loaded.predict_proba(texts).to_numpy(), classifier.predict_proba(texts).to_numpy(),
                               atol=1e-6)
    explained = classifier.explain(["The film was WONDERFUL!", "dreadful plots"], steps=16)
    assert [result.predicted for result in explained] == classifier.predict(["The film was WONDERFUL!",
                                                                              "dreadful plots"]).tolist()
    assert explained[1].tokens == ["dreadful", "plot", "##s"] and explained[1].spans == [(0, 8), (9, 13), (13, 14)]
    assert max(result.completeness_gap for result in explained) < 5e-3
    assert explained[0].tokens[int(np.argmax(explained[0].attributions))] == "wonderful"


def test_export_serves_raw_strings_in_plain_tensorflow_with_tensorflow_text(backbone_run, tmp_path):
    classifier, _ = backbone_run
    version_dir = classifier.export(tmp_path / "export")
    metadata = json.loads((version_dir / "assets.extra" / "transformer_kit.json").read_text())
    assert metadata["load_requires"] == ["tensorflow_text"]
    assert {"words", "word_attributions"} <= set(metadata["signatures"]["explain"]["outputs"])
    texts = [*keyword_dataset(20, seed=2)[0], "", "unknown 中文 words!!", "the " * 100]
    outputs, _ = serve_in_plain_tensorflow(version_dir, texts, tmp_path, requires=["tensorflow_text"])
    np.testing.assert_allclose(outputs["probabilities"], classifier.predict_proba(texts).to_numpy(), atol=1e-5)


def test_transformer_kit_serve_loads_a_backbone_export_and_answers_like_predict_proba(backbone_run, tmp_path):
    pytest.importorskip("starlette", reason="the serve extra is not installed")
    from serving_process import ServerProcess

    classifier, _ = backbone_run
    classifier.export(tmp_path / "bert")
    server = ServerProcess(tmp_path / "bert")  # tensorflow_text is imported from the export's metadata
    try:
        texts = ["a wonderful film", "dreadful plots", ""]
        status, answer = server.predict({"instances": texts}, model="bert")
        assert status == 200, answer
        np.testing.assert_allclose([row["probabilities"] for row in answer["predictions"]],
                                   classifier.predict_proba(texts).to_numpy(), atol=1e-5)
        status, answer = server.predict({"signature_name": "explain", "instances": ["dreadful plots"]}, model="bert")
        assert status == 200, answer
        assert [token for token in answer["predictions"][0]["tokens"] if token] == ["dreadful", "plot", "##s"]
    finally:
        assert server.stop() == 0


def test_default_blend_with_a_backbone_trains_and_cli_trains_exports_and_predicts(bert_preset, tmp_path, capsys):
    texts, labels = keyword_dataset(200)
    blended = TextClassifier(backbone=str(bert_preset), **TINY_BACKBONE).fit(texts, labels)
    assert blended.model_.get_layer("ngram_classifier") is not None
    assert blended.score(*keyword_dataset(60, seed=1)) > 0.9

    from keyword_data import write_keyword_csv

    data = write_keyword_csv(tmp_path / "train.csv", rows=200)
    assert main(["train", str(data), "--output", str(tmp_path / "run"), "--backbone", str(bert_preset),
                 "--preset", "single", "--epochs", "2", "--learning-rate", "0.001", "--quiet"]) == 0
    assert main(["export", str(tmp_path / "run"), str(tmp_path / "export"), "--quiet"]) == 0
    capsys.readouterr()
    (tmp_path / "texts.csv").write_text("text\na wonderful film\nthe dreadful plot\n")
    assert main(["predict", str(tmp_path / "export"), str(tmp_path / "texts.csv"), "--quiet"]) == 0
    assert "positive" in capsys.readouterr().out
    # explain: the run directory and the export's signature, the same pieces and attributions
    assert main(["explain", str(tmp_path / "run"), "Wonderful films", "--quiet"]) == 0
    from_run = capsys.readouterr().out
    assert main(["explain", str(tmp_path / "export"), "Wonderful films", "--quiet"]) == 0
    assert capsys.readouterr().out == from_run and "##s" in from_run and "positive" in from_run
    assert main(["evaluate", str(tmp_path / "run"), str(data), "--explain-texts", "12", "--quiet"]) == 0
    assert (tmp_path / "run" / "evaluations" / "train" / "top_features.csv").stat().st_size > 0


def test_sentencepiece_backbone_trains_on_chinese_saves_exports_and_multi_label_works(albert_preset, bert_preset,
                                                                                      tmp_path):
    texts = ["这部电影很好看", "剧情无聊，太糟糕了", "演员很棒，我喜欢", "结局很差，不喜欢"] * 30
    labels = ["pos", "neg", "pos", "neg"] * 30
    settings = {**TINY_BACKBONE, "epochs": 10}
    chinese = TextClassifier(preset="single", backbone=str(albert_preset), **settings).fit(texts, labels)
    assert chinese.split_mode_ == "character"
    assert chinese.score(texts[:8], labels[:8]) == 1.0
    unseen = ["这部电影很棒", "a wonderful film", ""]
    expected = chinese.predict_proba(unseen).to_numpy()
    loaded = TextClassifier.load(chinese.save(tmp_path / "run"))
    np.testing.assert_allclose(loaded.predict_proba(unseen).to_numpy(), expected, atol=1e-6)
    signatures = serve_signatures_in_plain_tensorflow(chinese.export(tmp_path / "export", explain_steps=4), unseen,
                                                      tmp_path, ["serving_default", "explain"],
                                                      requires=["tensorflow_text"])
    np.testing.assert_allclose(signatures["serving_default"][0]["probabilities"], expected, atol=1e-5)
    served = signatures["explain"][0]
    explained = chinese.explain(unseen, steps=4)
    for row, result in enumerate(explained):  # the SentencePiece resource is in the explain signature too
        assert served["tokens"][row, : len(result.tokens)].tolist() == result.tokens
        np.testing.assert_allclose(served["attributions"][row, : len(result.tokens)], result.attributions, atol=1e-4)

    words, topics = keyword_dataset(120, classes=("negative", "positive", "neutral"))
    sets = [label if i % 3 else f"{label}|neutral" for i, label in enumerate(topics)]
    multi = TextClassifier(preset="single", backbone=str(bert_preset), multi_label=True, **TINY_BACKBONE)
    multi.fit(words, sets)
    assert multi.predict_proba(words[:5]).shape == (5, 3)


def test_cross_validation_clones_a_backbone_classifier_and_every_fold_trains_the_backbone(bert_preset):
    from sklearn.base import clone
    from sklearn.model_selection import cross_validate

    # cross_validate clones and fits exactly as GridSearchCV does (tests/test_estimator.py runs that one),
    # in 2 fits instead of a grid's 5.
    base = TextClassifier(preset="single", backbone=str(bert_preset), epochs=1, verbose=0)
    assert clone(base).get_params()["backbone"] == str(bert_preset)
    results = cross_validate(base, *keyword_dataset(40), cv=2, return_estimator=True, error_score="raise")
    assert np.isfinite(results["test_score"]).all() and len(results["estimator"]) == 2
    assert not hasattr(base, "model_") and base.get_params()["backbone"] == str(bert_preset)
    for fitted in results["estimator"]:
        assert fitted.model_.get_layer("preprocessor").__class__.__name__ == "BackbonePreprocessor"


MIRRORED_TRAIN = textwrap.dedent(
    """
    import sys
    import tensorflow as tf

    # Two logical CPUs stand in for two GPUs; only possible before TF starts (then the CLI runs).
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    from transformer_kit.cli import main
    from transformer_kit.distribution import make_strategy

    print("REPLICAS", make_strategy("mirrored").num_replicas_in_sync)  # the strategy the CLI then gets
    sys.exit(main(sys.argv[1:]))
    """
)


def test_backbone_trains_under_the_mirrored_strategy_from_the_cli_when_batches_split_unevenly(bert_preset, tmp_path):
    from keyword_data import write_keyword_csv

    script = tmp_path / "train_mirrored.py"
    script.write_text(MIRRORED_TRAIN)
    data = write_keyword_csv(tmp_path / "train.csv", rows=62)
    # Batches of 9 (and 11 validation rows) cannot split evenly over two replicas.
    done = subprocess.run(
        [sys.executable, str(script), "train", str(data), "--output", str(tmp_path / "run"), "--backbone",
         str(bert_preset), "--preset", "single", "--strategy", "mirrored", "--epochs", "1", "--batch-size", "9",
         "--validation-fraction", "0.2", "--learning-rate", "0.001", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "REPLICAS 2" in done.stdout
    classifier = TextClassifier.load(tmp_path / "run", verbose=0)
    assert classifier.training_config_.strategy == "mirrored"
    probabilities = classifier.predict_proba(["a wonderful film", "a dreadful film", ""])
    assert probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.to_numpy().sum(axis=1), 1, atol=1e-5)


def test_backbone_run_resumes_from_its_backup_and_trains_streamed(bert_preset, tmp_path):
    from keyword_data import write_keyword_csv

    texts, labels = keyword_dataset(150)
    settings = dict(preset="single", backbone=str(bert_preset), **TINY_BACKBONE)
    first = TextClassifier(**settings).fit(texts, labels, backup_dir=tmp_path / "backup")
    again = TextClassifier(**settings).fit(texts, labels, backup_dir=tmp_path / "backup")
    assert again.resumed_ == {"transformer_0": "finished before the interruption"}
    np.testing.assert_allclose(again.predict_proba(texts), first.predict_proba(texts), atol=1e-6)

    data = write_keyword_csv(tmp_path / "train.csv", rows=400)
    streamed = TextClassifier(streaming=True, **{**settings, "epochs": 6}).fit(str(data))
    assert "streaming" in streamed.data_report_
    assert streamed.score(*keyword_dataset(60, seed=1)) > 0.9


# ------------------------------------------------- explanations, untrained (fast)


def untrained_backbone_model(preset, texts, labels, members=2, ngram=True):
    """An inference model from a preset's random backbones and a fitted n-gram model (no training: fast)."""
    import keras

    from transformer_kit.backbones import PretrainedBackbone
    from transformer_kit.encoders import build_member
    from transformer_kit.inference import build_inference_model
    from transformer_kit.ngram import fit_ngram_classifier

    keras.utils.set_random_seed(0)
    encoder = PretrainedBackbone(str(preset))
    preprocessor, _ = encoder.make_preprocessor(texts, TextClassifier()._configs()[1])
    parts = [build_member(encoder, preprocessor, 2, f"transformer_{i}") for i in range(members)]
    y = np.array([label in ("positive", "pos") for label in labels], int)
    counted = fit_ngram_classifier(texts, y, 2, split=preprocessor.split_mode) if ngram else None
    return build_inference_model(preprocessor, parts, counted)


@pytest.fixture(scope="module")
def bert_blend(bert_preset):
    return untrained_backbone_model(bert_preset, *keyword_dataset(60))


def explain_raw(model, texts, steps=32, weights=None):
    import tensorflow as tf

    from transformer_kit.explanations import TextExplainer
    from transformer_kit.inference import with_blend_weights

    model = with_blend_weights(model, weights) if weights else model
    out = TextExplainer(model, steps=steps).function(tf.constant(texts), tf.constant([-1] * len(texts)))
    return {key: value.numpy() for key, value in out.items()}


def gaps(out, attributions=None):
    attributions = out["attributions"] + 0 if attributions is None else attributions
    target = out["probabilities"][np.arange(len(out["label_id"])), out["label_id"]]
    return np.abs(attributions.sum(axis=1) - (target - out["baseline_probability"]))


def test_backbone_member_view_equals_the_member(bert_blend):
    import tensorflow as tf

    from transformer_kit.piece_explanations import BackboneMemberView

    member = bert_blend.get_layer("transformer_0")
    view = BackboneMemberView(member)
    ids = bert_blend.get_layer("preprocessor")(tf.constant(["a wonderful film", "plot", ""]))
    np.testing.assert_allclose(view.probabilities(ids, view.token_embedding(ids)).numpy()[:, 1:],
                               member(ids, training=False).numpy(), atol=1e-6)
    from transformer_kit.explanations import TextExplainer

    with pytest.raises(ValueError, match="zeros baseline only"):
        TextExplainer(bert_blend, baseline="unknown")


def test_backbone_integrated_gradients_are_complete_and_special_tokens_get_nothing(bert_blend):
    sequence_length = bert_blend.get_layer("preprocessor").sequence_length
    probe = [*keyword_dataset(8, seed=3)[0], "Wonderful films!!", "", "the " * (sequence_length + 4)]
    only_backbones = explain_raw(bert_blend, probe, steps=32, weights=[0.5, 0.5, 0.0])
    assert gaps(only_backbones).max() < 2e-3
    vocabulary = bert_blend.get_layer("preprocessor").tokenizer.get_vocabulary()
    tokens = only_backbones["tokens"].astype(str)
    assert not {"[CLS]", "[SEP]", "[PAD]"} & set(tokens.ravel().tolist())  # the pieces only
    assert tokens[-3, :5].tolist() == ["wonderful", "film", "##s", "!", "!"] and "wonderful" in vocabulary
    assert not only_backbones["attributions"][-2].any()  # "": no piece
    long_row = only_backbones["attributions"][-1]
    assert only_backbones["transformer_tokens"][-1] == sequence_length - 2 and len(long_row) == sequence_length + 4
    assert np.abs(long_row[: sequence_length - 2]).sum() > 0 and not long_row[sequence_length - 2:].any()

    blended = explain_raw(bert_blend, probe, steps=32)  # the n-gram part per word
    from transformer_kit.explanations import explain_in_batches

    results = explain_in_batches(lambda text, rows: {k: v[rows] for k, v in blended.items()}, probe,
                                 ["negative", "positive"])
    assert max(result.completeness_gap for result in results) < 2e-3
    assert np.abs(blended["word_attributions"]).sum() > 0
    assert all(len(r.attributions) == len(r.tokens) == len(r.spans) for r in results)


def test_ngram_word_contributions_are_split_over_the_pieces_by_characters(bert_blend):
    from transformer_kit.explanations import TextExplainer
    from transformer_kit.inference import with_blend_weights

    texts = ["Wonderful films", "dreadful plots!"]
    ngram_only = TextExplainer(with_blend_weights(bert_blend, [0.0, 0.0, 1.0]))
    raw = explain_raw(bert_blend, texts, weights=[0.0, 0.0, 1.0])
    results = ngram_only.explain(texts, ["negative", "positive"])
    # "films" = "film" (4 characters) + "##s" (1): 4/5 and 1/5 of the word's contribution.
    words = raw["word_attributions"][0]
    assert results[0].tokens == ["wonderful", "film", "##s"]
    np.testing.assert_allclose(results[0].attributions, [words[0], 0.8 * words[1], 0.2 * words[1]], atol=1e-7)
    assert not raw["attributions"].any()  # the backbones weigh nothing
    for result, row in zip(results, raw["word_attributions"]):
        assert result.attributions.sum() == pytest.approx(row.sum(), abs=1e-6)
        assert result.completeness_gap < 1e-5  # the n-gram part is exact


def test_chinese_sentencepiece_pieces_line_up_with_the_text(albert_preset):
    from transformer_kit.explanations import TextExplainer
    from transformer_kit.piece_explanations import piece_surface

    texts = ["这部电影很好看", "剧情无聊，太糟糕了", "演员很棒，我喜欢", "结局很差，不喜欢"] * 5
    model = untrained_backbone_model(albert_preset, texts, ["pos", "neg", "pos", "neg"] * 5, members=1)
    probe = ["这部电影很好看，演员很棒", "我不喜欢这个结局", "a wonderful 电影"]
    results = TextExplainer(model, steps=32).explain(probe, ["neg", "pos"])
    for text, result in zip(probe, results):
        # A lone "▁" (a word start with no characters of its own) has no span; every other piece has its own.
        surfaces = [piece_surface(token) for token in result.tokens]
        assert [span is None for span in result.spans] == [not surface for surface in surfaces], result.tokens
        spans = [span for span in result.spans if span]
        # SentencePiece NFKC-normalizes ("，" is the piece ","): the piece stands for the text's own character.
        normalized = [unicodedata.normalize("NFKC", text[start:end]) for start, end in spans]
        assert normalized == [surface for surface in surfaces if surface]
        assert "".join(text[start:end] for start, end in spans) == text.replace(" ", "")
        assert result.completeness_gap < 2e-3
    assert any(len(piece_surface(token)) > 1 for token in results[0].tokens)  # pieces, not characters


def test_served_backbone_explain_signature_in_plain_tensorflow_equals_explain(bert_blend, tmp_path):
    from transformer_kit.explanations import TextExplainer, explain_in_batches
    from transformer_kit.export import build_archive

    pytest.importorskip("tensorflow_text", reason="tensorflow-text (the hub extra) is not installed")
    build_archive(bert_blend, ["negative", "positive"], explain_steps=3).write_out(str(tmp_path / "1"), verbose=False)
    texts = ["The FILM was Wonderful!", "dreadful plots", "", "unknown 中文 words!!", "the " * 70]
    served, dtypes = serve_in_plain_tensorflow(tmp_path / "1", texts, tmp_path, signature="explain",
                                               requires=["tensorflow_text"])
    assert [dtypes[k] for k in ("tokens", "attributions", "words", "word_attributions", "label")] == [
        "string", "float32", "string", "float32", "string"]
    expected = TextExplainer(bert_blend, steps=3).explain(texts, ["negative", "positive"])
    served = {key: value.astype(object) if value.dtype.kind == "U" else value for key, value in served.items()}
    served = {key: np.vectorize(str.encode, otypes=[object])(value) if value.dtype == object else value
              for key, value in served.items() if key != "label"}
    got = explain_in_batches(lambda text, rows: {k: v[rows] for k, v in served.items()}, texts,
                             ["negative", "positive"])
    for result, mine in zip(expected, got):
        assert mine.tokens == result.tokens and mine.spans == result.spans
        np.testing.assert_allclose(mine.attributions, result.attributions, atol=1e-4)
        assert mine.baseline_probability == pytest.approx(result.baseline_probability, abs=1e-5)
