"""`make_token_dataset`: texts (+ label ids) -> padded batches of token ids.

Padding every batch to the full sequence length wastes most of the compute on
short texts (an SMS is ~15 tokens; a typical sequence length is 64-512).
Here each batch is padded only to its own longest text, rounded up to a
multiple of 8 so the model's `tf.function` sees few distinct shapes and
retraces rarely. While training, texts of similar length are also grouped
into the same batches (length bucketing), which shrinks padding further.

Order: with `shuffle=False` the rows come out in exactly the input order,
batch after consecutive batch, so predictions line up with the input
(`bucket` is ignored; to bucket at prediction time, sort the texts by length
yourself and unsort the outputs). With `shuffle=True` rows are shuffled every
epoch, and if `bucket=True` the shuffled rows are sorted by length within
windows of 50 batches, cut into batches, and the batches shuffled again. Both
are deterministic for a given `seed`.
"""

import numpy as np
import tensorflow as tf

from transformer_kit.config import TrainingConfig

PAD_MULTIPLE = 8
# Batches prepared ahead of the training step (tf.data autotuning is off).
PREFETCH_BATCHES = 4
# Bucketing sorts by length within windows of this many batches: large enough
# that batches are homogeneous, small enough that an epoch stays well mixed.
BUCKET_WINDOW_BATCHES = 50


