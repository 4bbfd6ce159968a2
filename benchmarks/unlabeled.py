"""What word vectors learned from unlabeled text buy (issue 13), in one run.

1. Learn vectors with `transformer-kit vectors` (timed; labels never read):
   - English: the 50k IMDB review texts, for SST-2, TREC, AG News 10k and SMS spam;
   - Chinese: ChnSentiCorp train + dev and TNEWS train (the two test splits left out),
     for ChnSentiCorp and TNEWS;
   - IMDB low labels: the 25k IMDB training reviews only (the test reviews stay unseen).
2. Run `run_benchmarks.py` on each group with TF-IDF + LR, fastText, and transformer_kit's
   default and single presets without and with the vectors (`transformer_kit_vectors`,
   `transformer_kit_single_vectors`), the default with its n-gram model self-trained on the
   same unlabeled texts (`transformer_kit_self_trained`), and both together
   (`transformer_kit_unlabeled`, what `train --unlabeled` does): same shuffled splits, same
   seeds, one table.

Usage (from the repository root, `pip install -e ".[bench,vectors]"`):

    python benchmarks/unlabeled.py --output-dir benchmarks/unlabeled

writes `corpus_<corpus>.csv.gz` (the texts alone), `vectors_<corpus>/`, `results_<group>.json`
and `RESULTS_<group>.md` there, and `timings.json` (seconds spent learning each set of vectors).
`--quick` runs a small subset; `--systems` some of the rows, and `--tag` adds a suffix to the
result files' names (so a run of some rows keeps the others' files). `--vector-workers 1` learns
repeatable vectors (into `vectors_<corpus>_workers1/`), taking about 1.5 times as long on 2 cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ first on sys.path; the package needs the repository root.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.datasets import default_data_root  # noqa: E402

BASELINES = ["tfidf_lr", "fasttext"]
OURS = ["transformer_kit", "transformer_kit_vectors", "transformer_kit_single", "transformer_kit_single_vectors",
        "transformer_kit_self_trained", "transformer_kit_unlabeled"]

# group -> (vector corpus name, datasets, extra run_benchmarks arguments)
GROUPS = {
    "en": ("imdb_all", ["sst2", "trec", "ag_news", "sms_spam"], []),
    "zh": ("zh", ["chnsenticorp", "tnews"], []),
    "imdb_200": ("imdb_train", ["imdb"], ["--max-train", "200", "--max-test", "5000"]),
    "imdb_1000": ("imdb_train", ["imdb"], ["--max-train", "1000", "--max-test", "5000"]),
}
CORPORA = {
    "imdb_all": ["en/imdb_train.csv.gz", "en/imdb_test.csv.gz"],
    "imdb_train": ["en/imdb_train.csv.gz"],
    "zh": ["zh/chnsenticorp_train.csv", "zh/chnsenticorp_dev.csv", "zh/tnews_train.csv"],
}


def texts_only(corpus, data_root, out_dir):
    """The corpus files without their label column, so neither vectors nor self-training see labels."""
    path = out_dir / f"corpus_{corpus}.csv.gz"
    if not path.exists():
        files = [data_root / name for name in CORPORA[corpus]]
        frames = [pd.read_csv(file, dtype=str, keep_default_na=False, usecols=["text"]) for file in files]
        with gzip.open(path, "wt", encoding="utf-8") as out:
            pd.concat(frames).to_csv(out, index=False)
    return path


def vectors_name(corpus, workers):
    """`vectors_<corpus>`, or `vectors_<corpus>_workers<N>` when the threads were set (1: repeatable vectors)."""
    return f"vectors_{corpus}" + (f"_workers{workers}" if workers else "")


def learn_vectors(corpus, texts, out_dir, quick, workers=None):
    """`(vectors directory, seconds spent learning them now)`; `None` seconds when they were already there."""
    target = out_dir / vectors_name(corpus, workers)
    if (target / "manifest.json").exists():
        return target, None
    command = [sys.executable, "-m", "transformer_kit", "vectors", str(texts), "--output", str(target),
               "--overwrite"] + (["--epochs", "1"] if quick else []) + (["--workers", str(workers)] if workers else [])
    began = time.monotonic()
    subprocess.run(command, check=True, cwd=REPO_ROOT)
    return target, time.monotonic() - began


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", default="benchmarks/unlabeled")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    parser.add_argument("--quick", action="store_true", help="1 vector epoch, 600 training and 300 test texts.")
    parser.add_argument("--systems", nargs="+", default=BASELINES + OURS, choices=BASELINES + OURS)
    parser.add_argument("--tag", default="", help="Suffix of the result files' names.")
    parser.add_argument("--vector-workers", type=int, default=None,
                        help="Threads learning the vectors (default: every core); 1 makes them repeatable.")
    args = parser.parse_args(argv)
    data_root = Path(args.data_root) if args.data_root else default_data_root()
    out_dir = Path(args.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Seconds spent learning each corpus's vectors (the whole `transformer-kit vectors` command);
    # a run of some groups keeps the other corpora's timings from earlier runs.
    timings_file = out_dir / "timings.json"
    for group in args.groups:
        corpus, datasets, extra = GROUPS[group]
        texts = texts_only(corpus, data_root, out_dir)
        vectors, seconds = learn_vectors(corpus, texts, out_dir, args.quick, args.vector_workers)
        if seconds is not None:  # vectors reused from an earlier run keep that run's timing
            # Read again just before writing: another run may have added its corpus meanwhile.
            timings = json.loads(timings_file.read_text()) if timings_file.exists() else {}
            timings[vectors.name.removeprefix("vectors_")] = round(seconds, 1)
            timings_file.write_text(json.dumps(timings, indent=2) + "\n")
        options = {name: {"word_vectors": str(vectors.resolve())} for name in OURS
                   if name.endswith("_vectors") or name == "transformer_kit_unlabeled"}
        for name in ("transformer_kit_self_trained", "transformer_kit_unlabeled"):
            options.setdefault(name, {})["unlabeled"] = str(texts.resolve())
        quick = ["--max-train", "600", "--max-test", "300"] if args.quick and not extra else []
        command = [
            sys.executable, "benchmarks/run_benchmarks.py", "--datasets", *datasets,
            "--systems", *args.systems, "--system-options", json.dumps(options),
            "--data-root", str(data_root), *extra, *quick,
            "--output", str(out_dir / f"results_{group}{args.tag}.json"),
            "--markdown", str(out_dir / f"RESULTS_{group}{args.tag}.md"),
        ]
        subprocess.run(command, check=True, cwd=REPO_ROOT)


if __name__ == "__main__":
    main()
