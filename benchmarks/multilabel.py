"""Multi-label classification on GoEmotions (issue 15), official train/dev/test split.

Systems, all trained on train, tuned (where they tune anything) on dev, scored once on test:

- `tfidf_ovr_lr`: TF-IDF (1-2-grams, min_df 2, sublinear tf) + one-vs-rest logistic regression
  (C=10), threshold 0.5 for every label;
- `tfidf_ovr_lr_tuned`: the same model, each label's threshold chosen on dev to maximize its F1
  (`transformer_kit.thresholds.choose_thresholds`, as ours);
- `transformer_kit`: `TextClassifier(multi_label=True)` with default settings, dev as validation data
  (early stopping, n-gram blend weight, per-label thresholds);
- `transformer_kit_single`: the same with `preset="single"` (one transformer, no n-grams).

Reported: micro-F1, macro-F1 (over the 28 labels), exact match, training seconds and, for ours,
serving texts/s through the exported SavedModel's `serving_default` in batches of 256.

Usage (from the repository root):

    python benchmarks/multilabel.py --output-dir benchmarks

writes `RESULTS_multilabel.md` and `results_multilabel.json`. `--max-train N` trains on the first N
rows (a quick check), `--systems` picks systems.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ first on sys.path; the package needs the repository root.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.datasets import default_data_root  # noqa: E402
from benchmarks.measure import INFERENCE_BATCH_SIZE, batch_throughput  # noqa: E402

SYSTEMS = ["tfidf_ovr_lr", "tfidf_ovr_lr_tuned", "transformer_kit", "transformer_kit_single"]


def read_split(name, max_rows=None):
    frame = pd.read_csv(default_data_root() / "en" / "multilabel" / f"goemotions_{name}.csv", dtype=str,
                        keep_default_na=False)
    return frame.iloc[:max_rows] if max_rows else frame


def indicator(frame, classes):
    index = {name: i for i, name in enumerate(classes)}
    matrix = np.zeros((len(frame), len(classes)), dtype=int)
    for row, cell in enumerate(frame["labels"]):
        for name in filter(None, cell.split("|")):
            matrix[row, index[name]] = 1
    return matrix


def scores(truth, predicted):
    from sklearn import metrics

    return {
        "micro_f1": float(metrics.f1_score(truth, predicted, average="micro", zero_division=0)),
        "macro_f1": float(metrics.f1_score(truth, predicted, average="macro", zero_division=0)),
        "exact_match": float(metrics.accuracy_score(truth, predicted)),
        "hamming_loss": float(metrics.hamming_loss(truth, predicted)),
    }


def run_baselines(train, dev, test, classes, systems):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from transformer_kit.thresholds import choose_thresholds

    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train["text"])
    model = OneVsRestClassifier(LogisticRegression(C=10, max_iter=2000)).fit(features, indicator(train, classes))
    train_s = time.perf_counter() - start
    test_probabilities = model.predict_proba(vectorizer.transform(test["text"]))
    truth = indicator(test, classes)
    rows = []
    if "tfidf_ovr_lr" in systems:
        rows.append({"system": "tfidf_ovr_lr", "train_s": train_s, **scores(truth, test_probabilities >= 0.5)})
    if "tfidf_ovr_lr_tuned" in systems:
        dev_probabilities = model.predict_proba(vectorizer.transform(dev["text"]))
        thresholds, _ = choose_thresholds(indicator(dev, classes), dev_probabilities)
        rows.append({"system": "tfidf_ovr_lr_tuned", "train_s": train_s,
                     **scores(truth, test_probabilities >= thresholds)})
    return rows


def run_ours(name, train, dev, test, classes, seed):
    import tensorflow as tf

    from transformer_kit import TextClassifier

    preset = "single" if name.endswith("_single") else "default"
    classifier = TextClassifier(preset=preset, multi_label=True, label_column="labels", seed=seed, verbose=0)
    # On a shared machine wall time is inflated: the load average before and after says by how much.
    start, load_start = time.perf_counter(), os.getloadavg()[0]
    classifier.fit(train, validation=dev)
    train_s = time.perf_counter() - start
    load = [round(load_start, 1), round(os.getloadavg()[0], 1)]
    assert list(classifier.classes_) == classes
    predicted = indicator(pd.DataFrame({"labels": ["|".join(p) for p in classifier.predict(test["text"])]}), classes)
    with tempfile.TemporaryDirectory() as folder:
        version_dir = classifier.export(Path(folder) / "model")
        serve = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
        texts = test["text"].tolist()
        throughput = batch_throughput(lambda batch: serve(text=tf.constant(list(batch)))["labels"].numpy(), texts)
    return {
        "system": name, "train_s": train_s, "load_average": load,
        "serve_texts_per_s": throughput,
        **scores(indicator(test, classes), predicted),
        "epochs": len(classifier.history_), "ensemble_size": classifier.training_config_.resolved_ensemble_size(
            len(train)),
        "blend_weights": [round(w, 3) for w in classifier.model_.get_layer("probabilities").blend_weights],
        "thresholds": dict(zip(classes, np.round(classifier.thresholds_, 3).tolist())),
        "dev": {k: classifier.metrics_["validation"][k] for k in ("micro_f1", "macro_f1", "exact_match")},
    }


def markdown(results, machine, command):
    lines = [
        "# Multi-label: GoEmotions (issue 15)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine['cpus']} CPU cores ({machine['platform']}), shared with other jobs while this ran, so "
        "training seconds are inflated and texts/s deflated compared with an idle machine.",
        "",
        f"Data: official split, {machine['rows']['train']} train / {machine['rows']['dev']} dev / "
        f"{machine['rows']['test']} test texts, 28 labels. Scores on test.",
        "",
        "| System | micro-F1 | macro-F1 | exact match | Hamming loss | train s | serving texts/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in results:
        serve = f"{row['serve_texts_per_s']:,.0f}" if "serve_texts_per_s" in row else "-"
        lines.append(f"| {row['system']} | {row['micro_f1']:.3f} | {row['macro_f1']:.3f} | {row['exact_match']:.3f} "
                     f"| {row['hamming_loss']:.4f} | {row['train_s']:.0f} | {serve} |")
    lines += [
        "",
        "Baselines: TF-IDF (1-2-grams, min_df 2, sublinear tf) + one-vs-rest logistic regression (C=10); "
        "`_tuned` chooses each label's threshold on dev to maximize its F1 (labels with fewer than 5 dev "
        "positives share one global threshold), as transformer_kit does. transformer_kit: default settings "
        "with `multi_label=True` and dev as validation data. Serving: the exported SavedModel's "
        f"`serving_default` on the test texts, batches of {INFERENCE_BATCH_SIZE}, one warm-up batch.",
        "",
        "Published for reference (not run here): BERT-base macro-F1 0.46 (Demszky et al., 2020).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default="benchmarks")
    parser.add_argument("--systems", nargs="+", default=SYSTEMS, choices=SYSTEMS)
    parser.add_argument("--max-train", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train, dev, test = read_split("train", args.max_train), read_split("dev"), read_split("test")
    from transformer_kit.data.labels import LabelEncoder

    classes = LabelEncoder.fit({n for cell in train["labels"] for n in cell.split("|") if n}).classes_
    results = run_baselines(train, dev, test, classes, args.systems) if "tfidf_ovr_lr" in " ".join(args.systems) else []
    for row in results:
        print(json.dumps(row), flush=True)
    for name in ("transformer_kit", "transformer_kit_single"):
        if name in args.systems:
            results.append(run_ours(name, train, dev, test, classes, args.seed))
            print(json.dumps(results[-1]), flush=True)
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(),
               "rows": {"train": len(train), "dev": len(dev), "test": len(test)}}
    command = "python benchmarks/multilabel.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.output_dir)
    (out / "results_multilabel.json").write_text(
        json.dumps({"machine": machine, "command": command, "results": results}, indent=2) + "\n")
    (out / "RESULTS_multilabel.md").write_text(markdown(results, machine, command.strip()))
    print(markdown(results, machine, command.strip()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
