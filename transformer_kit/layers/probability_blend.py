"""Weighted average of several classifiers' probabilities."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="transformer_kit")
class ProbabilityBlend(keras.layers.Layer):
    """Average probability tensors with fixed weights; binary heads become two columns.

    Each input is `(batch, 1)` (a sigmoid: probability of class 1) or
    `(batch, num_classes)` (a softmax). Sigmoid outputs are expanded to
    `[1 - p, p]` so the result always has one column per class, which is
    what a served model should return.

    Args:
        weights: list of floats, one per input; normalized to sum to 1.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> blend = ProbabilityBlend([0.5, 0.5])
    >>> [[round(float(p), 2) for p in row] for row in blend([np.array([[0.8]]), np.array([[0.4, 0.6]])]).numpy()]
    [[0.3, 0.7]]
    """

    def __init__(self, weights, **kwargs):
        super().__init__(**kwargs)
        total = float(sum(weights))
        if not weights or total <= 0 or any(w < 0 for w in weights):
            raise ValueError(f"`weights` must be non-negative with a positive sum, got {weights!r}.")
        self.blend_weights = [float(w) / total for w in weights]

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self.blend_weights):
            raise ValueError(
                f"ProbabilityBlend got {len(inputs)} inputs but {len(self.blend_weights)} weights."
            )
        blended = 0.0
        for weight, probabilities in zip(self.blend_weights, inputs):
            blended = blended + weight * as_class_probabilities(probabilities)
        return blended

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        width = max(max(shape[-1] for shape in shapes), 2)
        return (shapes[0][0], width)

    def get_config(self):
        config = super().get_config()
        config["weights"] = self.blend_weights
        return config


def as_class_probabilities(probabilities):
    """`(batch, 1)` sigmoid outputs -> `(batch, 2)`; wider inputs pass through."""
    if probabilities.shape[-1] == 1:
        return ops.concatenate([1.0 - probabilities, probabilities], axis=-1)
    return probabilities
