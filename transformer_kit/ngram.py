"""An n-gram logistic regression that lives inside the Keras graph.

scikit-learn fits it (an exact convex optimum in seconds, no epochs to tune)
on TF-IDF features (`TfidfTransformer`) or on binary n-gram counts scaled by
naive Bayes log-count ratios (NBSVM, `MultinomialNB`); its coefficients then
go into an `NgramLogisticRegression` layer, which computes the same features
from raw strings with a sparse `TextVectorization(output_mode="count")`, so
the same model can be saved, blended with the transformers and exported in
one SavedModel. Training features and served features come from the very
same `TextVectorization`, so they cannot drift apart.
"""


import keras
import numpy as np
import scipy.sparse
import tensorflow as tf
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.preprocessing import normalize
from sklearn.utils.parallel import Parallel, delayed

from transformer_kit.config import NGRAM_FEATURES
from transformer_kit.cores import available_cores
from transformer_kit.data.text_vectorization import make_text_vectorizer

# The feature sets (`NGRAM_FEATURES`) are `<kind>-1-<n>`, word (or CJK character) 1- to n-grams.
# "tfidf": `(1 + log count) * idf`; "nb": binary counts times the naive Bayes log-count ratio
# (Wang & Manning 2012), binary tasks only. Both L2-normalised per text.
DEFAULT_NGRAM_FEATURES = "tfidf-1-2"
# What `ngram_features="auto"` compares on held-out texts (the first wins ties).
AUTO_NGRAM_FEATURES = {"binary": ("tfidf-1-2", "nb-1-2", "nb-1-3"), "multiclass": ("tfidf-1-2", "tfidf-1-3"),
                       "multi-label": (DEFAULT_NGRAM_FEATURES,)}


def ngram_feature_candidates(features, num_classes, multi_label=False):
    """The feature sets an n-gram branch may use: one when forced, the `"auto"` candidates else.

    Args:
        features: `"auto"` or one of `NGRAM_FEATURES`.
        num_classes: int >= 2.
        multi_label: bool.

    Returns:
        tuple of str, the default first.

    Raises:
        ValueError: for an unknown name, or naive Bayes features (`"nb-*"`)
            on a task that is not binary single-label.

    Example:

    >>> ngram_feature_candidates("auto", 2)
    ('tfidf-1-2', 'nb-1-2', 'nb-1-3')
    >>> ngram_feature_candidates("tfidf-1-3", 4)
    ('tfidf-1-3',)
    """
    if features == "auto":
        kind = "multi-label" if multi_label else "binary" if num_classes == 2 else "multiclass"
        return AUTO_NGRAM_FEATURES[kind]
    if features not in NGRAM_FEATURES:
        raise ValueError(f"`ngram_features` must be 'auto' or one of {list(NGRAM_FEATURES)}, got {features!r}.")
    if features.startswith("nb-") and (multi_label or num_classes != 2):
        task = "label sets" if multi_label else f"{num_classes} classes"
        raise ValueError(f"`ngram_features={features!r}` (naive Bayes log-count ratios) is for two classes, "
                         f"got {task}; use 'auto' or a 'tfidf-*' set.")
    return (features,)


def _ngram_order(features):
    """`"tfidf-1-3"` -> 3: the longest n-gram counted."""
    return int(features.rsplit("-", 1)[1])


