"""Small synthetic datasets shared by the tests (tiny, so every fit takes seconds)."""

import numpy as np
import pandas as pd

FILLER = (
    "the a of to and in is it for on with as was at by an be this that from or have "
    "not are but they his her one all we there been if more when will would who so no"
).split()
KEYWORDS = {"sport": "football", "weather": "rain", "money": "bank"}

# Settings that make a TextClassifier fit in a few seconds.
TINY = dict(epochs=4, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)
TINY_CLI = [
    "--epochs", "4", "--ensemble-size", "1", "--embed-dim", "16", "--num-heads", "2",
    "--ff-dim", "32", "--quiet",
]


def keyword_frame(rows=240, classes=("sport", "weather", "money"), seed=0):
    """Texts of random filler words with one class keyword each; labels are class names."""
    rng = np.random.default_rng(seed)
    labels = [classes[i % len(classes)] for i in range(rows)]
    texts = []
    for label in labels:
        words = list(rng.choice(FILLER, size=rng.integers(4, 12)))
        words.insert(int(rng.integers(0, len(words) + 1)), KEYWORDS[label])
        texts.append(" ".join(words))
    return pd.DataFrame({"text": texts, "label": labels})
