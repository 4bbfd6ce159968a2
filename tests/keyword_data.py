"""Synthetic keyword datasets shared by the tests, and settings that train in seconds.

Each text is a few filler words plus one keyword that gives the label away, so
a tiny transformer learns the task in an epoch or two and a test can assert
real quality, not just that training ran.
"""

import csv

import numpy as np
import pandas as pd

KEYWORDS = {"positive": "wonderful", "negative": "dreadful", "neutral": "average"}
FILLER = "the a film plot actor scene story music ending camera script cast".split()
TOPIC_KEYWORDS = {"sport": "football", "weather": "rain", "money": "bank"}
TOPIC_FILLER = (
    "the a of to and in is it for on with as was at by an be this that from or have "
    "not are but they his her one all we there been if more when will would who so no"
).split()

# Settings that make a TextClassifier fit in a few seconds.
TINY = dict(epochs=4, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)
TINY_CLI = [
    "--epochs", "4", "--ensemble-size", "1", "--embed-dim", "16", "--num-heads", "2",
    "--ff-dim", "32", "--quiet",
]


def keyword_dataset(rows=300, seed=0, classes=("negative", "positive"), keywords=KEYWORDS, filler=FILLER):
    """`(texts, labels)`: `rows` texts, classes in turn, shuffled filler words."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(rows):
        label = classes[i % len(classes)]
        words = list(rng.choice(filler, rng.integers(3, 12))) + [keywords[label]]
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


def keyword_frame(rows=240, classes=("sport", "weather", "money"), seed=0):
    """A `text,label` DataFrame of topic keywords ("football", "rain", "bank") in filler words."""
    texts, labels = keyword_dataset(rows, seed, classes, keywords=TOPIC_KEYWORDS, filler=TOPIC_FILLER)
    return pd.DataFrame({"text": texts, "label": labels})


# Synonyms of the keywords that labelled texts never use: only unlabeled texts (self-training) or a
# teacher (distillation) can teach them.
SYNONYMS = {"positive": "superb", "negative": "awful"}


def synonym_texts(rows, seed, with_keyword):
    """Texts whose label shows only in a synonym ("superb"/"awful") the labelled texts never use.

    With `with_keyword`, each also holds the labelled texts' keyword ("wonderful"/"dreadful"):
    unlabeled texts like these are what teach the synonyms to a self-trained model.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for i in range(rows):
        label = ("negative", "positive")[i % 2]
        words = [*rng.choice(FILLER, rng.integers(3, 10)), SYNONYMS[label]]
        if with_keyword:
            words.append({"positive": "wonderful", "negative": "dreadful"}[label])
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels
