"""`format_data_report`: the data report (`build_data_report`'s dict) as the text the CLI prints."""


def format_data_report(report):
    """Render `build_data_report`'s dict as a readable text table.

    Args:
        report: dict from `build_data_report`.

    Returns:
        str, several lines, no trailing newline.

    Example:

    >>> from transformer_kit.data import build_data_report, load_csv_dataset
    >>> train = load_csv_dataset(pd.DataFrame({
    ...     "text": ["a good film", "bad", "a good film", "awful, just awful", None],
    ...     "label": ["pos", "neg", "pos", "neg", "pos"]}))
    >>> test = load_csv_dataset(pd.DataFrame({"text": ["bad", "fine"], "label": ["neg", "pos"]}))
    >>> report = build_data_report(train, test=test, token_lengths=[len(t.split()) for t in train.texts])
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
    splits = report["splits"]
    lines = ["Data report", "", *_split_table(splits), *_class_table(splits), *_split_notes(splits)]
    if report["overlap"]:
        lines.append("")
        lines += [
            f"Texts also in train: {key.split('_', 1)[1]} {count}"
            for key, count in report["overlap"].items()
        ]
    lines += _length_lines(report)
    if "word_vectors" in report:
        lines.append(_word_vectors_line(report["word_vectors"]))
    if "ngram_branch" in report:  # written by transformer_kit.fitting once the n-gram branch is fitted
        lines.append(_ngram_branch_line(report["ngram_branch"]))
    if "distillation" in report:  # written by transformer_kit.distillation once the student is trained
        lines += _distillation_lines(report["distillation"])
    if report["warnings"]:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in report["warnings"]]
    return "\n".join(lines)


def _ngram_branch_line(branch):
    """`N-gram features: nb-1-2 (auto: held-out log-loss tfidf-1-2 0.4123, ...; on ...)`."""
    line = f"N-gram features: {branch['features']} ({branch['ngram_features']}"
    if "held_out_log_loss" in branch:
        losses = ", ".join(f"{name} {loss:.4f}" for name, loss in branch["held_out_log_loss"].items())
        line += f": held-out log-loss {losses}; on {branch['judged_on']}"
        gain = branch.get("best_gain")
        if gain and gain["features"] != gain["over"]:
            noise = "" if gain["standard_error"] is None else f" ± {gain['standard_error']:.4f}"
            line += (f"; {gain['features']} beats {gain['over']} by {gain['mean']:.4f}{noise}, "
                     f"{'more' if branch['features'] == gain['features'] else 'not more'} than one standard error")
    return line + ")"


def _split_table(splits):
    header = f"{'split':<12}{'rows':>8}{'dropped':>9}{'classes':>9}{'imbalance':>11}{'duplicates':>12}"
    lines = [header, "-" * len(header)]
    for name, info in splits.items():
        ratio = info["imbalance_ratio"]
        lines.append(
            f"{name:<12}{info['rows']:>8}{sum(info['dropped'].values()):>9}"
            f"{info['num_classes']:>9}{(f'{ratio:.1f}' if ratio else '-'):>11}"
            f"{info['duplicate_texts']:>12}"
        )
    return lines


def _class_table(splits):
    """Rows (and share) of each class in each split."""
    names = list(splits)
    classes = sorted({c for info in splits.values() for c in info["classes"]})
    if not classes:
        return []
    width = max(12, max(len(c) for c in classes) + 2)
    lines = ["", f"{'class':<{width}}" + "".join(f"{n:>18}" for n in names)]
    for label in classes:
        cells = []
        for name in names:
            count = splits[name]["classes"].get(label, 0)
            share = count / splits[name]["rows"] if splits[name]["rows"] else 0
            cells.append(f"{count:>9} ({share:6.1%})")
        lines.append(f"{label:<{width}}" + "".join(f"{c:>18}" for c in cells))
    return lines


def _split_notes(splits):
    """How each split was read, its label sets, and the rows dropped from it."""
    lines = []
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
    return lines


def _length_lines(report):
    lines = []
    if "token_lengths" in report:
        stats = report["token_lengths"]
        lines += ["", "Token lengths (train): " + ", ".join(f"{k} {v:g}" for k, v in stats.items())]
    if "sequence_length" in report:
        line = f"Sequence length: {report['sequence_length']}"
        if "truncated_fraction" in report:
            line += f" ({report['truncated_fraction']:.1%} of training texts truncated)"
        lines.append(line)
    return lines


def _word_vectors_line(vectors):
    line = (f"Word vectors: {vectors['source']} cover {vectors['words_covered']} of "
            f"{vectors['vocabulary_size']} vocabulary words ({vectors['share_of_vocabulary']:.0%})")
    if vectors.get("words_from_subwords"):
        line += f"; {vectors['words_from_subwords']} more from subwords"
    return line + f" (sha256 {vectors['sha256'][:12]}...)"


def _distillation_lines(distilled):
    counts, teacher = distilled["texts_labelled_by_teacher"], distilled["teacher"]
    agreed = ", ".join(f"{share['agreement']:.1%} of {share['texts']} {name} texts"
                       for name, share in distilled["agreement"].items()) or distilled.get("agreement_note", "-")
    classes = ", ".join(teacher["classes"])
    return ["", f"Distilled from: {teacher['kind']} {teacher['where']} (classes {classes}); "
            f"it labelled {counts['labelled']} training and {counts['unlabeled']} unlabeled texts "
            f"(temperature {distilled['distill_temperature']:g}, true-label weight "
            f"{distilled['true_label_weight']:g})", f"Agreement with the teacher: {agreed}"] + (
        [f"{held_out} unlabeled texts kept from the transformers, to choose the n-gram branch and its weight on"]
        if (held_out := distilled.get("unlabeled_texts_held_out_to_judge_the_blend")) else [])
