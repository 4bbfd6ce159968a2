"""The layers against independent NumPy references, masks, and serialization."""

import keras
import numpy as np
import pytest

from transformer_kit.layers import MaskedPooling, TokenAndPositionEmbedding, TransformerEncoder
from transformer_kit.layers.token_and_position_embedding import sinusoidal_position_table


def numpy_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def numpy_gelu(x):
    from math import erf

    return 0.5 * x * (1.0 + np.vectorize(erf)(x / np.sqrt(2.0)))


def numpy_encoder(layer, x, mask):
    """softmax(QKᵀ/√d_k + mask)V -> output projection -> residual -> LayerNorm
    -> feed-forward -> residual -> LayerNorm, from the layer's own weights."""
    attention = layer.attention
    wq, bq = [w.numpy() for w in attention.query_dense.weights]
    wk, bk = [w.numpy() for w in attention.key_dense.weights]
    wv, bv = [w.numpy() for w in attention.value_dense.weights]
    wo, bo = [w.numpy() for w in attention.output_dense.weights]
    x = x.astype(np.float64)
    q = np.einsum("btd,dhk->bthk", x, wq) + bq
    k = np.einsum("btd,dhk->bthk", x, wk) + bk
    v = np.einsum("btd,dhk->bthk", x, wv) + bv
    d_k = q.shape[-1]
    logits = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(d_k)
    logits = np.where(mask[:, None, None, :], logits, -np.inf)
    logits -= logits.max(-1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(-1, keepdims=True)
    context = np.einsum("bhqs,bshk->bqhk", probs, v)
    attended = np.einsum("bqhk,hkd->bqd", context, wo) + bo
    gamma1, beta1 = [w.numpy() for w in layer.attention_norm.weights]
    a = numpy_layer_norm(x + attended, gamma1, beta1, layer.layer_norm_epsilon)
    w1, b1 = [w.numpy() for w in layer.ff_inner.weights]
    w2, b2 = [w.numpy() for w in layer.ff_outer.weights]
    ff = numpy_gelu(a @ w1 + b1) @ w2 + b2
    gamma2, beta2 = [w.numpy() for w in layer.ff_norm.weights]
    return numpy_layer_norm(a + ff, gamma2, beta2, layer.layer_norm_epsilon), probs


def random_inputs(batch=3, length=7, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, length, dim)).astype("float32")


def randomize_weights(layer, seed=1):
    # Fresh layer norms are the identity (gamma 1, beta 0); random values make
    # the reference comparison exercise every weight.
    rng = np.random.default_rng(seed)
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))


@pytest.mark.parametrize("lengths", [[7, 7, 7], [7, 3, 1]], ids=["no_padding", "padding"])
def test_encoder_matches_numpy_reference(lengths):
    x = random_inputs()
    mask = np.arange(7)[None, :] < np.array(lengths)[:, None]
    layer = TransformerEncoder(num_heads=4, ff_dim=24, dropout=0.1)
    layer(x, padding_mask=mask)
    randomize_weights(layer)
    output, scores = layer(x, padding_mask=mask, return_attention_scores=True)
    expected, expected_probs = numpy_encoder(layer, x, mask)
    np.testing.assert_allclose(output.numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), expected_probs, atol=1e-5)


def test_attention_gives_padded_keys_zero_weight():
    x = random_inputs()
    mask = np.arange(7)[None, :] < np.array([[7], [3], [1]])
    _, scores = TransformerEncoder(num_heads=2, ff_dim=8)(
        x, padding_mask=mask, return_attention_scores=True
    )
    scores = scores.numpy()
    assert np.all(scores[1, :, :, 3:] == 0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-6)


def test_encoder_output_of_real_tokens_ignores_padding_content():
    x = random_inputs(batch=1, length=6)
    mask = np.array([[True, True, True, False, False, False]])
    layer = TransformerEncoder(num_heads=2, ff_dim=8)
    first = layer(x, padding_mask=mask).numpy()
    x_changed = x.copy()
    x_changed[:, 3:] = 100.0
    second = layer(x_changed, padding_mask=mask).numpy()
    np.testing.assert_allclose(first[:, :3], second[:, :3], atol=1e-5)


def test_implicit_keras_mask_reaches_attention():
    ids = np.array([[4, 9, 2, 0, 0]])
    embedding = TokenAndPositionEmbedding(20, 5, 8)
    encoder = TransformerEncoder(num_heads=2, ff_dim=8)
    inputs = keras.Input((None,), dtype="int32")
    model = keras.Model(inputs, encoder(embedding(inputs)))
    implicit = model(ids).numpy()
    explicit = encoder(embedding(ids), padding_mask=ids != 0).numpy()
    np.testing.assert_allclose(implicit, explicit, atol=1e-6)
    unmasked = encoder(embedding(ids).numpy()).numpy()  # .numpy() drops the mask
    assert not np.allclose(unmasked[:, :3], explicit[:, :3], atol=1e-4)


def test_pre_norm_matches_its_formula():
    x = random_inputs()
    layer = TransformerEncoder(num_heads=2, ff_dim=8, norm_first=True, activation="relu")
    layer(x)
    randomize_weights(layer)
    eps = layer.layer_norm_epsilon
    g1, b1 = [w.numpy() for w in layer.attention_norm.weights]
    normed = numpy_layer_norm(x.astype(np.float64), g1, b1, eps).astype("float32")
    attended = layer.attention(normed, normed, normed).numpy()
    a = x + attended
    g2, b2 = [w.numpy() for w in layer.ff_norm.weights]
    w1, c1 = [w.numpy() for w in layer.ff_inner.weights]
    w2, c2 = [w.numpy() for w in layer.ff_outer.weights]
    expected = a + np.maximum(numpy_layer_norm(a, g2, b2, eps) @ w1 + c1, 0) @ w2 + c2
    np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-4)


