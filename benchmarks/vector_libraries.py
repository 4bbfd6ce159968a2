"""gensim's FastText against the fasttext wheel for `transformer-kit vectors` (issue 13), in one run.

Both learn subword skip-gram vectors with the same settings (dim 64, window 5, 5 epochs,
min count 3, character 3–6-grams, 200,000 buckets, 2 threads) on the same corpus, tokenized once
the way the classifier tokenizes it (`transformer_kit.vector_training`). Reported per library:

- seconds and tokens/s of training (tokenizing excluded: it is shared);
- quality: SST-2 test accuracy of a logistic regression on each sentence's mean word vector
  (vectors fixed, the same scikit-learn model for both), and the nearest neighbours of a few words.

Usage (from the repository root, `pip install -e ".[bench,vectors]"`):

    python benchmarks/vector_libraries.py --corpus imdb_train --output benchmarks/unlabeled/vector_libraries.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.datasets import default_data_root, load_dataset  # noqa: E402

SETTINGS = {"dim": 64, "window": 5, "epochs": 5, "min_count": 3, "minn": 3, "maxn": 6, "buckets": 200_000,
            "threads": 2}
CORPORA = {"imdb_train": ["en/imdb_train.csv.gz"], "imdb_all": ["en/imdb_train.csv.gz", "en/imdb_test.csv.gz"]}
PROBE_WORDS = ["excellent", "boring", "actor", "funny"]


def train_gensim(corpus_file, total_tokens):
    from gensim.models.fasttext import FastText

    s = SETTINGS
    model = FastText(vector_size=s["dim"], window=s["window"], min_count=s["min_count"], sg=1, min_n=s["minn"],
                     max_n=s["maxn"], bucket=s["buckets"], workers=s["threads"], seed=0)
    began = time.monotonic()
    model.build_vocab(corpus_file=str(corpus_file))
    model.train(corpus_file=str(corpus_file), total_words=model.corpus_total_words, epochs=s["epochs"])
    return time.monotonic() - began, lambda word: model.wv[word], model.wv.most_similar


def train_fasttext_wheel(corpus_file, total_tokens):
    import fasttext

    s = SETTINGS
    began = time.monotonic()
    model = fasttext.train_unsupervised(str(corpus_file), model="skipgram", dim=s["dim"], ws=s["window"],
                                        epoch=s["epochs"], minCount=s["min_count"], minn=s["minn"],
                                        maxn=s["maxn"], bucket=s["buckets"], thread=s["threads"], verbose=0)
    seconds = time.monotonic() - began

    def neighbours(word, topn=5):
        return [(w, score) for score, w in model.get_nearest_neighbors(word, k=topn)]

    return seconds, model.get_word_vector, neighbours


def mean_vector_accuracy(vector_of, standardize, data_root):
    """SST-2 test accuracy of logistic regression on mean word vectors (the vectors held fixed)."""
    from sklearn.linear_model import LogisticRegression

    data = load_dataset("sst2", data_root, seed=0)

    def features(texts):
        rows = []
        for line in standardize(texts):
            words = line.split() or [""]
            rows.append(np.mean([vector_of(w) for w in words], axis=0))
        return np.stack(rows)

    model = LogisticRegression(max_iter=2000, C=1.0).fit(features(data.train_texts), data.train_labels)
    return float(model.score(features(data.test_texts), data.test_labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", choices=list(CORPORA), default="imdb_train")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--output", default="benchmarks/unlabeled/vector_libraries.json")
    args = parser.parse_args(argv)
    data_root = Path(args.data_root) if args.data_root else default_data_root()

    import pandas as pd
    import tensorflow as tf

    from transformer_kit.data.text_vectorization import STANDARDIZERS
    from transformer_kit.vector_training import _tokenize

    def standardize(texts):
        return [line.decode("utf-8") for line in STANDARDIZERS["word"](tf.constant(list(texts))).numpy()]

    results = {"settings": SETTINGS, "corpus": CORPORA[args.corpus], "libraries": {}}
    with tempfile.TemporaryDirectory() as folder:
        texts = Path(folder) / "texts.csv"
        pd.concat([pd.read_csv(data_root / name, dtype=str, keep_default_na=False, usecols=["text"])
                   for name in CORPORA[args.corpus]]).to_csv(texts, index=False)
        corpus_file = Path(folder) / "corpus.txt"
        stats = _tokenize([texts], "text", "word", corpus_file)
        results["tokens"] = stats["tokens"]
        for name, train in (("gensim FastText", train_gensim), ("fasttext wheel", train_fasttext_wheel)):
            seconds, vector_of, neighbours = train(corpus_file, stats["tokens"])
            results["libraries"][name] = {
                "train_s": round(seconds, 1),
                "tokens_per_s": round(SETTINGS["epochs"] * stats["tokens"] / seconds),
                "sst2_mean_vector_lr_accuracy": round(mean_vector_accuracy(vector_of, standardize, data_root), 4),
                "neighbours": {w: [n for n, _ in neighbours(w, topn=5)] for w in PROBE_WORDS},
            }
            print(name, json.dumps(results["libraries"][name], ensure_ascii=False), flush=True)
    Path(args.output).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
