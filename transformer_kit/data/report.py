"""Data report: what is in each split, and what might go wrong in training.

Written as JSON next to every run and printed by the CLI, so problems such as
a tiny class, duplicated or leaked test texts, or a sequence length that cuts
most texts are visible before anyone reads an accuracy number.
"""

import collections

import numpy as np

from transformer_kit.data.sequence_length import EPOCH_TOKEN_BUDGET, choose_sequence_length

__all__ = ["EPOCH_TOKEN_BUDGET", "build_data_report", "choose_sequence_length"]

# Thresholds for the warnings in the report; chosen to flag real problems on
# the bundled datasets without firing on every healthy one.
_IMBALANCE_WARNING = 10.0
_TRUNCATION_WARNING = 0.05
_SMALL_CLASS_WARNING = 10
def build_data_report(train, validation=None, test=None, token_lengths=None, sequence_length=None):
    """Summarize the splits as a JSON-serializable dict.

    Args:
        train: `TextDataset`. The training rows.
        validation: `TextDataset` or `None`.
        test: `TextDataset` or `None`.
        token_lengths: sequence of int or `None`. Untruncated token counts of
            the training texts (e.g. from `vectorize_texts`).
        sequence_length: int or `None`. The length used; when `None` and
            `token_lengths` is given, `choose_sequence_length` picks it.

    Returns:
        dict with keys `"splits"` (per split: `source`, `rows`, `dropped`,
        `classes` {label: rows}, `num_classes`, `imbalance_ratio` (largest /
        smallest class), `duplicate_texts` (rows whose text already occurred
        earlier in the same split), `conflicting_duplicates` (distinct texts
        that occur with more than one label), `read_as` (notes on how the
        files were read: a detected encoding, a sniffed delimiter, a folder
        layout, joined text columns; see `TextDataset.notes`)), `"overlap"` (`train_validation`
        and `train_test`: rows of that split whose text also occurs in
        train), `"token_lengths"` (p50, p90, p95, p99, max, mean),
        `"sequence_length"`, `"truncated_fraction"` (share of training texts
        longer than it) and `"warnings"` (list of sentences).

    Example:

    >>> from transformer_kit.data import load_csv_dataset
    >>> train = load_csv_dataset(pd.DataFrame({
    ...     "text": ["a good film", "bad", "a good film", "awful, just awful", None],
    ...     "label": ["pos", "neg", "pos", "neg", "pos"]}))
    >>> test = load_csv_dataset(pd.DataFrame({"text": ["bad", "fine"], "label": ["neg", "pos"]}))
    >>> report = build_data_report(train, test=test, token_lengths=[len(t.split()) for t in train.texts])
    >>> report["splits"]["train"]["dropped"], report["overlap"], report["sequence_length"]
    ({'missing_text': 1}, {'train_test': 1}, 16)
    >>> report["warnings"][1]
    '1 test row has a text that is also in train; test scores will be optimistic.'
    """
    splits = {"train": train, "validation": validation, "test": test}
    splits = {name: split for name, split in splits.items() if split is not None}
    report = {"splits": {name: _describe_split(split) for name, split in splits.items()}}

    train_texts = set(train.texts)
    report["overlap"] = {
        f"train_{name}": sum(text in train_texts for text in split.texts)
        for name, split in splits.items()
        if name != "train"
    }

    report.update(_length_section(token_lengths, sequence_length))
    report["warnings"] = _warnings(report)
    return report


def _length_section(token_lengths, sequence_length):
    """The report's `token_lengths`, `truncated_fraction` and `sequence_length` entries (those known)."""
    section = {}
    if token_lengths is not None and len(token_lengths):
        lengths = np.asarray(list(token_lengths))
        section["token_lengths"] = {
            **{f"p{p}": float(np.percentile(lengths, p)) for p in (50, 90, 95, 99)},
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 2),
        }
        if sequence_length is None:
            sequence_length = choose_sequence_length(lengths)
        section["truncated_fraction"] = round(float(np.mean(lengths > sequence_length)), 4)
    if sequence_length is not None:
        section["sequence_length"] = int(sequence_length)
    return section


def _describe_split(split):
    labels = split.labels or []
    if labels and isinstance(labels[0], tuple):
        return _describe_label_sets(split)
    return _split_summary(split, labels, collections.Counter(labels))