class FeatureScaling:
    """Count matrix -> the regression's features, as `NgramLogisticRegression` computes them in the graph.

    Each non-zero count becomes `1 + log(count)` (TF-IDF) or 1 (naive
    Bayes), times its column's `scale_`, and each row is L2-normalised.
    `scale_` is scikit-learn's idf (`TfidfTransformer(sublinear_tf=True)`),
    or the log-count ratio `r = log(p / |p|_1) - log(q / |q|_1)` of binary
    counts, `p` and `q` smoothed by 1 (Wang & Manning 2012): `MultinomialNB(
    alpha=1)`'s `feature_log_prob_` of class 1 minus class 0. Unlike NBSVM
    the rows are L2-normalised, as TF-IDF rows are, so that one `ngram_c`
    suits both (SST-2, C=10: 0.816 against 0.809 unnormalised).

    Args:
        features: one of `NGRAM_FEATURES`.
    """

    def __init__(self, features=DEFAULT_NGRAM_FEATURES):
        self.features = features
        self.binary = features.startswith("nb-")

    def fit(self, counts, labels, sample_weight=None):
        """Learn `scale_` from a sparse count matrix `(texts, n-grams)` and, for naive Bayes, class ids."""
        if not self.binary:
            self.scale_ = TfidfTransformer(sublinear_tf=True).fit(counts).idf_
            return self
        labels = np.asarray(labels)
        if labels.ndim != 1 or not set(np.unique(labels)) <= {0, 1}:
            raise ValueError(f"Naive Bayes n-gram features ({self.features!r}) need class ids 0 and 1.")
        naive_bayes = MultinomialNB(alpha=1.0).fit(self._values(counts), labels, sample_weight=sample_weight)
        log_probabilities = np.zeros((2, counts.shape[1]))  # a class absent from `labels`: no evidence
        log_probabilities[naive_bayes.classes_] = naive_bayes.feature_log_prob_
        self.scale_ = log_probabilities[1] - log_probabilities[0]
        return self

    def transform(self, counts):
        """The L2-normalised feature rows of a sparse count matrix."""
        return normalize(self._values(counts).multiply(self.scale_).tocsr())

    def _values(self, counts):
        values = scipy.sparse.csr_matrix(counts, dtype=np.float64, copy=True)
        values.data = np.ones_like(values.data) if self.binary else 1.0 + np.log(np.maximum(values.data, 1.0))
        return values


