"""Tests for `transformer_kit.export`: a SavedModel that serves raw strings."""

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keyword_data import FILLER, KEYWORDS, keyword_dataset
from plain_tensorflow import serve_in_plain_tensorflow
from transformer_kit.classifier import TextClassifier
from transformer_kit.errors import RunDirectoryError
from transformer_kit.export import METADATA_PATH, export_saved_model, load_exported, load_exported_predictor
from transformer_kit.inference import (
    blend_weights_of,
    members_of,
    ngram_of,
    preprocessor_of,
    with_blend_weights,
    without_unused_parts,
)
from transformer_kit.layers.probability_blend import as_class_probabilities


def tiny_classifier(classes):
    classifier = TextClassifier(
        preset="default", epochs=2, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0
    )
    # An explicit validation set, so that metrics_ is filled and exported.
    classifier.fit(keyword_dataset(210, classes=classes), validation=keyword_dataset(60, seed=3, classes=classes))
    return classifier


@pytest.fixture(scope="module")
def binary_classifier():
    return tiny_classifier(["negative", "positive"])


@pytest.fixture(
    scope="module", params=[("negative", "positive"), ("negative", "neutral", "positive")], ids=["binary", "multiclass"]
)
def exported(request, tmp_path_factory):
    binary = len(request.param) == 2
    classifier = request.getfixturevalue("binary_classifier") if binary else tiny_classifier(list(request.param))
    version_dir = export_saved_model(classifier, tmp_path_factory.mktemp("export") / "model")
    return classifier, version_dir


