"""Data report: what is in each split, and what might go wrong in training.

Written as JSON next to every run and printed by the CLI, so problems such as
a tiny class, duplicated or leaked test texts, or a sequence length that cuts
most texts are visible before anyone reads an accuracy number.
"""

import collections
import math

import numpy as np

# Thresholds for the warnings in the report; chosen to flag real problems on
# the bundled datasets without firing on every healthy one.
_IMBALANCE_WARNING = 10.0
_TRUNCATION_WARNING = 0.05
_SMALL_CLASS_WARNING = 10
# See `choose_sequence_length`: the automatic length keeps an epoch within
# about this many tokens, but never goes below _MIN_BUDGET_LENGTH for it.
EPOCH_TOKEN_BUDGET = 3_000_000
_MIN_BUDGET_LENGTH = 128


def choose_sequence_length(
    token_lengths,
    percentile=95,
    multiple_of=8,
    minimum=16,
    maximum=512,
    tokens_per_epoch=EPOCH_TOKEN_BUDGET,
    num_texts=None,
):
    """Pick a sequence length that fits most texts without padding for outliers.

    This is the one statement of the rule; other docs refer here. It is used
    when the `sequence_length` setting is `None` (the default); a length set
    explicitly is used as given. From the untruncated token counts of the
    training texts:

    1. take their `percentile`-th percentile (95th; NumPy's linear
       interpolation), rounded up to a whole number of tokens and then up to a multiple of `multiple_of` (8);
    2. cap it at `maximum` (512): attention cost grows with the square of
       the length, so long outliers are truncated instead;
    3. for a large corpus, also cap it at the epoch budget,
       `tokens_per_epoch // num_texts` (3,000,000 tokens per epoch) rounded
       down to a multiple of `multiple_of`, but never cap it below 128 this
       way. Training cost grows with texts x length: 25,000 IMDB reviews
       train on their first 128 tokens instead of 512, about 4x faster,
       while the default blend's n-gram model still reads every word;
    4. raise it to at least `minimum` (16). With no texts, the result is
       `minimum`.

    Args:
        token_lengths: sequence of int. Token counts of the training texts
            (or of a sample of them), before truncation.
        percentile: float, default 95. Share of texts that should fit whole.
        multiple_of: int, default 8. Round up to a multiple of this, which
            suits accelerators and the dynamic padding in `make_token_dataset`.
        minimum: int, default 16.
        maximum: int, default 512.
        tokens_per_epoch: int or `None`, default 3,000,000. The epoch budget
            of step 3; `None` for no such cap.
        num_texts: int or `None`. Number of training texts, when
            `token_lengths` is only a sample of them (streaming); by default
            `len(token_lengths)`.

    Returns:
        int in `[minimum, maximum]`.

    Example:

    >>> choose_sequence_length([10] * 90 + [100] * 10, percentile=90)  # 19 -> 24
    24
    >>> choose_sequence_length([10] * 90 + [100] * 10)
    104
    >>> choose_sequence_length([400] * 25000)  # budget: 3,000,000 // 25,000 = 120 -> 128
    128
    >>> choose_sequence_length([400] * 1000, num_texts=100_000)  # a sample; never below 128
    128
    >>> choose_sequence_length([900] * 10)
    512
    """
    lengths = np.asarray(list(token_lengths), dtype=np.float64)
    if lengths.size == 0:
        return int(minimum)
    length = math.ceil(np.percentile(lengths, percentile))
    length = math.ceil(length / multiple_of) * multiple_of
    if tokens_per_epoch:
        num_texts = num_texts or lengths.size
        budget = tokens_per_epoch // num_texts // multiple_of * multiple_of
        maximum = min(maximum, max(budget, _MIN_BUDGET_LENGTH))
    return int(min(max(length, minimum), maximum))


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
    >>> print(format_data_report(report))
    Data report
    <BLANKLINE>
    split           rows  dropped  classes  imbalance  duplicates
    -------------------------------------------------------------
    train              4        1        2        1.0           1
    test               2        0        2        1.0           0
    ...
    Warnings:
      - Classes with fewer than 10 training rows: neg, pos. Their scores will be unreliable.
      - 1 test row has a text that is also in train; test scores will be optimistic.
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

    if token_lengths is not None and len(token_lengths):
        lengths = np.asarray(list(token_lengths))
        report["token_lengths"] = {
            **{f"p{p}": float(np.percentile(lengths, p)) for p in (50, 90, 95, 99)},
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 2),
        }
        if sequence_length is None:
            sequence_length = choose_sequence_length(lengths)
        report["truncated_fraction"] = round(float(np.mean(lengths > sequence_length)), 4)
    if sequence_length is not None:
        report["sequence_length"] = int(sequence_length)
    report["warnings"] = _warnings(report)
    return report


