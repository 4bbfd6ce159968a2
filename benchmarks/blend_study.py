"""Blend-weight policies compared on saved member probabilities (issue 23's cheap proxy).

`save` fits the default preset once per dataset and sample, and saves each
transformer's probabilities on every training and test text, the rows each
one held out, and the n-gram branch's test probabilities. `compare` then
tries blend-weight policies on them in seconds: the weight chosen on
transformer 1's held-out split (the old default), on every member's
held-out rows pooled, each scored by an n-gram model that did not see it (the new
default: the n-gram model alone unless the lowest-log-loss blend beats it
by more than one standard error there), and the best weight on test (an
upper bound no policy can know).

`features` measures the n-gram branch's feature choice (`ngram_features`):
it fits the default once (`"auto"`: the features of lowest held-out
log-loss), then, on the same transformers, rebuilds the branch as it was
before (TF-IDF 1-2-grams, its weight chosen the same way) and scores both on
test, beside TF-IDF + LR and NBSVM fitted on the same split.

Usage:

    python benchmarks/blend_study.py save --dataset imdb --max-train 200 --max-test 5000 --seed 0 --out /tmp/blend
    python benchmarks/blend_study.py compare /tmp/blend/*.npz
    python benchmarks/blend_study.py features --dataset sst2 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def save(args):
    from benchmarks.datasets import default_data_root, load_dataset
    from transformer_kit import TextClassifier
    from transformer_kit.blending import validation_split
    from transformer_kit.inference import CompiledScorer, build_inference_model, members_of, ngram_of, preprocessor_of
    from transformer_kit.layers.probability_blend import as_class_probabilities

    data = load_dataset(args.dataset, args.data_root or default_data_root(), seed=args.seed,
                        max_train=args.max_train, max_test=args.max_test)
    classifier = TextClassifier(seed=args.seed, verbose=0)
    began = time.monotonic()
    classifier.fit((data.train_texts, data.train_labels))
    seconds = time.monotonic() - began
    model, cfg = classifier.model_, classifier.training_config_
    classes = list(classifier.classes_)
    train_ids = np.array([classes.index(label) for label in data.train_labels])
    test_ids = np.array([classes.index(label) for label in data.test_labels])
    members, preprocessor = members_of(model), preprocessor_of(model)
    member_train, member_test, held_out = [], [], []
    for index, member in enumerate(members):
        scorer = CompiledScorer(build_inference_model(preprocessor, [member]))
        member_train.append(scorer(data.train_texts))
        member_test.append(scorer(data.test_texts))
        mask = np.zeros(len(train_ids), bool)
        mask[validation_split(data.train_labels, cfg, cfg.seed + index)[1]] = True
        held_out.append(mask)
    # What choosing the weight costs, old way and new, on this machine now (both fit n-gram models).
    from transformer_kit import blending

    fitter = blending.NgramFitter(len(classes), preprocessor.split_mode, cfg, classes=classes)
    began = time.monotonic()
    old_weight = blending.held_out_ngram_weight(preprocessor, members[0], data.train_texts, train_ids,
                                                data.train_labels, fitter)[0]
    old_seconds = time.monotonic() - began
    began = time.monotonic()
    blending.pooled_ngram_weight(preprocessor, members, data.train_texts, train_ids, data.train_labels, fitter)
    new_seconds = time.monotonic() - began
    ngram = ngram_of(model)
    ngram_test = np.asarray(as_class_probabilities(ngram(np.array(data.test_texts, dtype=object))))
    name = f"{args.dataset}_{args.max_train or 'all'}_seed{args.seed}"
    np.savez_compressed(
        Path(args.out) / f"{name}.npz", train_ids=train_ids, test_ids=test_ids, member_train=np.array(member_train),
        member_test=np.array(member_test), held_out=np.array(held_out), ngram_test=ngram_test,
        train_texts=np.array(data.train_texts, dtype=object), split=preprocessor.split_mode,
        num_classes=len(classes), fit_seconds=seconds, old_choice_seconds=old_seconds,
        new_choice_seconds=new_seconds, old_weight=old_weight, weights=np.array(classifier.model_.get_layer(
            "probabilities").blend_weights), seed=args.seed,
    )
    score = classifier.score(data.test_texts, data.test_labels)
    print(f"{name}: fit {seconds:.0f} s, test accuracy {score:.4f}; choosing the weight: {old_seconds:.1f} s on "
          f"transformer 1's split, {new_seconds:.1f} s pooled")


def accuracy(probabilities, ids):
    return float((probabilities.argmax(axis=1) == ids).mean())


def pooled_ngram_probabilities(saved, rows):
    """The n-gram model's probabilities on each member's held-out rows, as `blending.pooled_ngram_weight`
    computes them: out of fold below `CROSS_VALIDATION_BELOW` pooled rows, else from one fit without them."""
    from transformer_kit.blending import CROSS_VALIDATION_BELOW
    from transformer_kit.layers.probability_blend import as_class_probabilities
    from transformer_kit.ngram import cross_validated_ngram_probabilities, fit_ngram_classifier

    ids, texts = saved["train_ids"], list(saved["train_texts"])
    split, k, seed = str(saved["split"]), int(saved["num_classes"]), int(saved["seed"])
    pooled = np.unique(np.concatenate(rows))
    if sum(len(r) for r in rows) < CROSS_VALIDATION_BELOW:
        probabilities = cross_validated_ngram_probabilities(texts, ids, k, split=split, seed=seed)
    else:
        rest = np.setdiff1d(np.arange(len(ids)), pooled)
        model = fit_ngram_classifier([texts[i] for i in rest], ids[rest], k, split=split, seed=seed)
        probabilities = np.zeros((len(ids), k))
        probabilities[pooled] = np.asarray(as_class_probabilities(model(np.array([texts[i] for i in pooled],
                                                                                 object))))
    return [probabilities[r] for r in rows]


def compare(args):
    from transformer_kit.ngram import choose_ngram_weight

    print("| Set | Pooled rows | n-gram alone | Transformer 1's split (old default): weight, accuracy "
          "| Pooled, lowest log-loss | Pooled, n-gram alone unless beaten beyond one SE (new default) "
          "| Best weight on test |")
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        saved = np.load(path, allow_pickle=True)
        ids, test_ids, held_out = saved["train_ids"], saved["test_ids"], saved["held_out"]
        member_train, ngram_test = saved["member_train"], saved["ngram_test"]
        transformers_test = saved["member_test"].mean(axis=0)
        rows = [np.flatnonzero(mask) for mask in held_out]
        ngram_parts = pooled_ngram_probabilities(saved, rows)

        def test_accuracy(weight, transformers_test=transformers_test, ngram_test=ngram_test, test_ids=test_ids):
            return accuracy((1 - weight) * transformers_test + weight * ngram_test, test_ids)

        # The old default's own choice, recorded by `save`; files saved before it was recorded
        # approximate it with the pooled path's n-gram probabilities on transformer 1's rows.
        old = (float(saved["old_weight"]) if "old_weight" in saved else
               choose_ngram_weight(member_train[0][rows[0]], ngram_parts[0], ids[rows[0]]))
        pooled = (np.concatenate([member_train[m][r] for m, r in enumerate(rows)]), np.concatenate(ngram_parts),
                  np.concatenate([ids[r] for r in rows]))
        lowest = choose_ngram_weight(*pooled)
        gated = choose_ngram_weight(*pooled, one_standard_error=True)
        grid = np.round(np.arange(0, 1.0001, 0.05), 2)
        best = max(grid, key=test_accuracy)
        cells = [f"{w:.2f}, {test_accuracy(w):.4f}" for w in (old, lowest, gated, best)]
        print(f"| {Path(path).stem} | {len(pooled[2])} | {test_accuracy(1.0):.4f} | " + " | ".join(cells) + " |",
              flush=True)


def features(args):
    """Print one markdown row: the default with `ngram_features="auto"` and as before, and the baselines."""
    import dataclasses

    from benchmarks.datasets import default_data_root, load_dataset
    from benchmarks.systems.nbsvm import NaiveBayesLogisticRegression
    from benchmarks.systems.tfidf_lr import TfidfLogisticRegression
    from transformer_kit import TextClassifier, blending
    from transformer_kit.inference import (
        CompiledScorer,
        blend_weights_of,
        build_inference_model,
        members_of,
        preprocessor_of,
    )

    data = load_dataset(args.dataset, args.data_root or default_data_root(), seed=args.seed,
                        max_train=args.max_train, max_test=args.max_test)
    classifier = TextClassifier(seed=args.seed, verbose=0)
    began = time.monotonic()
    classifier.fit((data.train_texts, data.train_labels))
    seconds = time.monotonic() - began
    model, classes = classifier.model_, list(classifier.classes_)
    train_ids = np.array([classes.index(label) for label in data.train_labels])
    test_ids = np.array([classes.index(label) for label in data.test_labels])
    after = accuracy(CompiledScorer(model)(data.test_texts), test_ids)
    branch = classifier.data_report_["ngram_branch"]
    # Before: the same transformers; the n-gram branch on TF-IDF 1-2-grams, weighted as the default does.
    members, preprocessor = members_of(model), preprocessor_of(model)
    cfg = dataclasses.replace(classifier.training_config_, ngram_features="tfidf-1-2")
    fitter = blending.NgramFitter(len(classes), preprocessor.split_mode, cfg, classes=classes)
    weight, warm_start = blending.pooled_ngram_weight(preprocessor, members, data.train_texts, train_ids,
                                                      data.train_labels, fitter)
    ngram = fitter.fit(data.train_texts, train_ids, warm_start)
    before_model = build_inference_model(preprocessor, members, ngram, blending.blend_weights(len(members), weight))
    before = accuracy(CompiledScorer(before_model)(data.test_texts), test_ids)
    baselines = []
    for system in (TfidfLogisticRegression, NaiveBayesLogisticRegression):
        baseline = system(data.spec.language, args.seed)
        baseline.fit(data.train_texts, data.train_labels)
        baselines.append(float(np.mean(np.array(baseline.predict(data.test_texts)) == np.array(data.test_labels))))
    losses = ", ".join(f"{name} {loss:.4f}" for name, loss in branch.get("held_out_log_loss", {}).items())
    after_weight = blend_weights_of(model)[-1]
    print(f"| {args.dataset} {args.max_train or 'all'} seed {args.seed} | {weight:.2f}, {before:.4f} "
          f"| {branch['features']}, {after_weight:.2f}, {after:.4f} | {losses} | {baselines[0]:.4f} "
          f"| {baselines[1]:.4f} | {seconds:.0f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    saving = commands.add_parser("save")
    saving.add_argument("--dataset", required=True)
    saving.add_argument("--max-train", type=int)
    saving.add_argument("--max-test", type=int)
    saving.add_argument("--seed", type=int, default=0)
    saving.add_argument("--data-root")
    saving.add_argument("--out", default="/tmp/blend")
    comparing = commands.add_parser("compare")
    comparing.add_argument("files", nargs="+")
    choosing = commands.add_parser("features")
    choosing.add_argument("--dataset", required=True)
    choosing.add_argument("--max-train", type=int)
    choosing.add_argument("--max-test", type=int)
    choosing.add_argument("--seed", type=int, default=0)
    choosing.add_argument("--data-root")
    args = parser.parse_args(argv)
    {"save": save, "compare": compare, "features": features}[args.command](args)


if __name__ == "__main__":
    main()
