"""Train on CSV files larger than memory: chunked reading, hashed validation split.

`load_csv_dataset` holds every row in memory (twice: the DataFrame and the
lists). For a file of tens of millions of rows that does not fit, so streaming
mode instead

1. scans the file once in chunks (`scan_csv`), keeping only the row count, the
   count of each label and a bounded random sample of rows (reservoir
   sampling). The vocabulary, sequence length, word/character mode and the
   n-gram model are fitted on that sample;
2. re-reads the file in chunks every epoch (`make_streaming_token_dataset`),
   through a bounded shuffle buffer, so memory does not grow with the file.

The validation rows are chosen by a hash of the text (`is_validation_text`):
deterministic, the same in every pass and every process, needing no index of
rows, and duplicates of a text always fall on the same side, so validation
never scores texts the model was trained on.
"""

import collections
import dataclasses
import os
import random
import zlib

import numpy as np
import tensorflow as tf

from transformer_kit.config import TrainingConfig
from transformer_kit.data.paths import data_file_paths, total_bytes
from transformer_kit.data.pipeline import PREFETCH_BATCHES, _pad_to_multiple, _token_ids, with_input_options
from transformer_kit.data.source import CHUNK_ROWS, TextSource
from transformer_kit.errors import DataError

SAMPLE_ROWS = 100_000
SHUFFLE_BUFFER = 50_000
# Files above this size train in streaming mode when `streaming="auto"`.
AUTO_STREAMING_BYTES = 1 << 30
_HASH_BUCKETS = 1_000_000


@dataclasses.dataclass
class CsvSummary:
    """What one streaming pass over the training files keeps.

    Attributes:
        num_rows: int, usable rows (with text and label).
        train_label_counts: dict label -> rows outside the validation part.
        validation_label_counts: dict label -> rows in the validation part.
        sample_texts, sample_labels: lists, a uniform random sample of at
            most `sample_size` training-part rows.
        validation_texts, validation_labels: lists, the same for the
            validation part (at most `sample_size // 5` rows).
        notes: list of str, how the files were read (see `TextDataset.notes`).
        source: str, the files read, for messages and the data report.
    """

    num_rows: int
    train_label_counts: dict
    validation_label_counts: dict
    sample_texts: list
    sample_labels: list
    validation_texts: list
    validation_labels: list
    notes: list = dataclasses.field(default_factory=list)
    source: str = ""


def should_stream(source, streaming):
    """Whether `source` trains in streaming mode for the `streaming` setting.

    Args:
        source: what was passed to `fit` as training data.
        streaming: `True`, `False` or `"auto"` (files over 1 GiB in total).

    Returns:
        bool. Only files (paths) can be streamed; `streaming=True` with a
        DataFrame or lists is an error.
    """
    paths = data_file_paths(source)
    if streaming is True and paths is None:
        raise DataError(_NOT_FILES)
    if streaming == "auto" and paths is not None:
        return total_bytes(paths) > AUTO_STREAMING_BYTES
    return bool(streaming) and streaming != "auto"


def refuse_files_larger_than_memory(source, reason):
    """A clear error when files that must be read whole hold more than half the machine's memory.

    For training that cannot stream (multi-label): reading such files would
    end in a `MemoryError` or the kernel's out-of-memory killer, not a message.

    Args:
        source: what was passed to `fit` (only paths are checked).
        reason: why these files are read whole, for the message.

    Raises:
        DataError: naming the files' size, the memory, and what to do.
    """
    paths = data_file_paths(source)
    memory = _physical_memory_bytes()
    if paths is None or memory is None:
        return
    size = total_bytes(paths)
    if size > memory / 2:
        raise DataError(
            f"{', '.join(str(p) for p in paths)} hold {size / (1 << 30):.1f} GiB, more than half of this machine's "
            f"{memory / (1 << 30):.1f} GiB of memory, and {reason}. Train on a sample of the rows, or on a "
            "machine with more memory."
        )


def _physical_memory_bytes():
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: no check
        return None


def iter_csv_chunks(paths, text_column="text", label_column="label", encoding=None, chunk_rows=CHUNK_ROWS):
    """Yield `(texts, labels)` lists of at most `chunk_rows` usable rows.

    Any input `load_csv_dataset` reads (CSV/TSV with the same encoding
    detection and delimiter sniffing, JSON Lines, Parquet, a folder of
    `.txt` files), read piece by piece, and its cells exactly as
    `load_csv_dataset` reads them (all strings; only an empty cell is
    missing; labels stripped; several text columns joined); rows without
    text or label are skipped.

    Args:
        paths: a path or list of paths (CSV, TSV, JSON Lines, optionally
            `.gz`; Parquet; folders).
        text_column: str, or a list of columns to join.
        label_column: str.
        encoding: file encoding, default detected (CSV/TSV) or UTF-8.
        chunk_rows: int.

    Yields:
        `(texts, labels)`, two lists of str of equal length.
    """
    return file_source(paths, text_column, label_column, encoding).chunks(chunk_rows)


def file_source(paths, text_column="text", label_column="label", encoding=None):
    """`paths` as a `TextSource` of files (a `TextSource` passes through), or the error that only files stream.

    Example:

    >>> file_source("data/trec_test.csv").description
    'data/trec_test.csv'
    """
    if isinstance(paths, TextSource):
        return paths
    if data_file_paths(paths) is None:
        raise DataError(_NOT_FILES)
    return TextSource(paths, None, text_column, label_column, encoding)


