"""The one inference model: raw strings in, one probability column per class out.

    text -> TextPreprocessor -> transformer_0 ... transformer_{k-1} --+
         \\-> NgramLogisticRegression (optional) -------------------+-> ProbabilityBlend

`TextClassifier.predict_proba`, `predict`, `evaluate`, `save`/`load` and
`export` all run this model (scoring and serving without the parts of blend
weight 0, `without_unused_parts`). `CompiledScorer` is the fast form: the same
model traced once as a `tf.function` and fed length-sorted batches; a test
proves it equal to calling the model directly.
"""

import keras
import numpy as np
import tensorflow as tf

from transformer_kit.data.loading import as_text_list
from transformer_kit.layers import ProbabilityBlend
from transformer_kit.layers.probability_blend import as_class_probabilities

BLEND_LAYER = "probabilities"
MEMBER_PREFIX = "transformer_"
PREDICT_BATCH_SIZE = 256


def build_inference_model(preprocessor, members, ngram=None, blend_weights=None):
    """Assemble the inference model from its fitted parts.

    Args:
        preprocessor: the fitted `TextPreprocessor`.
        members: list of member models (token ids -> probabilities), named
            `transformer_<i>`.
        ngram: an `NgramLogisticRegression` or `None`.
        blend_weights: one weight per member, then one for the n-gram
            model; `None` gives every part the same weight.

    Returns:
        A `keras.Model` named `text_classifier_inference` from a string
        tensor `(batch,)` to probabilities `(batch, num_classes)` (two
        columns for a binary classifier).
    """
    parts_count = len(members) + (ngram is not None)
    weights = blend_weights or [1.0 / parts_count] * parts_count
    text = keras.Input(shape=(), dtype="string", name="text")
    token_ids = preprocessor(text)
    parts = [member(token_ids) for member in members]
    if ngram is not None:
        parts.append(ngram(text))
    probabilities = ProbabilityBlend(weights, name=BLEND_LAYER)(parts)
    return keras.Model(text, probabilities, name="text_classifier_inference")


def with_blend_weights(model, blend_weights):
    """The same parts (shared, not copied) blended with other weights."""
    return build_inference_model(preprocessor_of(model), members_of(model), ngram_of(model), blend_weights)


def without_unused_parts(model):
    """The inference model without the parts its blend gives weight 0: what serving runs.

    A blend weight of exactly 0 (an n-gram weight of 1.0 chosen on held-out
    data says the transformers add nothing) would still have every such part
    computed for every text, only to be multiplied by 0. The view drops
    them: its probabilities are the model's (adding `0 * p` changes no float),
    at the cost of the parts that remain. It shares every layer with `model`,
    which stays whole for saving and `parts_model` (explanations skip these
    parts too).

    Args:
        model: an inference model.

    Returns:
        `model` itself when every part has a positive weight, else a
        `keras.Model` of the same input and output.

    Example:

    >>> from transformer_kit.preprocessor import TextPreprocessor
    >>> from transformer_kit.ngram import fit_ngram_classifier
    >>> texts, labels = ["good film", "bad film"] * 5, np.array([1, 0] * 5)
    >>> preprocessor, _ = TextPreprocessor.adapt(texts)
    >>> member = keras.Sequential([keras.layers.Embedding(preprocessor.vocabulary_size, 2),
    ...                            keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1, "sigmoid")],
    ...                           name=MEMBER_PREFIX + "0")
    >>> model = build_inference_model(preprocessor, [member], fit_ngram_classifier(texts, labels, 2), [0.0, 1.0])
    >>> [layer.name for layer in without_unused_parts(model).layers]
    ['text', 'ngram_classifier', 'probabilities']
    """
    weights = blend_weights_of(model)
    members, ngram = members_of(model), ngram_of(model)
    kept = [(member, weight) for member, weight in zip(members, weights) if weight > 0]
    keep_ngram = ngram is not None and weights[-1] > 0
    if len(kept) == len(members) and keep_ngram == (ngram is not None):
        return model
    kept_weights = [weight for _, weight in kept] + ([weights[-1]] if keep_ngram else [])
    return build_inference_model(preprocessor_of(model), [member for member, _ in kept],
                                 ngram if keep_ngram else None, kept_weights)


