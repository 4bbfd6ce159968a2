"""What a typical KerasHub user builds: ``TokenAndPositionEmbedding`` + ``TransformerEncoder``.

Fixed-length padding to a length chosen from the data (95th percentile of token counts,
rounded up to a multiple of 8, at most 512), an explicit padding mask, masked mean pooling
and a softmax head. The sizes are constructor arguments so the harness can make them equal
to transformer_kit's default model (d=64, 1 layer, 4 heads, feed-forward 128, GELU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from keras import layers, ops

from benchmarks.systems import BenchmarkSystem


class MaskedMeanPooling(layers.Layer):
    """Mean over the unmasked positions; an all-padding row gives zeros, not NaN."""

    def call(self, x, padding_mask):
        mask = ops.cast(ops.expand_dims(padding_mask, -1), x.dtype)
        total = ops.sum(x * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count


def sequence_length_from_lengths(lengths: np.ndarray, percentile: float = 95.0,
                                 multiple: int = 8, maximum: int = 512) -> int:
    """The ``percentile`` of token counts, rounded up to ``multiple``, clipped to [multiple, maximum]."""
    value = float(np.percentile(lengths, percentile)) if len(lengths) else 0.0
    rounded = int(math.ceil(value / multiple) * multiple)
    return int(min(max(rounded, multiple), maximum))


class KerasHubStack(BenchmarkSystem):
    """Embedding + ``num_layers`` KerasHub encoders with a padding mask, Adam 1e-3, 3 epochs."""

    display_name = "KerasHub encoder"

    def __init__(self, language: str = "en", seed: int = 0, vocab_size: int = 20000,
                 embed_dim: int = 64, num_layers: int = 1, num_heads: int = 4,
                 intermediate_dim: int = 128, dropout: float = 0.1, activation: str = "gelu",
                 batch_size: int = 32, epochs: int = 3, learning_rate: float = 1e-3,
                 max_sequence_length: int = 512):
        super().__init__(language, seed)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = activation
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.max_sequence_length = max_sequence_length
        self.sequence_length: int | None = None
        self.classes: list[str] = []
        self.vectorizer = None
        self.model = None
        self._serve = None

    def _build_model(self, num_classes: int) -> keras.Model:
        token_ids = layers.Input(shape=(self.sequence_length,), dtype="int32", name="token_ids")
        padding_mask = ops.not_equal(token_ids, 0)
        x = keras_hub.layers.TokenAndPositionEmbedding(
            vocabulary_size=self.vocab_size, sequence_length=self.sequence_length,
            embedding_dim=self.embed_dim,
        )(token_ids)
        for _ in range(self.num_layers):
            x = keras_hub.layers.TransformerEncoder(
                intermediate_dim=self.intermediate_dim, num_heads=self.num_heads,
                dropout=self.dropout, activation=self.activation,
            )(x, padding_mask=padding_mask)
        x = MaskedMeanPooling()(x, padding_mask)
        x = layers.Dropout(self.dropout)(x)
        outputs = layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(token_ids, outputs)

    def fit(self, train_texts: Sequence[str], train_labels: Sequence[str]) -> None:
        keras.utils.set_random_seed(self.seed)
        self.classes = sorted(set(train_labels))
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[label] for label in train_labels], dtype="int32")
        texts = tf.constant(list(train_texts))
        split = "character" if self.language == "zh" else "whitespace"
        self.vectorizer = layers.TextVectorization(
            max_tokens=self.vocab_size, split=split, ragged=True
        )
        self.vectorizer.adapt(texts)
        ragged = self.vectorizer(texts)
        self.sequence_length = sequence_length_from_lengths(
            ragged.row_lengths().numpy(), maximum=self.max_sequence_length
        )
        length = self.sequence_length
        x = ragged.to_tensor(default_value=0, shape=[None, length]).numpy()

        self.model = self._build_model(len(self.classes))
        self.model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss="sparse_categorical_crossentropy", metrics=["accuracy"],
        )
        self.model.fit(x, y, batch_size=self.batch_size, epochs=self.epochs, verbose=0)

        vectorizer, model = self.vectorizer, self.model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(batch):
            ids = vectorizer(batch).to_tensor(default_value=0, shape=[None, length])
            return tf.argmax(model(ids, training=False), axis=-1)

        self._serve = serve

    def predict(self, texts: Sequence[str]) -> list[str]:
        ids = self._serve(tf.constant(list(texts), dtype=tf.string)).numpy()
        return [self.classes[i] for i in ids]

    def describe(self) -> dict:
        return {"vocab_size": self.vocab_size, "embed_dim": self.embed_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "activation": self.activation, "batch_size": self.batch_size,
                "epochs": self.epochs, "learning_rate": self.learning_rate,
                "sequence_length": self.sequence_length}