def awkward_texts(sequence_length):
    texts, _ = keyword_dataset(90, seed=1, classes=list(KEYWORDS))
    return texts + [
        "",
        "   ",
        "\t\n\r",
        "wonderful 😀🎬👍",
        "😀",
        "这部电影很好看",
        "dreadful 电影 film",
        "\x00\x01\x07 wonderful \x1b[31m",
        "zero\u200bwidth\u00a0space",
        "WONDERFUL!!! Dreadful??? <br />average",
        " ".join(["dreadful"] + FILLER * (10 * sequence_length // len(FILLER) + 1)),
        "wonderful " * (10 * sequence_length),
        "unseenword anotherunseenword",
    ]


def test_serving_default_in_plain_tensorflow_matches_predict_proba(exported, tmp_path):
    classifier, version_dir = exported
    texts = awkward_texts(classifier.sequence_length_)
    assert len(texts) >= 100
    served, dtypes = serve_in_plain_tensorflow(version_dir, texts, tmp_path)

    expected = classifier.predict_proba(texts).to_numpy()
    assert served["probabilities"].shape == (len(texts), len(classifier.classes_))
    assert np.isfinite(served["probabilities"]).all()
    np.testing.assert_allclose(served["probabilities"].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)
    assert served["label"].tolist() == classifier.predict(texts).tolist()
    np.testing.assert_array_equal(served["label_id"], expected.argmax(axis=1))
    np.testing.assert_allclose(served["score"], expected.max(axis=1), atol=1e-5)
    assert [dtypes[k] for k in ("probabilities", "label", "label_id", "score")] == [
        "float32", "string", "int64", "float32"]


def test_parts_of_blend_weight_zero_are_neither_scored_nor_served(binary_classifier, tmp_path):
    # What a default serves when its held-out texts gave the n-gram branch weight 1.0, beside a blend.
    blend, ngram_only = copy.copy(binary_classifier), copy.copy(binary_classifier)
    blend.model_ = with_blend_weights(binary_classifier.model_, [0.5, 0.5])
    ngram_only.model_ = with_blend_weights(binary_classifier.model_, [0.0, 1.0])
    assert without_unused_parts(blend.model_) is blend.model_
    assert [layer.name for layer in without_unused_parts(ngram_only.model_).layers] == [
        "text", "ngram_classifier", "probabilities"]
    texts = awkward_texts(binary_classifier.sequence_length_)

    expected = as_class_probabilities(ngram_of(ngram_only.model_)(tf.constant(texts))).numpy()
    np.testing.assert_allclose(ngram_only.predict_proba(texts).to_numpy(), expected, atol=1e-6)
    assert not np.allclose(blend.predict_proba(texts).to_numpy(), expected, atol=1e-3)
    ngram_only_dir = export_saved_model(ngram_only, tmp_path / "ngram_only")
    served, _ = serve_in_plain_tensorflow(ngram_only_dir, texts, tmp_path)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)

    # Neither the served graph nor the explanations read the transformer's variables (nor the token
    # vocabulary, which only the transformers use); `serving_token_ids` still does.
    def captured(version_dir):
        loaded, _ = load_exported(version_dir)
        return {signature: len(loaded.signatures[signature].captured_inputs)
                for signature in ("serving_default", "explain", "serving_token_ids")}

    transformer_variables = len(members_of(binary_classifier.model_)[0].weights)
    blended, alone = captured(export_saved_model(blend, tmp_path / "blend")), captured(ngram_only_dir)
    assert blended["serving_default"] - alone["serving_default"] >= transformer_variables
    assert blended["explain"] - alone["explain"] >= transformer_variables
    assert alone["serving_token_ids"] == blended["serving_token_ids"]


def test_each_text_gives_the_same_result_alone_and_in_a_batch(exported):
    classifier, version_dir = exported
    serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    texts = ["", "wonderful film", "dreadful " * 50]
    batched = serve(text=tf.constant(texts))["probabilities"].numpy()
    for row, text in enumerate(texts):
        alone = serve(text=tf.constant([text]))["probabilities"].numpy()[0]
        np.testing.assert_allclose(alone, batched[row], atol=1e-5)


def test_an_empty_batch_gives_empty_outputs(exported):
    classifier, version_dir = exported
    outputs = tf.saved_model.load(str(version_dir)).signatures["serving_default"](text=tf.constant([], tf.string))
    assert outputs["probabilities"].shape == (0, len(classifier.classes_))
    assert outputs["label"].shape == (0,)


def signature_blocks(cli_output):
    """`saved_model_cli show --all` text -> {signature name: its block of text}."""
    parts = re.split(r"signature_def\['([^']+)'\]:", cli_output)
    return dict(zip(parts[1::2], parts[2::2]))


def tensor_dtype(block, kind, name):
    match = re.search(rf"{kind}\['{name}'\] tensor_info:\s*dtype: (\w+)\s*shape: ([^\n]+)", block)
    assert match, f"{kind}['{name}'] not listed in:\n{block}"
    return match.group(1), match.group(2).strip()


def test_saved_model_cli_lists_the_documented_signatures(exported):
    classifier, version_dir = exported
    cli = Path(sys.executable).with_name("saved_model_cli")
    result = subprocess.run(
        [str(cli), "show", "--all", "--dir", str(version_dir)], check=True, capture_output=True, text=True
    )
    blocks = signature_blocks(result.stdout)
    assert {"serving_default", "serving_token_ids"} <= set(blocks)
    num_classes = len(classifier.classes_)
    for name, block in (("serving_default", "text"), ("serving_token_ids", "token_ids")):
        expected_input = ("DT_STRING", "(-1)") if block == "text" else ("DT_INT64", "(-1, -1)")
        assert tensor_dtype(blocks[name], "inputs", block) == expected_input
        assert tensor_dtype(blocks[name], "outputs", "probabilities") == ("DT_FLOAT", f"(-1, {num_classes})")
        assert tensor_dtype(blocks[name], "outputs", "label") == ("DT_STRING", "(-1)")
        assert tensor_dtype(blocks[name], "outputs", "label_id") == ("DT_INT64", "(-1)")
        assert tensor_dtype(blocks[name], "outputs", "score") == ("DT_FLOAT", "(-1)")


def test_token_id_signature_averages_the_transformers(exported):
    classifier, version_dir = exported
    texts, _ = keyword_dataset(20, seed=2, classes=list(KEYWORDS))
    token_ids = preprocessor_of(classifier.model_)(tf.constant(texts + [""]))
    expected = np.mean(
        [as_class_probabilities(m.predict_on_batch(token_ids.numpy())) for m in members_of(classifier.model_)],
        axis=0,
    )
    loaded = tf.saved_model.load(str(version_dir))
    outputs = loaded.signatures["serving_token_ids"](token_ids=tf.cast(token_ids, tf.int64))
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(outputs["label_id"].numpy(), expected.argmax(axis=1))
    names = np.asarray(classifier.classes_)[expected.argmax(axis=1)]
    assert [s.decode() for s in outputs["label"].numpy()] == names.tolist()


def test_token_id_signature_accepts_overlong_and_unknown_ids(exported):
    classifier, version_dir = exported
    loaded = tf.saved_model.load(str(version_dir))
    too_long = np.full((2, 3 * classifier.sequence_length_), 2, "int64")
    too_long[1, :3] = [-5, 10**9, 0]
    probabilities = loaded.signatures["serving_token_ids"](token_ids=tf.constant(too_long))["probabilities"]
    assert np.isfinite(probabilities.numpy()).all()


def test_versions_increment_and_existing_version_needs_overwrite(binary_classifier, tmp_path):
    classifier = binary_classifier
    out_dir = tmp_path / "model"
    assert export_saved_model(classifier, out_dir) == out_dir / "1"
    assert export_saved_model(classifier, out_dir) == out_dir / "2"
    assert export_saved_model(classifier, out_dir, version=7) == out_dir / "7"
    assert export_saved_model(classifier, out_dir) == out_dir / "8"
    with pytest.raises(RunDirectoryError, match="--overwrite"):
        export_saved_model(classifier, out_dir, version=2)
    assert export_saved_model(classifier, out_dir, version=2, overwrite=True) == out_dir / "2"
    # No half-written staging directories are left behind.
    assert sorted(p.name for p in out_dir.iterdir()) == ["1", "2", "7", "8"]
    with pytest.raises(ValueError, match="positive int"):
        export_saved_model(classifier, out_dir, version=0)


def test_load_exported_picks_the_highest_version_and_reads_metadata(exported):
    classifier, version_dir = exported
    loaded, metadata = load_exported(version_dir.parent)
    assert metadata["path"] == str(version_dir)
    assert (version_dir / METADATA_PATH).is_file()
    assert metadata["classes"] == list(classifier.classes_)
    assert metadata["sequence_length"] == classifier.sequence_length_
    assert metadata["vocabulary_size"] == preprocessor_of(classifier.model_).vocabulary_size
    assert metadata["split_mode"] == classifier.split_mode_
    assert metadata["blend_weights"] == pytest.approx(blend_weights_of(classifier.model_))
    assert metadata["metrics"]["validation"]["accuracy"] == pytest.approx(classifier.metrics_["validation"]["accuracy"])
    assert metadata["metrics"] == json.loads(json.dumps(classifier.metrics_))
    assert set(metadata["signatures"]) == {"serving_default", "serving_token_ids", "explain"}
    assert {"transformer_kit", "tensorflow", "keras"} <= set(metadata["versions"])
    assert set(loaded.signatures) == {"serving_default", "serving_token_ids", "explain"}

    loaded_again, same = load_exported(version_dir)
    assert same["path"] == str(version_dir)


def test_exported_predictor_matches_the_classifier(exported):
    classifier, version_dir = exported
    predictor = load_exported_predictor(version_dir.parent)
    texts = awkward_texts(classifier.sequence_length_)
    assert predictor.classes == list(classifier.classes_)
    assert predictor.text_column == classifier.text_column
    probabilities = predictor.predict_proba(texts, batch_size=16)
    assert list(probabilities.columns) == list(classifier.classes_)
    np.testing.assert_allclose(probabilities.to_numpy(), classifier.predict_proba(texts).to_numpy(), atol=1e-5)


def test_a_loaded_run_exports_the_same_predictions(exported, tmp_path):
    classifier, _ = exported
    classifier.save(tmp_path / "run")
    reloaded = TextClassifier.load(tmp_path / "run", verbose=0)
    version_dir = export_saved_model(reloaded, tmp_path / "model")
    texts = awkward_texts(classifier.sequence_length_)
    served = tf.saved_model.load(str(version_dir)).signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(served["probabilities"].numpy(), classifier.predict_proba(texts).to_numpy(), atol=1e-5)


def test_load_exported_explains_a_directory_without_a_model(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDirectoryError, match="transformer-kit export"):
        load_exported(tmp_path / "empty")
    with pytest.raises(RunDirectoryError, match="does not exist"):
        load_exported(tmp_path / "missing")
