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

from transformer_kit.data.text_vectorization import STANDARDIZERS
from transformer_kit.layers import TfidfWeighting



def fit_ngram_classifier(
    texts,
    labels,
    num_classes,
    split="word",
    max_tokens=150000,
    min_df=2,
    c=10.0,
    class_weight=None,
    seed=0,
    warm_start=None,
):
    """Fit a word (or CJK character) 1-2-gram TF-IDF logistic regression.

    Args:
        texts: list of str, the training texts.
        labels: int array of class ids.
        num_classes: int >= 2.
        split: `"word"` or `"character"` (CJK characters as tokens).
        max_tokens: int. N-gram vocabulary cap (most frequent kept).
        min_df: int. Keep only n-grams found in at least this many texts
            (an n-gram seen in one text only fits that text; dropping them
            lets `max_tokens` go to n-grams that generalize). Ignored when
            no n-gram passes it (tiny data).
        c: float. Inverse L2 regularization strength.
        class_weight: `None` or `"balanced"`.
        seed: int, for the solver.
        warm_start: `None`, or a model from this function fitted on similar
            data (e.g. a subset): its weights, matched by n-gram, start the
            solver, which then needs far fewer iterations. The optimum is
            unique, so the result does not depend on it beyond the solver's
            tolerance.

    Returns:
        A `keras.Model` from strings `(batch,)` to probabilities
        `(batch, 1)` (binary) or `(batch, num_classes)`.

    Example:

    >>> model = fit_ngram_classifier(["good film", "bad film"] * 5, np.array([1, 0] * 5), 2)
    >>> model.predict(np.array(["good"]), verbose=0).shape
    (1, 1)
    """
    def make_counter(name, sparse, size):
        return keras.layers.TextVectorization(
            max_tokens=size,
            standardize=STANDARDIZERS[split],
            split="whitespace",
            ngrams=2,
            output_mode="count",
            sparse=sparse,
            name=name,
        )

    # Every n-gram first (sparse, so no dense texts x n-grams array), then
    # the frequent ones that pass `min_df`, at most `max_tokens`.
    full_counter = make_counter("ngram_counter_sparse", sparse=True, size=None)
    full_counter.adapt(tf.data.Dataset.from_tensor_slices(list(texts)).batch(1024))
    all_ngrams = full_counter.get_vocabulary()  # "[UNK]" first, then by frequency
    counts = _sparse_counts(full_counter, texts, len(all_ngrams))
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    frequent = np.flatnonzero(document_frequency[1:] >= min_df) + 1
    if frequent.size == 0:
        frequent = np.arange(1, len(all_ngrams))
    keep = np.concatenate([[0], frequent[: max_tokens - 1]])
    counts, document_frequency = counts[:, keep], document_frequency[keep]
    vocabulary = [all_ngrams[i] for i in keep]

    # scikit-learn's smooth idf; column 0 counts out-of-vocabulary n-grams, dropped.
    idf = np.log((1 + counts.shape[0]) / (1 + document_frequency)) + 1.0
    idf[0] = 0.0
    features = _tfidf(counts, idf)

    regression = LogisticRegression(
        C=c, max_iter=2000, class_weight=class_weight, random_state=seed, warm_start=warm_start is not None
    )
    if warm_start is not None:
        regression.coef_, regression.intercept_ = _initial_weights(warm_start, vocabulary)
    regression.fit(features, labels)

    counter = make_counter("ngram_vectorizer", sparse=False, size=len(vocabulary))
    counter.set_vocabulary(vocabulary)
    text = keras.Input(shape=(), dtype="string", name="text")
    weighted = TfidfWeighting(idf.astype("float32"), name="tfidf")(counter(text))
    units = 1 if num_classes == 2 else num_classes
    head = keras.layers.Dense(
        units, activation="sigmoid" if units == 1 else "softmax", name="ngram_probabilities"
    )
    outputs = head(weighted)
    head.set_weights([regression.coef_.T.astype("float32"), regression.intercept_.astype("float32")])
    return keras.Model(text, outputs, name="ngram_classifier")


def _initial_weights(model, vocabulary):
    """`(coef_, intercept_)` for scikit-learn from a fitted n-gram model, matched by n-gram."""
    previous = {ngram: row for row, ngram in enumerate(model.get_layer("ngram_vectorizer").get_vocabulary())}
    kernel, bias = model.get_layer("ngram_probabilities").get_weights()
    coef = np.zeros((kernel.shape[1], len(vocabulary)))
    for column, ngram in enumerate(vocabulary):
        row = previous.get(ngram)
        if row is not None:
            coef[:, column] = kernel[row]
    return coef, bias.astype(np.float64)


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