@keras.saving.register_keras_serializable(package="transformer_kit")
class NgramLogisticRegression(keras.layers.Layer):
    """Strings -> class probabilities of an n-gram logistic regression.

    Features are those of `FeatureScaling`: for TF-IDF (`"tfidf-1-2"`,
    scikit-learn's `TfidfTransformer(sublinear_tf=True)`) L2-normalized
    `(1 + log(count)) * idf`; for naive Bayes (`"nb-1-2"`) L2-normalized
    `1 * r`, `r` the log-count ratio. They are computed on the sparse counts
    of each batch (a text has a few dozen n-grams among up to 150,000), then
    a sparse-dense product with the regression's weights. N-grams outside
    the vocabulary count into `"[UNK]"`, whose scale is 0, so they are
    ignored.

    Build one with `fit_ngram_classifier`; the constructor alone gives an
    empty model (what `keras.saving` fills in when it loads a saved one).

    Args:
        split_mode: `"word"` or `"character"`, as the transformers' tokens.
        vocabulary_size: int, n-grams kept, `"[UNK]"` included.
        num_classes: int >= 2 (2 gives one sigmoid output, as the
            transformers' binary head).
        vocabulary: list of str or `None`; `"[UNK]"` first.
        multi_label: bool, default `False`. One independent sigmoid per
            label (one-vs-rest regressions) instead of a softmax.
        features: one of `NGRAM_FEATURES`, default `"tfidf-1-2"`.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, split_mode="word", vocabulary_size=1, num_classes=2, vocabulary=None, multi_label=False,
                 features=DEFAULT_NGRAM_FEATURES, **kwargs):
        super().__init__(**{"name": "ngram_classifier", **kwargs})
        self.split_mode = split_mode
        self.multi_label = bool(multi_label)
        self.features = features
        self.order = _ngram_order(features)  # the longest n-gram counted
        # One sigmoid unit for two classes, as the transformers' binary head.
        self.units = 1 if num_classes == 2 and not multi_label else int(num_classes)
        self.num_classes, self.vocabulary_size = int(num_classes), int(vocabulary_size)
        self.counter = make_text_vectorizer(
            max_tokens=self.vocabulary_size,
            split=split_mode,
            vocabulary=vocabulary,
            ngrams=self.order,
            output_mode="count",
            sparse=True,
            name="ngram_counter",
        )

    def build(self, input_shape=None):
        size = (self.vocabulary_size,)
        # Each n-gram's feature scale: its idf (TF-IDF) or naive Bayes log-count ratio; 0 for "[UNK]".
        self.scale = self.add_weight(shape=size, initializer="zeros", trainable=False, name="scale")
        self.kernel = self.add_weight(shape=(*size, self.units), initializer="zeros", trainable=False, name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", trainable=False, name="bias")

    def get_vocabulary(self):
        """list of str: the n-gram of each feature column, `"[UNK]"` first."""
        return [str(ngram) for ngram in self.counter.get_vocabulary()]

    def set_regression(self, scale, coef, intercept):
        """Load the feature scale (`FeatureScaling.scale_`) and a fitted regression's `coef_` and `intercept_`."""
        if not self.built:
            self.build()
        self.scale.assign(np.asarray(scale, "float32"))
        self.kernel.assign(np.asarray(coef, "float32").T)
        self.bias.assign(np.asarray(intercept, "float32"))

    def feature_values(self, counts):
        """The features of a sparse count batch: float values at `counts.indices`, as `FeatureScaling`."""
        rows, columns = counts.indices[:, 0], counts.indices[:, 1]
        if self.features.startswith("nb-"):
            values = tf.ones_like(counts.values, dtype="float32")
        else:
            values = 1.0 + tf.math.log(tf.maximum(tf.cast(counts.values, "float32"), 1.0))
        values = values * tf.gather(self.scale, columns)
        norms = tf.sqrt(tf.math.unsorted_segment_sum(tf.square(values), rows, counts.dense_shape[0]))
        return values / tf.gather(tf.maximum(norms, 1e-12), rows)

    def call(self, text):
        # TF's sparse counting fails on a batch of zero texts; one extra empty
        # text, dropped at the end, makes every batch non-empty.
        text = tf.concat([tf.reshape(text, [-1]), tf.constant([""])], axis=0)
        counts = self.counter(text)
        features = tf.SparseTensor(counts.indices, self.feature_values(counts), counts.dense_shape)
        logits = tf.sparse.sparse_dense_matmul(features, self.kernel) + self.bias
        probabilities = tf.sigmoid(logits) if self.units == 1 or self.multi_label else tf.nn.softmax(logits)
        return probabilities[:-1]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(split_mode=self.split_mode, vocabulary_size=self.vocabulary_size, num_classes=self.num_classes)
        if self.multi_label:  # only then, so single-label configs stay as they were
            config["multi_label"] = True
        if self.features != DEFAULT_NGRAM_FEATURES:  # likewise
            config["features"] = self.features
        return config


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
    multi_label=False,
    sample_weight=None,
    features=DEFAULT_NGRAM_FEATURES,
):
    """Fit a word (or CJK character) n-gram logistic regression.

    Args:
        texts: list of str, the training texts.
        labels: int array of class ids; with `multi_label`, a 0/1 array
            `(texts, labels)`.
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
        multi_label: bool. One binary regression per label (one-vs-rest),
            each on the same features; a label that is always (or never)
            present gets a constant probability, its training rate.
        sample_weight: `None`, or a float array `(texts,)` weighting each
            text's loss (self-training gives pseudo-labelled texts less
            weight; see `transformer_kit.self_training`). Single-label only.
        features: one of `NGRAM_FEATURES` (see `FeatureScaling`), default
            `"tfidf-1-2"`; `"nb-*"` needs two classes, single-label.

    Returns:
        An `NgramLogisticRegression` layer from strings `(batch,)` to
        probabilities `(batch, 1)` (binary) or `(batch, num_classes)`.

    Example:

    >>> model = fit_ngram_classifier(["good film", "bad film"] * 5, np.array([1, 0] * 5), 2)
    >>> probabilities = model(tf.constant(["good", "bad"])).numpy()
    >>> probabilities.shape, bool(probabilities[0, 0] > 0.5 > probabilities[1, 0])
    ((2, 1), True)
    """
    texts = [str(text) for text in texts]
    ngram_feature_candidates(features, num_classes, multi_label)  # refuses naive Bayes beyond two classes
    # Every n-gram first (sparse, so no dense texts x n-grams array), then
    # the frequent ones that pass `min_df`, at most `max_tokens`.
    full_counter = _full_counter(texts, split, features)
    all_ngrams = full_counter.get_vocabulary()  # "[UNK]" first, then by frequency
    counts = _sparse_counts(full_counter, texts, len(all_ngrams))
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    frequent = np.flatnonzero(document_frequency[1:] >= min_df) + 1
    if frequent.size == 0:
        frequent = np.arange(1, len(all_ngrams))
    kept = frequent[: max_tokens - 1]
    vocabulary = ["[UNK]", *(str(all_ngrams[i]) for i in kept)]

    # Column 0 ("[UNK]", n-grams outside the vocabulary) is no feature: scale 0.
    if multi_label and sample_weight is not None:
        raise ValueError("`sample_weight` is for single-label n-gram models.")
    scaling = FeatureScaling(features).fit(counts[:, kept], labels, sample_weight)
    matrix = scaling.transform(counts[:, kept])
    initial = None if warm_start is None or warm_start.features != features else _initial_weights(warm_start,
                                                                                                   vocabulary)
    if multi_label:
        coef, intercept = _fit_one_vs_rest(matrix, np.asarray(labels), c, seed, initial)
    else:
        regression = LogisticRegression(
            C=c, max_iter=2000, class_weight=class_weight, random_state=seed, warm_start=initial is not None
        )
        if initial is not None:
            regression.coef_, regression.intercept_ = initial
        regression.fit(matrix, labels, sample_weight=sample_weight)
        coef, intercept = regression.coef_, regression.intercept_

    model = NgramLogisticRegression(split, len(vocabulary), num_classes, vocabulary=vocabulary,
                                    multi_label=multi_label, features=features)
    no_feature = np.zeros((coef.shape[0], 1))  # the "[UNK]" column
    model.set_regression(np.concatenate([[0.0], scaling.scale_]), np.hstack([no_feature, coef]), intercept)
    return model


