"""Model builders: padding invariance, saving, learning, argument validation."""

import keras
import numpy as np
import pytest

from transformer_kit.config import TrainingConfig
from transformer_kit.models import (
    build_article_classifier,
    build_text_classifier,
    compile_text_classifier,
)

VOCAB = 50


def keyword_task(num_classes, rows=600, length=12, seed=0):
    """Random token sequences of varying length; class k contains keyword id 2 + k."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, rows)
    ids = np.zeros((rows, length), "int32")
    for row, label in enumerate(labels):
        size = rng.integers(3, length + 1)
        ids[row, :size] = rng.integers(2 + num_classes, VOCAB, size)
        ids[row, rng.integers(0, size)] = 2 + label
    return ids, labels


def pad(ids, length):
    out = np.zeros((ids.shape[0], length), "int32")
    out[:, : ids.shape[1]] = ids
    return out


def pooled_model(model):
    """The classifier's encoder: token ids -> the pooled vector."""
    return model.get_layer("transformer_encoder")


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_padding_does_not_change_pooled_vector_or_prediction(pooling):
    model = build_text_classifier(VOCAB, 40, num_classes=3, pooling=pooling, num_layers=2)
    ids = np.array([[5, 9, 13, 7, 21]], "int32")
    short, long = pad(ids, 8), pad(ids, 40)
    pooled = pooled_model(model)
    np.testing.assert_allclose(pooled(short).numpy(), pooled(long).numpy(), atol=1e-5)
    np.testing.assert_allclose(model(short).numpy(), model(long).numpy(), atol=1e-5)


def test_article_model_is_padding_invariant():
    model = build_article_classifier(vocab_size=VOCAB, sequence_length=32, head_size=8, ff_dim=32)
    ids = np.array([[3, 4, 5]], "int32")
    np.testing.assert_allclose(model(pad(ids, 4)).numpy(), model(pad(ids, 32)).numpy(), atol=1e-5)


def test_empty_text_gives_a_finite_prediction():
    model = build_text_classifier(VOCAB, 16, num_classes=2)
    assert np.isfinite(model(np.zeros((2, 8), "int32")).numpy()).all()


def test_save_and_reload_without_custom_objects(tmp_path):
    model = compile_text_classifier(build_text_classifier(VOCAB, 16, num_classes=4), 5, 2)
    ids, _ = keyword_task(4, rows=8, length=16)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)  # safe_mode, no custom_objects
    np.testing.assert_array_equal(model.predict(ids, verbose=0), reloaded.predict(ids, verbose=0))


@pytest.mark.parametrize("num_classes", [2, 4])
def test_classifier_learns_a_keyword_task(num_classes):
    keras.utils.set_random_seed(0)
    ids, labels = keyword_task(num_classes)
    test_ids, test_labels = keyword_task(num_classes, rows=200, seed=1)
    model = build_text_classifier(VOCAB, 12, num_classes=num_classes, embed_dim=32, ff_dim=64)
    compile_text_classifier(model, steps_per_epoch=19, epochs=8, learning_rate=3e-3)
    model.fit(ids, labels, batch_size=32, epochs=8, verbose=0)
    probabilities = model.predict(test_ids, verbose=0)
    if num_classes == 2:
        assert probabilities.shape == (200, 1)
        predicted = (probabilities[:, 0] > 0.5).astype(int)
    else:
        assert probabilities.shape == (200, num_classes)
        np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
        predicted = probabilities.argmax(-1)
    assert (predicted == test_labels).mean() >= 0.95


def test_compile_uses_warmup_then_cosine_decay_and_matching_loss():
    model = compile_text_classifier(build_text_classifier(VOCAB, 8), steps_per_epoch=10, epochs=10)
    optimizer = model.optimizer
    rates = []
    for step in (0, 5, 10, 55, 100):
        optimizer.iterations.assign(step)
        rates.append(float(optimizer.learning_rate))
    peak = TrainingConfig().learning_rate  # the one default, 2e-3
    assert rates[0] == 0.0 and rates[1] == pytest.approx(peak / 2)
    assert rates[2] == pytest.approx(peak)
    assert rates[2] > rates[3] > rates[4]
    assert isinstance(model.loss, keras.losses.BinaryCrossentropy)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    multi = compile_text_classifier(build_text_classifier(VOCAB, 8, num_classes=3))
    assert isinstance(multi.loss, keras.losses.SparseCategoricalCrossentropy)


def test_weight_decay_skips_biases_norms_and_positions():
    model = compile_text_classifier(build_text_classifier(VOCAB, 8))
    optimizer = model.optimizer
    decayed = {v.path for v in model.trainable_variables if optimizer._use_weight_decay(v)}
    assert any("token_embedding" in path for path in decayed)
    assert any("kernel" in path for path in decayed)
    assert not any(
        name in path
        for path in decayed
        for name in ("bias", "gamma", "beta", "position_embeddings")
    )


def test_article_defaults_are_the_articles_numbers():
    model = build_article_classifier()
    encoder = model.get_layer("encoder_0")
    assert model.get_layer("embedding").vocab_size == 10000
    assert model.get_layer("embedding").embed_dim == 16
    assert encoder.num_heads == 8 and encoder.key_dim == 512 and encoder.ff_dim == 2048
    assert encoder.dropout == pytest.approx(0.1)
    assert model.get_layer("dense").units == 512
    assert model.output_shape == (None, 1)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"embed_dim": 30, "num_heads": 4}, "embed_dim"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"vocab_size": 0}, "vocab_size"),
        ({"sequence_length": -3}, "sequence_length"),
        ({"ff_dim": 0}, "ff_dim"),
        ({"num_layers": 0}, "num_layers"),
        ({"num_heads": 0}, "num_heads"),
        ({"dropout": 1.0}, "dropout"),
        ({"pooling": "median"}, "pooling"),
        ({"activation": "wiggle"}, "activation"),
    ],
)
def test_invalid_builder_arguments_raise_value_error_naming_them(kwargs, argument):
    arguments = {"vocab_size": 100, "sequence_length": 16, **kwargs}
    with pytest.raises(ValueError, match=argument):
        build_text_classifier(**arguments)


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"learning_rate": 0}, "learning_rate"), ({"weight_decay": -1}, "weight_decay")],
)
def test_invalid_compile_arguments_raise_value_error(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        compile_text_classifier(build_text_classifier(100, 8), **kwargs)