def sparse_ngram_probabilities(ngram_model):
    """The n-gram model's probabilities, computed on sparse counts.

    The Keras n-gram model (see `transformer_kit.ngram`) counts n-grams into
    a dense `(batch, ngram_vocabulary)` matrix, e.g. 256 x 50,000 floats per
    batch, and multiplies it by the regression weights: that was 80% of the
    serving time. A text has a few dozen n-grams, so here the same
    `TextVectorization` (same vocabulary and standardization) emits a sparse
    matrix, the TF-IDF weighting runs on its non-zero values only, and the
    regression is a sparse-dense product: the same numbers, ~10x faster.

    Args:
        ngram_model: the classifier's `ngram_model_`.

    Returns:
        `(probabilities_fn, layers)`: a function from a string tensor
        `[batch]` to the model's output, and the layers to track. For a model
        not built by `fit_ngram_classifier` the model itself is used.
    """
    try:
        counter = ngram_model.get_layer("ngram_vectorizer")
        tfidf = ngram_model.get_layer("tfidf")
        head = ngram_model.get_layer("ngram_probabilities")
    except ValueError:
        return (lambda text: ngram_model(text, training=False)), [ngram_model]
    config = counter.get_config()
    sparse_counter = keras.layers.TextVectorization(
        max_tokens=config["max_tokens"],
        standardize=config["standardize"],
        split=config["split"],
        ngrams=config["ngrams"],
        output_mode=config["output_mode"],
        sparse=True,
        name="ngram_counter_sparse",
    )
    sparse_counter.set_vocabulary(counter.get_vocabulary())
    sparse_counter(tf.constant([""]))  # build it, so that it can be tracked

    def probabilities(text):
        # TF's sparse counting fails on a batch of zero texts; one extra empty
        # text, dropped at the end, makes every batch non-empty.
        text = tf.concat([text, tf.constant([""])], axis=0)
        counts = sparse_counter(text)
        rows, columns = counts.indices[:, 0], counts.indices[:, 1]
        values = tf.cast(counts.values, "float32")
        if tfidf.sublinear:
            values = 1.0 + tf.math.log(tf.maximum(values, 1.0))
        values = values * tf.gather(tf.convert_to_tensor(tfidf.idf), columns)
        norms = tf.sqrt(tf.math.unsorted_segment_sum(tf.square(values), rows, tf.shape(text, tf.int64)[0]))
        values = values / tf.gather(tf.maximum(norms, 1e-12), rows)
        features = tf.SparseTensor(counts.indices, values, counts.dense_shape)
        logits = tf.sparse.sparse_dense_matmul(features, tf.convert_to_tensor(head.kernel)) + head.bias
        return head.activation(logits)[:-1]

    # Not the whole n-gram model: its dense counter's vocabulary would be
    # saved a second time without being used.
    return probabilities, [sparse_counter, tfidf, head]


def choose_ngram_weight(transformer_probabilities, ngram_probabilities, true_ids, grid_step=0.05):
    """The blend weight of the n-gram model that minimizes log-loss on held-out data.

    Where the transformers are strong (short English texts) this lands near
    0.5; where they are weak (few, long or Chinese texts) the n-gram model
    gets more weight, so the blend is not dragged below its better part.

    Args:
        transformer_probabilities: float array `(n, num_classes)`.
        ngram_probabilities: float array `(n, num_classes)`, from an n-gram
            model that did not see these rows.
        true_ids: int array `(n,)`.
        grid_step: spacing of the weights tried in [0, 1].

    Returns:
        float in [0, 1].

    Example:

    >>> choose_ngram_weight(np.array([[0.9, 0.1]]), np.array([[0.4, 0.6]]), np.array([0]))
    0.0
    """
    true_ids = np.asarray(true_ids)
    rows = np.arange(len(true_ids))
    best_weight, best_loss = 0.5, np.inf
    # From the middle outwards, so ties keep the weight closest to an even blend.
    for weight in sorted(np.arange(0.0, 1.0 + 1e-9, grid_step), key=lambda w: abs(w - 0.5)):
        blended = (1.0 - weight) * transformer_probabilities + weight * ngram_probabilities
        loss = -np.mean(np.log(np.clip(blended[rows, true_ids], 1e-7, 1.0)))
        if loss < best_loss - 1e-9:
            best_weight, best_loss = float(round(weight, 4)), loss
    return best_weight