def _full_counter(texts, split, features):
    """A sparse `TextVectorization` counting every n-gram of `texts` up to `features`' order."""
    return make_text_vectorizer(texts, max_tokens=None, split=split, ngrams=_ngram_order(features),
                                output_mode="count", sparse=True, name="ngram_counter_full")


def stratified_folds(label_ids, folds, seed=0):
    """`(fit rows, scored rows)` of stratified `folds`-fold cross-validation, shuffled with `seed`.

    `folds` is lowered to the smallest class's count; `None` when that
    leaves fewer than 2 (a class with one text cannot be split).

    Example:

    >>> splits = stratified_folds(np.array([0, 1, 0, 1, 0]), 5)  # class 1 has 2 texts: 2 folds
    >>> len(splits), sorted(int(row) for _, scored in splits for row in scored)
    (2, [0, 1, 2, 3, 4])
    >>> stratified_folds(np.array([0, 0, 1]), 5) is None
    True
    """
    from sklearn.model_selection import StratifiedKFold

    label_ids = np.asarray(label_ids)
    smallest_class = int(np.unique(label_ids, return_counts=True)[1].min()) if len(label_ids) else 0
    folds = min(folds, smallest_class)
    if folds < 2:
        return None
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(label_ids)),
                                                                                       label_ids))