def _split_summary(split, row_labels, counts):
    """What every split reports: rows, drops, classes and their balance, duplicates, how it was read.

    Args:
        split: a `TextDataset`.
        row_labels: each row's label (a class name, or a tuple of them).
        counts: rows per class name.
    """
    text_labels = collections.defaultdict(set)
    for text, label in zip(split.texts, row_labels):
        text_labels[text].add(label)
    return {
        "source": str(split.source),
        "rows": len(split.texts),
        "dropped": {k: int(v) for k, v in split.dropped.items()},
        "classes": {label: int(n) for label, n in sorted(counts.items())},
        "num_classes": len(counts),
        "imbalance_ratio": round(max(counts.values()) / min(counts.values()), 3) if counts else None,
        "duplicate_texts": len(split.texts) - len(set(split.texts)),
        "conflicting_duplicates": sum(len(s) > 1 for s in text_labels.values()),
        # How the files were read (detected encoding, sniffed delimiter, folder, joined columns).
        "read_as": list(getattr(split, "notes", [])),
    }


def _describe_label_sets(split):
    """`_describe_split` for multi-label rows: per label the rows carrying it, plus the label sets."""
    label_sets = split.labels
    counts = collections.Counter(name for labels in label_sets for name in labels)
    pairs = collections.Counter(
        (first, second) for labels in label_sets for i, first in enumerate(labels) for second in labels[i + 1 :]
    )
    rows = len(label_sets)
    return {
        **_split_summary(split, label_sets, counts),
        "label_sets": {
            "rows_without_labels": sum(not labels for labels in label_sets),
            "rows_with_several_labels": sum(len(labels) > 1 for labels in label_sets),
            "label_cardinality": round(sum(map(len, label_sets)) / rows, 4) if rows else 0.0,
            "top_pairs": [[a, b, n] for (a, b), n in pairs.most_common(_TOP_PAIRS)],
            # Too few positive rows to learn from (their scores will be unreliable).
            "rare_labels": sorted(name for name, n in counts.items() if n < _SMALL_CLASS_WARNING),
        },
    }


_TOP_PAIRS = 5
# A single-label class name containing this suggests a multi-label column.
_LABEL_SEPARATOR = "|"


def _warnings(report):
    splits = report["splits"]
    train = splits["train"]
    warnings = []
    if train["imbalance_ratio"] and train["imbalance_ratio"] >= _IMBALANCE_WARNING:
        warnings.append(
            f"Training classes are imbalanced ({train['imbalance_ratio']:.0f}:1); "
            "watch macro-F1 and per-class recall, not just accuracy."
        )
    small = [c for c, n in train["classes"].items() if n < _SMALL_CLASS_WARNING]
    if small:
        warnings.append(
            f"Classes with fewer than {_SMALL_CLASS_WARNING} training rows: "
            f"{', '.join(small)}. Their scores will be unreliable."
        )
    if "label_sets" not in train:
        joined = [c for c in train["classes"] if _LABEL_SEPARATOR in c]
        if joined:
            rows = sum(train["classes"][c] for c in joined)
            warnings.append(
                f"{rows} training rows have labels containing {_LABEL_SEPARATOR!r} (e.g. {joined[0]!r}), each "
                "counted as one class; if a text can carry several labels, train with --multi-label "
                "(TextClassifier(multi_label=True))."
            )
    elif train["label_sets"]["rows_without_labels"]:
        warnings.append(
            f"{train['label_sets']['rows_without_labels']} training rows carry no label (an empty label "
            "cell means none of the labels in multi-label mode)."
        )
    for name, info in splits.items():
        missing = sorted(set(info["classes"]) - set(train["classes"]))
        if name != "train" and missing:
            warnings.append(f"{name} has classes that are not in train: {', '.join(missing)}.")
    for key, count in report["overlap"].items():
        if count:
            name = key.split("_", 1)[1]
            rows = f"{count} {name} row has" if count == 1 else f"{count} {name} rows have"
            warnings.append(f"{rows} a text that is also in train; {name} scores will be optimistic.")
    if train["conflicting_duplicates"]:
        warnings.append(
            f"{train['conflicting_duplicates']} training texts occur with "
            "different labels."
        )
    if report.get("truncated_fraction", 0) > _TRUNCATION_WARNING:
        warnings.append(
            f"{report['truncated_fraction']:.0%} of training texts are longer than "
            f"the sequence length {report['sequence_length']} and get truncated "
            "(the n-gram model still reads them whole); set sequence_length "
            "(--sequence-length) to keep more, at a higher training cost."
        )
    return warnings
