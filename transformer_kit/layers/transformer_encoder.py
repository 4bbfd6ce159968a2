"""One transformer encoder block: masked self-attention and a feed-forward network."""

import keras
from keras import ops

from transformer_kit.layers.validation import check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="transformer_kit")
class TransformerEncoder(keras.layers.Layer):
    """A transformer encoder block with a real padding mask.

    Follows "Attention Is All You Need" (Vaswani et al., 2017). With the
    default post-norm order, for input `x` and padding mask `m`:

    ```
    a = LayerNorm(x + Dropout(MultiHeadAttention(x, x, x, attention_mask=m)))
    y = LayerNorm(a + Dropout(Dense(Dropout(activation(Dense(a))))))
    ```

    where attention is `softmax(Q Kᵀ / sqrt(d_k) + mask) V` per head, the mask
    sending padded keys to minus infinity. With `norm_first=True` (pre-norm,
    as in GPT-2 and most deep stacks) the layer norm is applied to each
    sub-layer's input instead, which trains more stably when stacking many
    blocks.

    The padding mask comes either from Keras' implicit mask (emitted by
    `TokenAndPositionEmbedding` or `Embedding(mask_zero=True)`) or from the
    explicit `padding_mask` argument; when both are given they are combined.
    Passing it explicitly is the most robust choice in custom models.

    Args:
        num_heads: int. Number of attention heads. The input width must be
            divisible by it unless `key_dim` is given.
        ff_dim: int. Hidden width of the feed-forward network.
        dropout: float in [0, 1). Dropout after each sub-layer and inside
            the feed-forward network. Defaults to `0.1`.
        attention_dropout: float in [0, 1) or `None`. Dropout on the
            attention probabilities; `None` (default) uses `dropout`. `0`
            lets Keras use its fused dot-product attention and skips drawing
            a random number per (head, query, key): on CPU that makes a
            training step 5-10% faster (`benchmarks/training_step.py`).
        activation: str or callable. Feed-forward activation. Defaults to
            `"gelu"`.
        norm_first: bool. Pre-norm if `True`, post-norm (default) otherwise.
        key_dim: int or `None`. Width of each attention head. Defaults to
            `embed_dim // num_heads`.
        layer_norm_epsilon: float. Defaults to `1e-5`.
        kernel_initializer: initializer for dense kernels. Defaults to
            `"glorot_uniform"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `(batch, length, embed_dim)`.
        padding_mask: optional bool/int tensor `(batch, length)`, true for
            real tokens.
        training: bool, whether dropout is active.
        return_attention_scores: bool. If `True` also return the attention
            probabilities `(batch, num_heads, length, length)`.

    Example:

    >>> encoder = TransformerEncoder(num_heads=2, ff_dim=32)
    >>> x = np.random.rand(3, 10, 16).astype("float32")
    >>> mask = np.arange(10)[None, :] < np.array([[10], [4], [1]])
    >>> encoder(x, padding_mask=mask).shape
    TensorShape([3, 10, 16])

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
        - [Xiong et al., 2020](https://arxiv.org/abs/2002.04745) (pre-norm)
    """

    def __init__(
        self,
        num_heads,
        ff_dim,
        dropout=0.1,
        activation="gelu",
        norm_first=False,
        attention_dropout=None,
        key_dim=None,
        layer_norm_epsilon=1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.ff_dim = check_positive_int("ff_dim", ff_dim)
        self.dropout = check_rate("dropout", dropout)
        # (`self.attention_dropout` is the Dropout layer after attention; the
        # name is kept so that saved models load.)
        self.attention_dropout_rate = (
            None if attention_dropout is None else check_rate("attention_dropout", attention_dropout)
        )
        self.activation = _get_activation(activation)
        self.norm_first = bool(norm_first)
        self.key_dim = None if key_dim is None else check_positive_int("key_dim", key_dim)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        embed_dim = input_shape[-1]
        key_dim = self.key_dim
        if key_dim is None:
            if embed_dim % self.num_heads != 0:
                raise ValueError(
                    f"`embed_dim` ({embed_dim}) must be divisible by `num_heads` "
                    f"({self.num_heads}) so that each head has embed_dim / num_heads "
                    "dimensions. Change one of them, or pass `key_dim` explicitly."
                )
            key_dim = embed_dim // self.num_heads
        dense_args = {"kernel_initializer": self.kernel_initializer}
        self.attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=key_dim,
            dropout=self.dropout if self.attention_dropout_rate is None else self.attention_dropout_rate,
            name="self_attention",
            **dense_args,
        )
        self.attention.build(input_shape, input_shape)
        self.attention_dropout = keras.layers.Dropout(self.dropout)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="attention_norm"
        )
        self.attention_norm.build(input_shape)
        self.ff_inner = keras.layers.Dense(
            self.ff_dim, activation=self.activation, name="ff_inner", **dense_args
        )
        self.ff_inner.build(input_shape)
        self.ff_inner_dropout = keras.layers.Dropout(self.dropout)
        self.ff_outer = keras.layers.Dense(embed_dim, name="ff_outer", **dense_args)
        self.ff_outer.build(tuple(input_shape[:-1]) + (self.ff_dim,))
        self.ff_dropout = keras.layers.Dropout(self.dropout)
        self.ff_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="ff_norm"
        )
        self.ff_norm.build(input_shape)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        mask=None,
        training=None,
        return_attention_scores=False,
    ):
        padding_mask = merge_padding_masks(padding_mask, mask)
        attention_mask = None
        if padding_mask is not None:
            # Every query may look at every real key and at no padded key:
            # (batch, 1, keys) broadcasts over the query axis.
            attention_mask = ops.expand_dims(padding_mask, axis=1)

        # Attention sub-layer.
        residual = inputs
        x = self.attention_norm(inputs) if self.norm_first else inputs
        # Scores only on request: asking for them makes Keras skip its fused
        # dot-product-attention kernel, which roughly halves training speed.
        attended = self.attention(
            x,
            x,
            x,
            attention_mask=attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        if return_attention_scores:
            attended, scores = attended
        x = residual + self.attention_dropout(attended, training=training)
        if not self.norm_first:
            x = self.attention_norm(x)

        # Feed-forward sub-layer.
        residual = x
        if self.norm_first:
            x = self.ff_norm(x)
        x = self.ff_inner(x)
        x = self.ff_inner_dropout(x, training=training)
        x = self.ff_outer(x)
        x = residual + self.ff_dropout(x, training=training)
        if not self.norm_first:
            x = self.ff_norm(x)

        if return_attention_scores:
            return x, scores
        return x

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "ff_dim": self.ff_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "norm_first": self.norm_first,
                "attention_dropout": self.attention_dropout_rate,
                "key_dim": self.key_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config


def merge_padding_masks(padding_mask, mask):
    """Combine an explicit padding mask with Keras' implicit mask (logical AND).

    Args:
        padding_mask: bool/int tensor `(batch, length)` or `None`.
        mask: Keras' implicit bool mask `(batch, length)` or `None`.

    Returns:
        A bool tensor `(batch, length)`, or `None` if both are `None`.
    """
    masks = [ops.cast(m, "bool") for m in (padding_mask, mask) if m is not None]
    if not masks:
        return None
    if len(masks) == 1:
        return masks[0]
    return ops.logical_and(masks[0], masks[1])


def _get_activation(activation):
    try:
        return keras.activations.get(activation)
    except ValueError as error:
        raise ValueError(
            f"`activation` {activation!r} is not a Keras activation "
            "(try 'gelu', 'relu', 'silu' or 'tanh')."
        ) from error
