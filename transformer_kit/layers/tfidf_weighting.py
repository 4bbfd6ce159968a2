"""TF-IDF weighting of n-gram counts, inside the Keras graph."""

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="transformer_kit")
class TfidfWeighting(keras.layers.Layer):
    """Turn n-gram counts into L2-normalized, sublinear TF-IDF features.

    Computes `normalize((1 + log(count)) * idf)` for non-zero counts, which is
    scikit-learn's `TfidfVectorizer(sublinear_tf=True, norm="l2")`. Placed
    after a `TextVectorization(output_mode="count", ngrams=2)` and followed by
    a `Dense` layer, it holds a logistic regression over n-grams inside the
    same Keras model (and SavedModel) as the transformer.

    Args:
        idf_weights: 1-D float array, one weight per vocabulary entry (zero
            drops that entry, e.g. the out-of-vocabulary bucket).
        sublinear: bool. Use `1 + log(count)` instead of raw counts.
            Defaults to `True`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:

    >>> layer = TfidfWeighting(idf_weights=[0.0, 1.0, 2.0])
    >>> print(layer(np.array([[5.0, 1.0, 1.0]])).numpy().round(3))  # [0, 1, 2] / sqrt(5)
    [[0.    0.447 0.894]]
    """

    def __init__(self, idf_weights, sublinear=True, **kwargs):
        super().__init__(**kwargs)
        self.idf_weights = np.asarray(idf_weights, dtype="float32")
        self.sublinear = bool(sublinear)

    def build(self, input_shape):
        self.idf = self.add_weight(
            name="idf",
            shape=self.idf_weights.shape,
            initializer=keras.initializers.Constant(self.idf_weights),
            trainable=False,
        )
        self.built = True

    def call(self, counts):
        counts = ops.cast(counts, self.compute_dtype)
        if self.sublinear:
            safe = ops.maximum(counts, 1.0)
            counts = ops.where(counts > 0, 1.0 + ops.log(safe), ops.zeros_like(counts))
        weighted = counts * self.idf
        norm = ops.sqrt(ops.sum(ops.square(weighted), axis=-1, keepdims=True))
        return weighted / ops.maximum(norm, 1e-12)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"idf_weights": self.idf_weights.tolist(), "sublinear": self.sublinear})
        return config