def is_validation_text(text, fraction):
    """Whether a text belongs to the validation part (a stable hash of the text).

    Args:
        text: str.
        fraction: float in (0, 1), the share of texts held out.

    Returns:
        bool, the same for the same text in every run and process.

    Example:

    >>> is_validation_text("free prize!", 0.1) == is_validation_text("free prize!", 0.1)
    True
    """
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % _HASH_BUCKETS < fraction * _HASH_BUCKETS


def scan_csv(paths, text_column="text", label_column="label", encoding=None, validation_fraction=0.1,
             sample_size=SAMPLE_ROWS, seed=0):
    """One pass over the files: counts and bounded samples, see `CsvSummary`.

    Args:
        paths: a path or list of paths, or a `TextSource` (read as it is settled).
        text_column, label_column, encoding: as in `iter_csv_chunks`.
        validation_fraction: float in [0, 1). Share of texts (by hash) that
            form the validation part; 0 for none.
        sample_size: int. Most training-part rows kept in memory.
        seed: int. Seeds the reservoir sampling.

    Returns:
        A `CsvSummary`.
    """
    rng = random.Random(seed)
    counts = {False: collections.Counter(), True: collections.Counter()}
    samples = {False: ([], []), True: ([], [])}
    limits = {False: sample_size, True: max(1, sample_size // 5)}
    seen = {False: 0, True: 0}
    source = file_source(paths, text_column, label_column, encoding)
    for texts, labels in source.chunks():
        for text, label in zip(texts, labels):
            part = validation_fraction > 0 and is_validation_text(text, validation_fraction)
            counts[part][label] += 1
            seen[part] += 1
            sample_texts, sample_labels = samples[part]
            # Reservoir sampling (Algorithm R): a uniform sample in one pass.
            if len(sample_texts) < limits[part]:
                sample_texts.append(text)
                sample_labels.append(label)
            else:
                slot = rng.randrange(seen[part])
                if slot < limits[part]:
                    sample_texts[slot], sample_labels[slot] = text, label
    if not seen[False]:
        raise DataError(f"{source.description}: no usable rows (every row lacks a text or a label).")
    return CsvSummary(
        num_rows=seen[False] + seen[True],
        train_label_counts=dict(counts[False]),
        validation_label_counts=dict(counts[True]),
        sample_texts=samples[False][0],
        sample_labels=samples[False][1],
        validation_texts=samples[True][0],
        validation_labels=samples[True][1],
        notes=source.notes,
        source=source.description,
    )


def make_streaming_token_dataset(paths, encoder, vectorizer, sequence_length, part="train",
                                 validation_fraction=0.1, batch_size=TrainingConfig.batch_size,
                                 shuffle_buffer=SHUFFLE_BUFFER,
                                 seed=0, text_column="text", label_column="label", encoding=None):
    """A `tf.data.Dataset` of `(token ids, label ids)` batches read from files in chunks.

    Like `make_token_dataset`, each batch is padded to its longest text
    (a multiple of 8, at most `sequence_length`), but rows come from the
    files chunk by chunk on every pass, so memory stays bounded by the chunk
    size and `shuffle_buffer`.

    Args:
        paths: a path or list of paths, or a `TextSource` (read as it is settled).
        encoder: a fitted `LabelEncoder`; rows with labels it does not know
            are an error.
        vectorizer: an adapted (ragged) `TextVectorization`.
        sequence_length: int.
        part: `"train"` (rows outside the validation part), `"validation"`
            or `"all"`.
        validation_fraction: float, as in `scan_csv`.
        batch_size: int, the global batch size; default
            `TrainingConfig.batch_size`.
        shuffle_buffer: int; 0 disables shuffling (always off for
            `"validation"`).
        seed: int, seeds the shuffle.
        text_column, label_column, encoding: as in `iter_csv_chunks`.

    Returns:
        A `tf.data.Dataset`.
    """
    source = file_source(paths, text_column, label_column, encoding)  # settled once, read every epoch

    def chunks():
        for texts, labels in source.chunks():
            if part != "all" and validation_fraction > 0:
                wanted = part == "validation"
                kept = [(text, label) for text, label in zip(texts, labels)
                        if is_validation_text(text, validation_fraction) == wanted]
                texts, labels = [text for text, _ in kept], [label for _, label in kept]
            if texts:
                ids = encoder.encode(labels, source=source.description)
                yield np.asarray(texts, dtype=object), ids.astype("int32")

    # Whole chunks cross from Python into tf.data, then are split into rows:
    # one Python call per chunk instead of per row (several times faster).
    dataset = tf.data.Dataset.from_generator(
        chunks,
        output_signature=(tf.TensorSpec((None,), tf.string), tf.TensorSpec((None,), tf.int32)),
    ).unbatch()
    if shuffle_buffer and part != "validation":
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)

    def vectorize(batch_texts, batch_labels):
        ids = _token_ids(vectorizer, batch_texts, sequence_length)
        return _pad_to_multiple(ids, sequence_length), batch_labels

    dataset = dataset.batch(batch_size).map(vectorize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return with_input_options(dataset.prefetch(PREFETCH_BATCHES))


def class_counts_array(counts, encoder):
    """Label counts as an array indexed by class id."""
    return np.asarray([counts.get(name, 0) for name in encoder.classes_], dtype="int64")


_NOT_FILES = ("Streaming mode reads CSV files (or JSON Lines, Parquet, folders): pass the training data as a path "
              "(or list of paths).")
