"""The keras.io example "Text classification with Transformer", re-implemented as published.

Source: https://keras.io/examples/nlp/text_classification_with_transformer/ (Apoorv Nandan).
Kept as published on purpose, including what makes it weak on short texts: positions for all
200 slots and ``GlobalAveragePooling1D`` with no padding mask, so padding dominates the mean.
The example starts from Keras' pre-tokenized IMDB; here a ``TextVectorization`` layer with its
default standardization (lowercase, strip punctuation, split on whitespace) plays that part,
splitting Chinese into characters.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from benchmarks.systems import BenchmarkSystem


class TransformerBlock(layers.Layer):
    """Post-norm encoder block of the example; note ``key_dim=embed_dim``, as published."""

    def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.att = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
        self.ffn = keras.Sequential(
            [layers.Dense(ff_dim, activation="relu"), layers.Dense(embed_dim)]
        )
        self.layernorm1 = layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = layers.Dropout(rate)
        self.dropout2 = layers.Dropout(rate)

    def call(self, inputs, training=False):
        attn_output = self.att(inputs, inputs)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(inputs + attn_output)
        ffn_output = self.ffn(out1)
        ffn_output = self.dropout2(ffn_output, training=training)
        return self.layernorm2(out1 + ffn_output)


class TokenAndPositionEmbedding(layers.Layer):
    """Learned token embedding plus learned position embedding, as in the example."""

    def __init__(self, maxlen, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_emb = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
        self.pos_emb = layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

    def call(self, x):
        maxlen = ops.shape(x)[-1]
        positions = ops.arange(start=0, stop=maxlen, step=1)
        positions = self.pos_emb(positions)
        x = self.token_emb(x)
        return x + positions


class KerasIoTransformer(BenchmarkSystem):
    """Vocab 20k, length 200, embed 32, 2 heads, ff 32, dropout 0.1, Adam, batch 32, 2 epochs."""

    display_name = "keras.io transformer"

    def __init__(self, language: str = "en", seed: int = 0, vocab_size: int = 20000,
                 maxlen: int = 200, embed_dim: int = 32, num_heads: int = 2, ff_dim: int = 32,
                 batch_size: int = 32, epochs: int = 2):
        super().__init__(language, seed)
        self.vocab_size = vocab_size
        self.maxlen = maxlen
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.ff_dim = ff_dim
        self.batch_size = batch_size
        self.epochs = epochs
        self.classes: list[str] = []
        self.vectorizer = None
        self.model = None
        self._serve = None

    def _build_model(self, num_classes: int) -> keras.Model:
        inputs = layers.Input(shape=(self.maxlen,))
        x = TokenAndPositionEmbedding(self.maxlen, self.vocab_size, self.embed_dim)(inputs)
        x = TransformerBlock(self.embed_dim, self.num_heads, self.ff_dim)(x)
        x = layers.GlobalAveragePooling1D()(x)
        x = layers.Dropout(0.1)(x)
        x = layers.Dense(20, activation="relu")(x)
        x = layers.Dropout(0.1)(x)
        outputs = layers.Dense(num_classes, activation="softmax")(x)
        return keras.Model(inputs=inputs, outputs=outputs)

    def fit(self, train_texts: Sequence[str], train_labels: Sequence[str]) -> None:
        keras.utils.set_random_seed(self.seed)
        self.classes = sorted(set(train_labels))
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[label] for label in train_labels], dtype="int32")
        split = "character" if self.language == "zh" else "whitespace"
        self.vectorizer = layers.TextVectorization(
            max_tokens=self.vocab_size, output_sequence_length=self.maxlen, split=split
        )
        self.vectorizer.adapt(tf.constant(list(train_texts)))
        x = self.vectorizer(tf.constant(list(train_texts))).numpy()
        self.model = self._build_model(len(self.classes))
        self.model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        self.model.fit(x, y, batch_size=self.batch_size, epochs=self.epochs, verbose=0)

        vectorizer, model = self.vectorizer, self.model

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(texts):
            return tf.argmax(model(vectorizer(texts), training=False), axis=-1)

        self._serve = serve

    def predict(self, texts: Sequence[str]) -> list[str]:
        ids = self._serve(tf.constant(list(texts), dtype=tf.string)).numpy()
        return [self.classes[i] for i in ids]

    def describe(self) -> dict:
        return {"vocab_size": self.vocab_size, "maxlen": self.maxlen, "embed_dim": self.embed_dim,
                "num_heads": self.num_heads, "ff_dim": self.ff_dim,
                "batch_size": self.batch_size, "epochs": self.epochs}