def cross_validated_ngram_probabilities(texts, label_ids, num_classes, split="word", max_tokens=150000, min_df=2,
                                        c=10.0, class_weight=None, seed=0, folds=5,
                                        features=DEFAULT_NGRAM_FEATURES):
    """Out-of-fold class probabilities of the n-gram regression for every text.

    Stratified k-fold cross-validation: each text is scored by the regression
    `fit_ngram_classifier` would fit on the other folds (the same n-grams,
    `min_df` and `max_tokens` counted on those folds, the same features and
    regularization). The texts are counted once, with every n-gram, and
    each fold selects its own columns, so a fold costs one scikit-learn fit;
    each starts from the previous fold's weights (the optimum is unique,
    so only the iterations needed change).

    Args:
        texts: list of str.
        label_ids: int array `(n,)` of class ids (single-label).
        num_classes: int >= 2.
        split, max_tokens, min_df, c, class_weight, seed, features: as for
            `fit_ngram_classifier`.
        folds: int; lowered to the smallest class's count.

    Returns:
        float array `(n, num_classes)`, or `None` when a class has fewer
        than 2 texts (no stratified split possible).

    Example:

    >>> texts = ["good film", "great film", "bad film", "awful film"] * 5
    >>> out_of_fold = cross_validated_ngram_probabilities(texts, np.array([1, 1, 0, 0] * 5), 2)
    >>> out_of_fold.shape, bool((out_of_fold.argmax(axis=1) == [1, 1, 0, 0] * 5).all())
    ((20, 2), True)
    """
    texts = [str(text) for text in texts]
    label_ids = np.asarray(label_ids)
    splits = stratified_folds(label_ids, folds, seed)
    if splits is None:
        return None
    ngram_feature_candidates(features, num_classes)
    counter = _full_counter(texts, split, features)
    counts = _sparse_counts(counter, texts, len(counter.get_vocabulary()))[:, 1:]  # columns by frequency
    out_of_fold = np.zeros((len(texts), num_classes))
    previous = None  # (global columns, coef_, intercept_) of the last fold, to start the next one
    for fit_rows, scored_rows in splits:
        fold_counts = counts[fit_rows]
        document_frequency = np.bincount(fold_counts.indices, minlength=counts.shape[1])
        kept = np.flatnonzero(document_frequency >= min_df)
        if kept.size == 0:
            kept = np.flatnonzero(document_frequency > 0)
        kept = kept[: max_tokens - 1]
        scaling = FeatureScaling(features).fit(fold_counts[:, kept], label_ids[fit_rows])
        regression = LogisticRegression(C=c, max_iter=2000, class_weight=class_weight, random_state=seed,
                                        warm_start=previous is not None)
        if previous is not None:
            columns, coef, intercept = previous
            start = np.zeros((coef.shape[0], kept.size))
            position = np.searchsorted(kept, columns)
            shared = (position < kept.size) & (kept[np.minimum(position, kept.size - 1)] == columns)
            start[:, position[shared]] = coef[:, shared]
            regression.coef_, regression.intercept_ = start, intercept
        regression.fit(scaling.transform(fold_counts[:, kept]), label_ids[fit_rows])
        previous = kept, regression.coef_, regression.intercept_
        scored = regression.predict_proba(scaling.transform(counts[scored_rows][:, kept]))
        out_of_fold[np.ix_(scored_rows, regression.classes_)] = scored
    return out_of_fold


def _fit_one_vs_rest(features, indicator, c, seed, initial=None, n_jobs=None):
    """`(coef_ (labels, features), intercept_ (labels,))` of one binary regression per label.

    The regressions are independent, and each runs on one core, so they are
    fitted in parallel processes (`n_jobs`, default: every core this process
    may use, `available_cores`); the result does not depend on how many.
    """
    coef = np.zeros((indicator.shape[1], features.shape[1]))
    intercept = np.zeros(indicator.shape[1])
    jobs = []
    for label in range(indicator.shape[1]):
        column = indicator[:, label].astype(int)
        rate = column.mean()
        if rate in (0.0, 1.0):
            intercept[label] = np.log(np.clip(rate, 1e-4, 1 - 1e-4) / np.clip(1 - rate, 1e-4, 1 - 1e-4))
            continue
        regression = LogisticRegression(C=c, max_iter=2000, random_state=seed, warm_start=initial is not None)
        if initial is not None:
            regression.coef_, regression.intercept_ = initial[0][label : label + 1], initial[1][label : label + 1]
        jobs.append((label, regression, column))
    n_jobs = min(len(jobs), n_jobs or available_cores()) or 1
    # scikit-learn's own joblib wrapper (what its estimators' n_jobs use): worker processes
    # get the fit's inputs in memory, nothing is read from files.
    fitted = Parallel(n_jobs=n_jobs)(delayed(regression.fit)(features, column) for _, regression, column in jobs)
    for (label, _, _), regression in zip(jobs, fitted):
        coef[label], intercept[label] = regression.coef_[0], regression.intercept_[0]
    return coef, intercept