def preprocessor_of(model):
    """The `TextPreprocessor` of an inference model."""
    return model.get_layer("preprocessor")


def members_of(model):
    """The transformer members of an inference model, in order."""
    members = [layer for layer in model.layers if layer.name.startswith(MEMBER_PREFIX)]
    return sorted(members, key=lambda layer: int(layer.name[len(MEMBER_PREFIX) :]))


def ngram_of(model):
    """The n-gram branch of an inference model, or `None`."""
    names = {layer.name for layer in model.layers}
    return model.get_layer("ngram_classifier") if "ngram_classifier" in names else None


def blend_weights_of(model):
    """The blend weights (members first, then the n-gram model)."""
    return list(model.get_layer(BLEND_LAYER).blend_weights)


def parts_model(model):
    """A view of the inference model that returns each part's class probabilities.

    Shares every layer with `model` (nothing is copied or retrained); used to
    choose the blend weight on held-out texts.

    Returns:
        A `keras.Model` from strings to a list of `(batch, num_classes)`
        tensors: the members', then the n-gram model's.
    """
    parts = model.get_layer(BLEND_LAYER).input
    parts = parts if isinstance(parts, (list, tuple)) else [parts]
    return keras.Model(model.input, [as_class_probabilities(part) for part in parts])


class LengthSortedScorer:
    """Scores texts in batches of similar length, rows back in input order.

    Texts are sorted by length so each batch pads to similar lengths (the
    preprocessor pads a batch to its own longest text). Missing texts
    (`None`, NaN) are scored as empty strings, as everywhere in the toolkit.

    Args:
        function: callable from a string tensor `[batch]` to a tensor (or a
            list of tensors) with one row per text.
        batch_size: int, texts per call.
    """

    def __init__(self, function, batch_size=PREDICT_BATCH_SIZE):
        self.function = function
        self.batch_size = batch_size

    def __call__(self, texts):
        """Scores for `texts` as a numpy array (or a list of arrays)."""
        texts = as_text_list(texts)
        order = np.argsort([len(text) for text in texts], kind="stable")
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            chunks.append(self.function(tf.constant([texts[i] for i in rows], tf.string)))
        if not chunks:  # one (empty) call gives the output structure and widths
            chunks.append(self.function(tf.constant([], tf.string)))
        inverse = np.argsort(order, kind="stable")
        if isinstance(chunks[0], (list, tuple)):
            return [np.concatenate([np.asarray(c[i]) for c in chunks])[inverse] for i in range(len(chunks[0]))]
        return np.concatenate([np.asarray(c) for c in chunks])[inverse]


class CompiledScorer(LengthSortedScorer):
    """The fast form of an inference model: traced once, fed length-sorted batches.

    A compiled view of the same model, not another implementation: the
    `tf.function` calls `model` itself, once traced for any batch shape.

    Args:
        model: an inference model, or `parts_model(model)`.
        batch_size: int, texts per call.

    Example:

    >>> from transformer_kit.preprocessor import TextPreprocessor
    >>> from transformer_kit.ngram import fit_ngram_classifier
    >>> texts, labels = ["good film", "bad film"] * 5, np.array([1, 0] * 5)
    >>> preprocessor, _ = TextPreprocessor.adapt(texts)
    >>> model = build_inference_model(preprocessor, [], fit_ngram_classifier(texts, labels, 2))
    >>> CompiledScorer(model)(["good", None, "bad"]).argmax(axis=1).tolist()  # None scores as ""
    [1, 0, 0]
    """

    def __init__(self, model, batch_size=PREDICT_BATCH_SIZE):
        self.model = model
        function = tf.function(
            lambda text: model(text, training=False), input_signature=[tf.TensorSpec([None], tf.string)]
        )
        super().__init__(function, batch_size)
