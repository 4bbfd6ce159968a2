"""Synthetic keyword datasets shared by the reliability, distribution and streaming tests.

Each text is a few filler words plus one keyword that gives the label away, so
a tiny transformer learns the task in an epoch or two and a test can assert
real quality, not just that training ran.
"""

import csv

import numpy as np

KEYWORDS = {"positive": "wonderful", "negative": "dreadful", "neutral": "average"}
FILLER = "the a film plot actor scene story music ending camera script cast".split()


def keyword_dataset(rows=300, seed=0, classes=("negative", "positive")):
    """`(texts, labels)`: `rows` texts, classes in turn, shuffled filler words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(rows):
        label = classes[i % len(classes)]
        words = list(rng.choice(FILLER, rng.integers(3, 12))) + [KEYWORDS[label]]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def write_keyword_csv(path, rows=300, seed=0, classes=("negative", "positive")):
    """Write `keyword_dataset` as a `text,label` CSV and return the path."""
    texts, labels = keyword_dataset(rows, seed, classes)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path