def _initial_weights(model, vocabulary):
    """`(coef_, intercept_)` for scikit-learn from a fitted n-gram model, matched by n-gram.

    `vocabulary` starts with `"[UNK]"`, which is no feature column.
    """
    previous = {ngram: row for row, ngram in enumerate(model.get_vocabulary())}
    kernel, bias = np.asarray(model.kernel), np.asarray(model.bias)
    coef = np.zeros((kernel.shape[1], len(vocabulary) - 1))
    for column, ngram in enumerate(vocabulary[1:]):
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


def choose_ngram_weight(transformer_probabilities, ngram_probabilities, true_ids, grid_step=0.05,
                        one_standard_error=False, row_losses=None):
    """The blend weight of the n-gram model that minimizes log-loss on held-out data.

    Where the transformers are strong (short English texts) this lands near
    0.5; where they are weak (few, long or Chinese texts) the n-gram model
    gets more weight, so the blend is not dragged below its better part.

    Args:
        transformer_probabilities: float array `(n, num_classes)`.
        ngram_probabilities: float array `(n, num_classes)`, from an n-gram
            model that did not see these rows.
        true_ids: int array `(n,)`; or, for multi-label probabilities
            (independent sigmoids), a 0/1 array `(n, labels)`, scored by
            binary cross-entropy averaged over labels.
        grid_step: spacing of the weights tried in [0, 1].
        one_standard_error: bool. Keep the n-gram model alone (weight 1)
            unless the lowest-log-loss blend beats it by more than one
            standard error of the mean per-row difference in log-loss (a
            one-standard-error rule, as in Hastie, Tibshirani & Friedman,
            *The Elements of Statistical Learning*, 7.10, applied to the
            paired difference): the transformers get weight only where these
            rows show that they help beyond noise. Either way the blend
            never scores worse than the n-gram model alone on these rows.
        row_losses: callable `(probabilities, true_ids) -> (n,)` losses;
            `None` (default) for `row_log_losses`. A distilled student
            passes `row_cross_entropies` with its teacher's probabilities as
            `true_ids`.

    Returns:
        float in [0, 1].

    Example:

    >>> choose_ngram_weight(np.array([[0.9, 0.1]]), np.array([[0.4, 0.6]]), np.array([0]))
    0.0
    """
    true_ids = np.asarray(true_ids)
    weights = np.round(np.arange(0.0, 1.0 + 1e-9, grid_step), 4)
    row_losses = row_losses or row_log_losses
    losses = np.array([row_losses((1.0 - w) * transformer_probabilities + w * ngram_probabilities, true_ids)
                       for w in weights])
    means = losses.mean(axis=1)
    # From the middle outwards, so ties keep the weight closest to an even blend.
    best = _first_lowest(means, sorted(range(len(weights)), key=lambda i: abs(weights[i] - 0.5)))
    if one_standard_error and not beyond_one_standard_error(paired_gain(losses[best], losses[-1])):
        best = len(weights) - 1  # the n-gram model alone
    return float(weights[best])