def test_embedding_is_token_plus_position_and_masks_zero():
    layer = TokenAndPositionEmbedding(vocab_size=10, sequence_length=6, embed_dim=4)
    ids = np.array([[3, 5, 0, 0]])
    out = layer(ids).numpy()
    tokens = layer.token_embedding.embeddings.numpy()
    positions = layer.position_table.numpy()
    np.testing.assert_allclose(out[0], tokens[[3, 5, 0, 0]] + positions[:4], atol=1e-6)
    assert layer.compute_mask(ids).numpy().tolist() == [[True, True, False, False]]
    assert layer.compute_output_shape((None, 4)) == (None, 4, 4)


def test_sinusoidal_positions_are_fixed_and_match_the_formula():
    layer = TokenAndPositionEmbedding(10, 8, 6, position_embedding="sinusoidal")
    layer(np.ones((1, 8), "int32"))
    table = layer.position_table.numpy()
    assert not layer.position_table.trainable
    position = 5  # column 2i = 4 (i = 2) is a sine with rate 10000^(-2i/d)
    np.testing.assert_allclose(table[position, 4], np.sin(position / 10000 ** (4 / 6)), atol=1e-6)
    np.testing.assert_allclose(table, sinusoidal_position_table(8, 6))


@pytest.mark.parametrize("mode", ["mean", "max", "first"])
def test_pooling_matches_numpy_and_all_padding_rows_are_finite(mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype("float32")
    mask = np.arange(5)[None, :] < np.array([[5], [2], [0]])
    pooled = MaskedPooling(mode)(x, padding_mask=mask).numpy()
    assert np.isfinite(pooled).all()
    for row, length in enumerate([5, 2]):
        if mode == "mean":
            expected = x[row, :length].mean(0)
        elif mode == "max":
            expected = x[row, :length].max(0)
        else:
            expected = x[row, 0]
        np.testing.assert_allclose(pooled[row], expected, atol=1e-6)
    if mode != "first":
        np.testing.assert_array_equal(pooled[2], np.zeros(4))


def test_masked_mean_differs_from_keras_average_pooling_without_mask():
    x = np.ones((1, 4, 2), "float32")
    x[:, 2:] = 0.0  # two padding positions
    mask = np.array([[True, True, False, False]])
    ours = MaskedPooling()(x, padding_mask=mask).numpy()
    unmasked = keras.layers.GlobalAveragePooling1D()(x).numpy()
    np.testing.assert_allclose(ours, [[1.0, 1.0]])
    np.testing.assert_allclose(unmasked, [[0.5, 0.5]])


@pytest.mark.parametrize(
    "layer",
    [
        TokenAndPositionEmbedding(50, 9, 8, position_embedding="sinusoidal", name="emb"),
        TransformerEncoder(2, 16, dropout=0.2, activation="relu", norm_first=True, key_dim=3),
        TransformerEncoder(2, 16, dropout=0.2, attention_dropout=0.0),
        MaskedPooling("max"),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_get_config_round_trips(layer):
    config = layer.get_config()
    rebuilt = type(layer).from_config(config)
    assert rebuilt.get_config() == config


def test_attention_dropout_is_its_own_rate():
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    only_attention = TransformerEncoder(2, 16, dropout=0.0, attention_dropout=0.5)
    assert not np.allclose(only_attention(x, training=True), only_attention(x, training=False))
    inherits = TransformerEncoder(2, 16, dropout=0.0)  # None: the same rate as `dropout`
    np.testing.assert_allclose(inherits(x, training=True), inherits(x, training=False))
    no_attention_dropout = TransformerEncoder(2, 16, dropout=0.3, attention_dropout=0.0)
    no_attention_dropout(x)
    assert no_attention_dropout.attention.dropout == 0.0 and inherits.attention.dropout == 0.0
    assert only_attention.attention.dropout == 0.5


def test_encoder_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match="num_heads"):
        TransformerEncoder(num_heads=3, ff_dim=8)(np.zeros((1, 2, 16), "float32"))


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: TransformerEncoder(num_heads=0, ff_dim=8), "num_heads"),
        (lambda: TransformerEncoder(num_heads=2, ff_dim=-1), "ff_dim"),
        (lambda: TransformerEncoder(num_heads=2, ff_dim=8, dropout=1.5), "dropout"),
        (lambda: TransformerEncoder(num_heads=2, ff_dim=8, activation="wiggle"), "activation"),
        (lambda: TransformerEncoder(num_heads=2, ff_dim=8, attention_dropout=1.0), "attention_dropout"),
        (lambda: TokenAndPositionEmbedding(0, 8, 8), "vocab_size"),
        (lambda: TokenAndPositionEmbedding(10, 8, 8, position_embedding="rotary"), "position"),
        (lambda: MaskedPooling("median"), "pooling"),
    ],
)
def test_invalid_layer_arguments_name_the_argument(factory, argument):
    with pytest.raises(ValueError, match=argument):
        factory()
