"""Pooling over the sequence axis that ignores padding."""

import keras
from keras import ops

from transformer_kit.layers.transformer_encoder import merge_padding_masks
from transformer_kit.layers.validation import check_choice

POOLING_MODES = ("mean", "max", "first")


@keras.saving.register_keras_serializable(package="transformer_kit")
class MaskedPooling(keras.layers.Layer):
    """Reduce `(batch, length, dim)` to `(batch, dim)` over real tokens only.

    `keras.layers.GlobalAveragePooling1D` without a mask averages the padding
    vectors too, so the same sentence padded to a different length gives a
    different vector; with a mask it returns NaN for a row that is all padding
    (an empty text). This layer does neither: padding is excluded and an
    all-padding row pools to zeros.

    Args:
        mode: `"mean"` (default) averages real tokens; `"max"` takes the
            element-wise maximum over real tokens; `"first"` takes the first
            position (use it with a leading `[CLS]`-style token).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: float tensor `(batch, length, dim)`.
        padding_mask: optional bool tensor `(batch, length)`, true for real
            tokens; combined with Keras' implicit mask if both exist.

    Example:

    >>> x = np.ones((2, 4, 3), "float32") * np.arange(4)[None, :, None]
    >>> mask = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], bool)
    >>> MaskedPooling("mean")(x, padding_mask=mask).numpy()[:, 0].tolist()
    [0.5, 0.0]
    """

    def __init__(self, mode="mean", **kwargs):
        super().__init__(**kwargs)
        self.mode = check_choice("pooling", mode, POOLING_MODES)
        self.supports_masking = True

    def call(self, inputs, padding_mask=None, mask=None):
        if self.mode == "first":
            return inputs[:, 0, :]
        padding_mask = merge_padding_masks(padding_mask, mask)
        if padding_mask is None:
            if self.mode == "mean":
                return ops.mean(inputs, axis=1)
            return ops.max(inputs, axis=1)
        weights = ops.cast(ops.expand_dims(padding_mask, -1), inputs.dtype)
        if self.mode == "mean":
            total = ops.sum(inputs * weights, axis=1)
            # max(count, 1): an all-padding row gives 0 / 1 = 0, not 0 / 0 = NaN.
            count = ops.maximum(ops.sum(weights, axis=1), 1.0)
            return total / count
        lowest = ops.cast(ops.min(inputs) - 1.0, inputs.dtype)
        pooled = ops.max(ops.where(weights > 0, inputs, lowest), axis=1)
        has_tokens = ops.any(ops.cast(padding_mask, "bool"), axis=1, keepdims=True)
        return ops.where(has_tokens, pooled, ops.zeros_like(pooled))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode})
        return config
