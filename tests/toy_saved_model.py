"""A toy SavedModel with the signatures of a transformer_kit export, built in a second, without training.

The server tests that are about HTTP (formats, limits, faults, versions,
signals) use it, so they are fast; the real export is checked by the slow
tests. Its outputs are simple functions of the input (the text's length and
a per-version `bias`), so every answer can be matched to its request.
"""

import numpy as np
import tensorflow as tf

CLASSES = ["negative", "positive"]


class ToyClassifier(tf.Module):
    """probabilities = softmax([0, bias + length / 10]) for each text (length in bytes)."""

    def __init__(self, bias=0.0):
        super().__init__()
        self.bias = tf.Variable(bias, dtype=tf.float32)
        self.classes = tf.constant(CLASSES)

    def _outputs(self, score):
        logits = tf.stack([tf.zeros_like(score), score + self.bias], axis=1)
        probabilities = tf.nn.softmax(logits)
        label_id = tf.argmax(probabilities, axis=1, output_type=tf.int64)
        return {"probabilities": probabilities, "label": tf.gather(self.classes, label_id),
                "label_id": label_id, "score": tf.reduce_max(probabilities, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serving_default(self, text):
        return self._outputs(tf.cast(tf.strings.length(text), tf.float32) / 10.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="title"),
                                  tf.TensorSpec([None], tf.string, name="body")])
    def serving_columns(self, title, body):
        return self.serving_default(tf.strings.join([title, body], separator="\n"))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int64, name="token_ids")])
    def serving_token_ids(self, token_ids):
        return self._outputs(tf.cast(tf.reduce_sum(token_ids, axis=1), tf.float32) / 100.0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def explain(self, text):
        tokens = tf.strings.split(text).to_tensor("")
        attributions = tf.cast(tf.strings.length(tokens), tf.float32) / 10.0
        outputs = self.serving_default(text)
        return {"tokens": tokens, "attributions": attributions, "label": outputs["label"],
                "probabilities": outputs["probabilities"]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="steps")])
    def spin(self, steps):
        """Busy for `max(steps)` loop iterations (to hold the model busy in tests), then returns steps."""
        total = tf.while_loop(lambda i, acc: i < tf.reduce_max(steps),
                              lambda i, acc: (i + 1, acc + tf.sin(tf.cast(i, tf.float32))),
                              (tf.constant(0, tf.int64), tf.constant(0.0)))[1]
        return {"steps": steps + tf.cast(total * 0.0, tf.int64)}


def save_toy(version_dir, bias=0.0):
    """Write a toy SavedModel into `version_dir` (beside it first, then renamed in, as exports are)."""
    module = ToyClassifier(bias)
    signatures = {name: getattr(module, name) for name in
                  ("serving_default", "serving_columns", "serving_token_ids", "explain", "spin")}
    staging = version_dir.with_name(f".{version_dir.name}.partial")
    tf.saved_model.save(module, str(staging), signatures=signatures)
    staging.rename(version_dir)
    return version_dir


def expected_probabilities(texts, bias=0.0):
    """The toy's probabilities, computed with numpy (an independent reference)."""
    score = np.array([len(text.encode("utf-8")) / 10.0 + bias for text in texts])
    positive = 1.0 / (1.0 + np.exp(-score))
    return np.stack([1.0 - positive, positive], axis=1)