def make_token_dataset(texts, labels, vectorizer, sequence_length, batch_size=TrainingConfig.batch_size,
                       shuffle=False, seed=0, bucket=True):
    """Build a `tf.data.Dataset` of dynamically padded token-id batches.

    Each batch is an int32 tensor `[batch, length]`, where `length` is the
    batch's longest text rounded up to a multiple of 8 (at least 8), capped at
    `sequence_length`. Longer texts are truncated; a text with no tokens is an
    all-zero (all-padding) row. The order of the rows: see the module docstring.

    Args:
        texts: sequence of str.
        labels: sequence of int class ids (or any per-row values), or `None`
            to yield token ids only (prediction).
        vectorizer: an adapted `TextVectorization` from `make_text_vectorizer`.
        sequence_length: int. Maximum tokens per text.
        batch_size: int, default `TrainingConfig.batch_size`.
        shuffle: bool, default `False`. Shuffle rows (reshuffled each epoch).
        seed: int, default 0. Seed for shuffling.
        bucket: bool, default `True`. Group similar lengths when shuffling.

    Returns:
        A `tf.data.Dataset` of `(ids, labels)` pairs, or of `ids` when
        `labels` is `None`. Integer labels are int32.

    Example:

    >>> from transformer_kit.data import LabelEncoder, make_text_vectorizer
    >>> texts = ["a good film", "bad", "a good and very long film " * 3, "good"]
    >>> labels = ["pos", "neg", "pos", "pos"]
    >>> encoder, vectorizer = LabelEncoder.fit(labels), make_text_vectorizer(texts)
    >>> dataset = make_token_dataset(texts, encoder.encode(labels), vectorizer,
    ...                              sequence_length=12, batch_size=2)
    >>> [(ids.shape.as_list(), label_ids.numpy().tolist()) for ids, label_ids in dataset]
    [([2, 8], [1, 0]), ([2, 12], [1, 1])]

    The first batch is padded to 8 columns, the second truncated to
    `sequence_length`. Such a dataset goes straight to `model.fit`.
    """
    if sequence_length < 1 or batch_size < 1:
        raise ValueError("`sequence_length` and `batch_size` must be positive; got "
                         f"sequence_length={sequence_length}, batch_size={batch_size}.")
    texts = tf.constant([str(text) for text in texts], dtype=tf.string)
    dataset = _row_dataset(texts, labels)

    vectorize = lambda batch_texts: _token_ids(vectorizer, batch_texts, sequence_length)  # noqa: E731

    def pad(ids, *rest):
        padded = _pad_to_multiple(ids, sequence_length)
        return (padded, *rest) if rest else padded

    rows = int(texts.shape[0])
    if shuffle:
        dataset = dataset.shuffle(max(1, rows), seed=seed, reshuffle_each_iteration=True)
    if shuffle and bucket:
        dataset = _bucketed_batches(dataset, vectorize, batch_size, seed, rows)
    else:
        dataset = dataset.batch(batch_size).map(lambda batch_texts, *rest: (vectorize(batch_texts), *rest),
                                                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.map(pad, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return with_input_options(dataset.prefetch(PREFETCH_BATCHES))


def _row_dataset(texts, labels):
    """One element per row: a text, or `(text, label)`; integer labels as int32."""
    if labels is None:
        return tf.data.Dataset.from_tensor_slices(texts)
    labels = np.asarray(labels)
    if len(labels) != texts.shape[0]:
        raise ValueError(
            f"Got {texts.shape[0]} texts but {len(labels)} labels; they "
            "must have one entry per row."
        )
    if np.issubdtype(labels.dtype, np.integer):
        labels = labels.astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((texts, labels))


def _bucketed_batches(dataset, vectorize, batch_size, seed, rows):
    """Ragged-id batches of similar lengths: sorted within windows of 50 batches, then shuffled."""

    def sort_window(window_texts, *window_labels):
        ids = vectorize(window_texts)
        lengths = ids.row_lengths()
        order = tf.argsort(lengths, stable=True)
        # Dense ids plus lengths rather than a RaggedTensor: slicing
        # ragged tensors into a nested dataset trips TF's type inference.
        dense = tf.gather(ids.to_tensor(), order)
        return (dense, tf.gather(lengths, order), *(tf.gather(y, order) for y in window_labels))

    def to_batches(*window):
        return tf.data.Dataset.from_tensor_slices(window).batch(batch_size)

    def to_ragged(dense, lengths, *rest):
        return (tf.RaggedTensor.from_tensor(dense, lengths=lengths), *rest)

    return (
        dataset.batch(batch_size * BUCKET_WINDOW_BATCHES)
        .map(sort_window, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .flat_map(to_batches)
        .map(to_ragged)
        .shuffle(BUCKET_WINDOW_BATCHES, seed=seed + 1, reshuffle_each_iteration=True)
        # Full windows give exactly BUCKET_WINDOW_BATCHES batches, so the total is
        # ceil(rows / batch_size); telling Keras lets it size the progress bar and
        # avoids its "ran out of data" warning after the first epoch.
        .apply(tf.data.experimental.assert_cardinality(-(-rows // batch_size)))
    )


def with_input_options(dataset):
    """One input thread and no tf.data autotuning, for every training input.

    One thread: vectorizing a batch is ~20x cheaper than a training step, and
    on a small CPU tf.data's default pool competes with the model for cores
    (measured on 2 cores: ~950 vs ~600 samples/s on SST-2). No autotuning:
    its background thread sleeps between optimizations for periods that grow
    to about a minute, and destroying an iterator (Keras does at every epoch)
    waits for that sleep to end — measured stalls of 12-55 s at the start of
    epochs on TNEWS and IMDB, a sixth of the training time.
    """
    options = tf.data.Options()
    options.threading.private_threadpool_size = 1
    options.autotune.enabled = False
    return dataset.with_options(options)


def _token_ids(vectorizer, texts, sequence_length):
    """Ragged token ids of a batch of texts, truncated to `sequence_length`."""
    ids = vectorizer(texts)
    if not isinstance(ids, tf.RaggedTensor):  # a fixed-length vectorizer
        ids = tf.RaggedTensor.from_tensor(ids, padding=0)
    return ids[:, :sequence_length]


def _pad_to_multiple(ids, sequence_length):
    """Ragged ids -> dense int32, width = longest row rounded up to 8, capped."""
    longest = tf.reduce_max(ids.row_lengths())
    width = tf.maximum(longest + (-longest) % PAD_MULTIPLE, PAD_MULTIPLE)
    width = tf.minimum(width, sequence_length)
    dense = ids.to_tensor(default_value=0, shape=tf.stack([ids.nrows(), width]))
    return tf.cast(dense, tf.int32)
