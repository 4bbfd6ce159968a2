"""Token embedding plus position embedding, producing the padding mask."""

import math

import keras
import numpy as np
from keras import ops

from transformer_kit.layers.validation import check_choice, check_positive_int

POSITION_EMBEDDINGS = ("learned", "sinusoidal")


def sinusoidal_position_table(sequence_length, embed_dim):
    """The fixed sine/cosine position table of Vaswani et al. (2017).

    Args:
        sequence_length: int. Number of positions.
        embed_dim: int. Width of each position vector.

    Returns:
        A float32 NumPy array of shape `(sequence_length, embed_dim)`; even
        columns hold sines and odd columns cosines of geometrically spaced
        frequencies.
    """
    positions = np.arange(sequence_length, dtype=np.float64)[:, None]
    rates = np.exp(-math.log(10000.0) * (np.arange(0, embed_dim, 2) / embed_dim))
    table = np.zeros((sequence_length, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(positions * rates)
    table[:, 1::2] = np.cos(positions * rates[: embed_dim // 2])
    return table.astype("float32")


@keras.saving.register_keras_serializable(package="transformer_kit")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Sum of a token embedding and a position embedding.

    Self-attention is order-blind: without position information "not good,
    bad" and "bad, not good" look identical. This layer adds a position vector
    to every token vector. Token id 0 is padding; with `mask_zero=True` the
    layer emits a boolean padding mask (`ids != 0`) that downstream encoder and
    pooling layers use so padding never changes the result.

    Inputs may be shorter than `sequence_length` (dynamic padding): only the
    first `length` position vectors are used. Longer inputs are an error;
    truncate them first.

    Args:
        vocab_size: int. Number of token ids, including 0 (padding) and 1 (OOV).
        sequence_length: int. Longest sequence the position table covers.
        embed_dim: int. Width of the embeddings.
        mask_zero: bool. Whether id 0 is padding and produces a mask.
            Defaults to `True`.
        position_embedding: `"learned"` (a trainable table, default) or
            `"sinusoidal"` (the fixed table of Vaswani et al.).
        embeddings_initializer: initializer for both tables. Defaults to
            `"uniform"` as in `keras.layers.Embedding`.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`...).

    Example:

    >>> layer = TokenAndPositionEmbedding(vocab_size=100, sequence_length=16, embed_dim=8)
    >>> ids = np.array([[5, 7, 0, 0]])
    >>> layer(ids).shape
    TensorShape([1, 4, 8])
    >>> layer.compute_mask(ids).numpy().tolist()
    [[True, True, False, False]]

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """

    def __init__(
        self,
        vocab_size,
        sequence_length,
        embed_dim,
        mask_zero=True,
        position_embedding="learned",
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.embed_dim = check_positive_int("embed_dim", embed_dim)
        self.position_embedding = check_choice(
            "position_embedding", position_embedding, POSITION_EMBEDDINGS
        )
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = True

    def build(self, input_shape=None):
        self.token_embedding = keras.layers.Embedding(
            self.vocab_size,
            self.embed_dim,
            embeddings_initializer=self.embeddings_initializer,
            name="token_embedding",
        )
        self.token_embedding.build(input_shape)
        if self.position_embedding == "learned":
            self.position_table = self.add_weight(
                name="position_embeddings",
                shape=(self.sequence_length, self.embed_dim),
                initializer=self.embeddings_initializer,
                trainable=True,
            )
        else:
            self.position_table = self.add_weight(
                name="position_embeddings",
                shape=(self.sequence_length, self.embed_dim),
                initializer=keras.initializers.Constant(
                    sinusoidal_position_table(self.sequence_length, self.embed_dim)
                ),
                trainable=False,
            )
        self.built = True

    def call(self, inputs):
        length = ops.shape(inputs)[-1]
        positions = ops.slice(self.position_table, (0, 0), (length, self.embed_dim))
        return self.token_embedding(inputs) + ops.cast(positions, self.compute_dtype)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.embed_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocab_size": self.vocab_size,
                "sequence_length": self.sequence_length,
                "embed_dim": self.embed_dim,
                "mask_zero": self.mask_zero,
                "position_embedding": self.position_embedding,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