def format_data_report(report):
    """Render `build_data_report`'s dict as a readable text table.

    Args:
        report: dict from `build_data_report`.

    Returns:
        str, several lines, no trailing newline.
    """
    splits = report["splits"]
    names = list(splits)
    lines = ["Data report", ""]
    header = f"{'split':<12}{'rows':>8}{'dropped':>9}{'classes':>9}{'imbalance':>11}{'duplicates':>12}"
    lines += [header, "-" * len(header)]
    for name, info in splits.items():
        ratio = info["imbalance_ratio"]
        lines.append(
            f"{name:<12}{info['rows']:>8}{sum(info['dropped'].values()):>9}"
            f"{info['num_classes']:>9}{(f'{ratio:.1f}' if ratio else '-'):>11}"
            f"{info['duplicate_texts']:>12}"
        )

    classes = sorted({c for info in splits.values() for c in info["classes"]})
    if classes:
        width = max(12, max(len(c) for c in classes) + 2)
        lines += ["", f"{'class':<{width}}" + "".join(f"{n:>18}" for n in names)]
        for label in classes:
            cells = []
            for name in names:
                count = splits[name]["classes"].get(label, 0)
                share = count / splits[name]["rows"] if splits[name]["rows"] else 0
                cells.append(f"{count:>9} ({share:6.1%})")
            lines.append(f"{label:<{width}}" + "".join(f"{c:>18}" for c in cells))

    for name, info in splits.items():
        for note in info.get("read_as", []):
            lines.append(f"Read {name}: {note}")
        if "label_sets" in info:
            sets = info["label_sets"]
            pairs = ", ".join(f"{a}+{b} {n}" for a, b, n in sets["top_pairs"]) or "none"
            lines.append(
                f"Label sets ({name}): {sets['label_cardinality']:.2f} labels per text, "
                f"{sets['rows_with_several_labels']} rows with several, {sets['rows_without_labels']} with none; "
                f"most frequent pairs: {pairs}"
            )
    for name, info in splits.items():
        if info["dropped"]:
            reasons = ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in info["dropped"].items())
            lines.append(f"Dropped from {name}: {reasons}")

    if report["overlap"]:
        lines.append("")
        lines += [
            f"Texts also in train: {key.split('_', 1)[1]} {count}"
            for key, count in report["overlap"].items()
        ]
    if "token_lengths" in report:
        stats = report["token_lengths"]
        lines += [
            "",
            "Token lengths (train): "
            + ", ".join(f"{k} {v:g}" for k, v in stats.items()),
        ]
    if "sequence_length" in report:
        line = f"Sequence length: {report['sequence_length']}"
        if "truncated_fraction" in report:
            line += f" ({report['truncated_fraction']:.1%} of training texts truncated)"
        lines.append(line)
    if "word_vectors" in report:
        vectors = report["word_vectors"]
        line = (f"Word vectors: {vectors['source']} cover {vectors['words_covered']} of "
                f"{vectors['vocabulary_size']} vocabulary words ({vectors['share_of_vocabulary']:.0%})")
        if vectors.get("words_from_subwords"):
            line += f"; {vectors['words_from_subwords']} more from subwords"
        lines.append(line + f" (sha256 {vectors['sha256'][:12]}...)")
    if "distillation" in report:  # written by transformer_kit.distillation once the student is trained
        distilled, counts = report["distillation"], report["distillation"]["texts_labelled_by_teacher"]
        teacher = distilled["teacher"]
        agreed = ", ".join(f"{share['agreement']:.1%} of {share['texts']} {name} texts"
                           for name, share in distilled["agreement"].items()) or distilled.get("agreement_note", "-")
        classes = ", ".join(teacher["classes"])
        lines += ["", f"Distilled from: {teacher['kind']} {teacher['where']} (classes {classes}); "
                  f"it labelled {counts['labelled']} training and {counts['unlabeled']} unlabeled texts "
                  f"(temperature {distilled['distill_temperature']:g}, true-label weight "
                  f"{distilled['true_label_weight']:g})", f"Agreement with the teacher: {agreed}"]
    if report["warnings"]:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in report["warnings"]]
    return "\n".join(lines)


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
