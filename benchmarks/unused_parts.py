"""Serving speed with and without the blend's parts of weight 0 (`without_unused_parts`).

Fits the default preset on a dataset, then scores the test texts with the
whole inference model (every transformer computed, as before this change) and
with the view that `predict_proba` and the SavedModel now run (parts of blend
weight 0 left out). Both are `CompiledScorer`s of the same fitted layers,
measured in turns (best of `--rounds`), so the ratio is of the graphs alone.
Also checks that the two give the same probabilities.

Usage:
    python benchmarks/unused_parts.py --dataset imdb --max-train 1000 --max-test 2000 --data-root ../shared/data
    python benchmarks/unused_parts.py --dataset trec --data-root ../shared/data

Prints one JSON line per dataset and appends it to `--output`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.datasets import DATASETS, default_data_root, load_dataset  # noqa: E402
from benchmarks.measure import speed_in_turns  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--output", default="benchmarks/results_unused_parts.jsonl")
    args = parser.parse_args(argv)

    from transformer_kit import TextClassifier
    from transformer_kit.inference import CompiledScorer, without_unused_parts
    from transformer_kit.saving import run_record

    data = load_dataset(args.dataset, args.data_root or default_data_root(), seed=args.seed,
                        max_train=args.max_train, max_test=args.max_test)
    start = time.perf_counter()
    classifier = TextClassifier(seed=args.seed, verbose=0).fit(data.train_texts, data.train_labels)
    fit_s = time.perf_counter() - start
    whole, served = classifier.model_, without_unused_parts(classifier.model_)
    scorers = {"whole model": CompiledScorer(whole), "without parts of weight 0": CompiledScorer(served)}
    texts = list(data.test_texts)
    difference = float(np.abs(scorers["whole model"](texts) - scorers["without parts of weight 0"](texts)).max())
    speed = speed_in_turns(scorers, texts, args.rounds)
    record = run_record(classifier)
    accuracy = float(np.mean(classifier.predict(texts) == np.asarray(data.test_labels)))
    row = {
        "dataset": args.dataset, "train_texts": len(data.train_texts), "test_texts": len(texts), "seed": args.seed,
        "blend_weights": [round(w, 4) for w in record["blend_weights"]],
        "ngram_features": record["ngram_features"],
        "accuracy": round(accuracy, 4), "fit_s": round(fit_s, 1),
        "max_probability_difference": difference,
        **{name: {k: round(v, 2) for k, v in values.items()} for name, values in speed.items()},
        "speed_ratio": round(speed["without parts of weight 0"]["texts_per_s"] / speed["whole model"]["texts_per_s"],
                             2),
    }
    print(json.dumps(row), flush=True)
    with open(args.output, "a", encoding="utf-8") as out:
        out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
