"""Peak memory of training in streaming mode, as the CSV grows.

Streaming mode (`TextClassifier(streaming=True)`, `transformer-kit train
--streaming`) should use about the same memory for 100k rows as for 2M: only a
bounded sample, the chunk being read and the shuffle buffer are in memory.
This script writes synthetic keyword CSVs of several sizes, trains one epoch
on each in a fresh child process (so each peak is measured alone) and prints
the child's peak resident memory (`ru_maxrss`).

Usage:
    python benchmarks/streaming_memory.py                       # 100k, 500k, 2M rows
    python benchmarks/streaming_memory.py --rows 100000 --modes streaming,memory
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORDS = "the a film plot actor scene story music ending camera script cast show night day long".split()
KEYWORDS = {"positive": "wonderful", "negative": "dreadful"}


def write_csv(path, rows, seed=0, block=100_000):
    """Synthetic keyword texts (5-30 words), written in blocks to bound memory."""
    rng = np.random.default_rng(seed)
    vocabulary = np.array(WORDS + [f"w{i}" for i in range(5000)])
    labels = np.array(list(KEYWORDS))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("text,label\n")
        for start in range(0, rows, block):
            n = min(block, rows - start)
            label_ids = rng.integers(0, 2, n)
            lengths = rng.integers(5, 30, n)
            words = vocabulary[rng.integers(0, len(vocabulary), lengths.sum())]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            lines = [
                f"{' '.join(words[offsets[i]:offsets[i + 1]])} {KEYWORDS[labels[label_ids[i]]]},"
                f"{labels[label_ids[i]]}\n"
                for i in range(n)
            ]
            handle.writelines(lines)
    return path


def train_child(path, mode, batch_size):
    """Run in the child process: train one epoch, report peak RSS and time."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from transformer_kit.classifier import TextClassifier

    start = time.perf_counter()
    classifier = TextClassifier(
        preset="single", epochs=1, batch_size=batch_size, embed_dim=16, num_heads=2, ff_dim=32,
        streaming=mode == "streaming", verbose=0,
    )
    classifier.fit(path)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    accuracy = classifier.metrics_.get("validation", {}).get("accuracy")
    print("RESULT " + json.dumps({"peak_mib": peak_kib / 1024, "seconds": seconds, "accuracy": accuracy}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,500000,2000000", help="Comma-separated CSV sizes.")
    parser.add_argument("--modes", default="streaming", help="streaming and/or memory (in-memory loading).")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--child", nargs=2, metavar=("CSV", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return train_child(args.child[0], args.child[1], args.batch_size)

    print(f"{'rows':>10} {'CSV MiB':>8} {'mode':>10} {'peak RSS MiB':>13} {'seconds':>8} {'val acc':>8}")
    with tempfile.TemporaryDirectory() as scratch:
        for rows in (int(r) for r in args.rows.split(",")):
            path = write_csv(Path(scratch) / f"synthetic_{rows}.csv", rows)
            size = path.stat().st_size / 2**20
            for mode in args.modes.split(","):
                done = subprocess.run(
                    [sys.executable, __file__, "--child", str(path), mode, "--batch-size", str(args.batch_size)],
                    capture_output=True, text=True,
                )
                if done.returncode != 0:
                    print(f"{rows:>10} {size:>8.1f} {mode:>10} failed: {done.stderr.strip().splitlines()[-1:]}")
                    continue
                result = json.loads(done.stdout.split("RESULT ")[-1])
                accuracy = "-" if result["accuracy"] is None else f"{result['accuracy']:.3f}"
                print(
                    f"{rows:>10} {size:>8.1f} {mode:>10} {result['peak_mib']:>13.0f} "
                    f"{result['seconds']:>8.0f} {accuracy:>8}",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