def paired_gain(challenger_losses, incumbent_losses):
    """How much lower the challenger's per-row losses are than the incumbent's on the same rows.

    Args:
        challenger_losses, incumbent_losses: float arrays `(rows,)`.

    Returns:
        dict: `mean`, the mean per-row difference (incumbent minus
        challenger), and `standard_error`, that of the mean (`None` for a
        single row).

    Example:

    >>> {name: round(value, 4) for name, value in paired_gain(np.array([0.1, 0.2]), np.array([0.5, 0.4])).items()}
    {'mean': 0.3, 'standard_error': 0.1}
    """
    gain = np.asarray(incumbent_losses, dtype=np.float64) - np.asarray(challenger_losses, dtype=np.float64)
    error = float(np.std(gain, ddof=1) / np.sqrt(len(gain))) if len(gain) > 1 else None
    return {"mean": float(np.mean(gain)), "standard_error": error}


def beyond_one_standard_error(gain):
    """Whether a `paired_gain` shows the challenger better by more than one standard error.

    A one-standard-error rule (Hastie, Tibshirani & Friedman, *The Elements
    of Statistical Learning*, 7.10) applied to the paired difference: the
    incumbent is kept unless the rows show the challenger better beyond
    noise. With a single row nothing is shown beyond noise, so the
    challenger wins only by a strictly lower loss.

    Example:

    >>> beyond_one_standard_error(paired_gain(np.array([0.1, 0.2, 0.1]), np.array([0.5, 0.6, 0.4])))
    True
    >>> beyond_one_standard_error(paired_gain(np.array([0.1, 0.9, 0.1]), np.array([0.5, 0.6, 0.4])))
    False
    """
    return gain["mean"] > (gain["standard_error"] or 0.0)


def _first_lowest(values, order, tolerance=1e-9):
    """The index in `order` whose value is lowest; an earlier one wins ties within `tolerance`."""
    chosen = order[0]
    for index in order[1:]:
        if values[index] < values[chosen] - tolerance:
            chosen = index
    return chosen


def row_log_losses(probabilities, true_ids):
    """Negative log-likelihood of each row's true class (or labels, averaged): float array `(n,)`.

    See `mean_log_loss`.
    """
    true_ids = np.asarray(true_ids)
    if true_ids.ndim == 2:
        probabilities = np.clip(probabilities, 1e-7, 1.0 - 1e-7)
        return -np.mean(true_ids * np.log(probabilities) + (1 - true_ids) * np.log(1.0 - probabilities), axis=1)
    chosen = probabilities[np.arange(len(true_ids)), true_ids]
    return -np.log(np.clip(chosen, 1e-7, 1.0))


def row_cross_entropies(probabilities, targets):
    """Each row's cross-entropy against a target distribution (a teacher's probabilities): float array `(n,)`.

    What a distilled student learns to minimise, so what its parts are judged by:
    against the teacher's argmax instead, log-loss favours whichever part is
    surest of the teacher's top class, not the one closest to the teacher
    (ChnSentiCorp, 1,000 labels: blend weight 0.05 and 0.825 on test that
    way, 0.7 and 0.850 by cross-entropy; the teacher scored 0.853).

    Example:

    >>> row_cross_entropies(np.array([[0.5, 0.5], [0.25, 0.75]]), np.array([[1.0, 0.0], [0.5, 0.5]])).round(4)
    array([0.6931, 0.837 ])
    """
    return -np.sum(np.asarray(targets) * np.log(np.clip(probabilities, 1e-7, 1.0)), axis=1)


def mean_log_loss(probabilities, true_ids):
    """Mean negative log-likelihood of the true classes (or labels).

    By hand rather than `sklearn.metrics.log_loss`, which warns that float32
    probabilities "do not sum to one" (off by ~1e-7) on every call.

    Args:
        probabilities: float array `(n, num_classes)`.
        true_ids: int array `(n,)`; or, for multi-label probabilities
            (independent sigmoids), a 0/1 array `(n, labels)`, scored by
            binary cross-entropy averaged over labels.

    Returns:
        float.

    Example:

    >>> round(mean_log_loss(np.array([[0.5, 0.5], [0.1, 0.9]]), np.array([0, 1])), 4)
    0.3993
    """
    return float(np.mean(row_log_losses(probabilities, true_ids)))
