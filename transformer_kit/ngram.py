"""An n-gram TF-IDF logistic regression that lives inside the Keras graph.

scikit-learn fits it (an exact convex optimum in seconds, no epochs to tune);
its coefficients are then copied into a `Dense` layer after a
`TextVectorization(ngrams=2, output_mode="count")` and `TfidfWeighting`, so
the same model can be saved, blended with the transformers and exported in
one SavedModel. The features are computed by the very same Keras layers in
both places, so training and serving cannot drift apart.
"""

import keras
import numpy as np
import scipy.sparse
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from transformer_kit.data.text_vectorization import standardize_cjk_characters, standardize_words
from transformer_kit.layers import TfidfWeighting

_STANDARDIZERS = {"word": standardize_words, "character": standardize_cjk_characters}


def fit_ngram_classifier(
    texts, labels, num_classes, split="word", max_tokens=50000, c=10.0, class_weight=None, seed=0
):
    """Fit a word (or CJK character) 1-2-gram TF-IDF logistic regression.

    Args:
        texts: list of str, the training texts.
        labels: int array of class ids.
        num_classes: int >= 2.
        split: `"word"` or `"character"` (CJK characters as tokens).
        max_tokens: int. N-gram vocabulary size (most frequent kept).
        c: float. Inverse L2 regularization strength.
        class_weight: `None` or `"balanced"`.
        seed: int, for the solver.

    Returns:
        A `keras.Model` from strings `(batch,)` to probabilities
        `(batch, 1)` (binary) or `(batch, num_classes)`.

    Example:

    >>> model = fit_ngram_classifier(["good film", "bad film"] * 5, np.array([1, 0] * 5), 2)
    >>> model.predict(np.array(["good"]), verbose=0).shape
    (1, 1)
    """
    def make_counter(name, sparse):
        return keras.layers.TextVectorization(
            max_tokens=max_tokens,
            standardize=_STANDARDIZERS[split],
            split="whitespace",
            ngrams=2,
            output_mode="count",
            sparse=sparse,
            name=name,
        )

    counter = make_counter("ngram_vectorizer", sparse=False)
    counter.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    # A sparse twin computes the training matrix without a dense (texts x n-grams) array.
    sparse_counter = make_counter("ngram_counter_sparse", sparse=True)
    sparse_counter.set_vocabulary(counter.get_vocabulary())
    counts = _sparse_counts(sparse_counter, texts, counter.vocabulary_size())

    # scikit-learn's smooth idf; column 0 counts out-of-vocabulary n-grams, dropped.
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + counts.shape[0]) / (1 + document_frequency)) + 1.0
    idf[0] = 0.0
    features = _tfidf(counts, idf)

    regression = LogisticRegression(
        C=c, max_iter=2000, class_weight=class_weight, random_state=seed
    )
    regression.fit(features, labels)

    text = keras.Input(shape=(), dtype="string", name="text")
    weighted = TfidfWeighting(idf.astype("float32"), name="tfidf")(counter(text))
    units = 1 if num_classes == 2 else num_classes
    head = keras.layers.Dense(
        units, activation="sigmoid" if units == 1 else "softmax", name="ngram_probabilities"
    )
    outputs = head(weighted)
    head.set_weights([regression.coef_.T.astype("float32"), regression.intercept_.astype("float32")])
    return keras.Model(text, outputs, name="ngram_classifier")


def _sparse_counts(sparse_counter, texts, vocabulary_size, batch_size=2048):
    blocks = []
    for start in range(0, len(texts), batch_size):
        batch = sparse_counter(tf.constant(list(texts[start : start + batch_size])))
        indices = batch.indices.numpy()
        blocks.append(
            scipy.sparse.csr_matrix(
                (batch.values.numpy(), (indices[:, 0], indices[:, 1])),
                shape=(int(batch.dense_shape[0]), vocabulary_size),
            )
        )
    return scipy.sparse.vstack(blocks).tocsr()


def _tfidf(counts, idf):
    features = counts.astype(np.float64)
    features.data = 1.0 + np.log(features.data)
    features = features.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1))).ravel()
    return scipy.sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ features
