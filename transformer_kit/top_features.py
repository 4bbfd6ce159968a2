"""The global view of explanations: which tokens push towards each class, over a dataset.

Every text is explained for its predicted class; each token's attributions
are then averaged per class over its occurrences. Tokens seen fewer than
`min_count` times are left out, so one rare word in one text cannot top the
table by chance.
"""

import pandas as pd

COLUMNS = ["class", "token", "mean_attribution", "count"]


def top_features(explanations, k=10, min_count=3):
    """The `k` tokens with the largest mean attribution per explained class.

    Args:
        explanations: `Explanations` (e.g. from `TextClassifier.explain`).
        k: int, tokens per class.
        min_count: int, fewest occurrences (in texts explained for that
            class) for a token to be listed.

    Returns:
        `pandas.DataFrame` with columns `class`, `token`, `mean_attribution`
        and `count`, classes in order of first appearance, tokens by
        decreasing mean attribution.

    Example:

    >>> import numpy as np
    >>> from transformer_kit.explanation_results import Explanation, Explanations
    >>> def one(tokens, values, label):
    ...     spans = [None] * len(tokens)
    ...     return Explanation(" ".join(tokens), tokens, spans, np.array(values), label, label, 0.9, 0.5, 9)
    >>> results = Explanations([one(["free", "prize"], [0.3, 0.1], "spam"), one(["free", "now"], [0.2, 0.0], "spam")])
    >>> top_features(results, k=2, min_count=1).values.tolist()
    [['spam', 'free', 0.25, 2], ['spam', 'prize', 0.1, 1]]
    """
    rows = [
        (explanation.label, token, float(value))
        for explanation in explanations
        for token, value in zip(explanation.tokens, explanation.attributions)
    ]
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.DataFrame(rows, columns=["class", "token", "attribution"])
    grouped = frame.groupby(["class", "token"], sort=False)["attribution"].agg(["mean", "size"]).reset_index()
    grouped.columns = COLUMNS
    grouped = grouped[grouped["count"] >= min_count]
    classes = list(dict.fromkeys(frame["class"]))
    tables = [
        grouped[grouped["class"] == name].sort_values("mean_attribution", ascending=False, kind="stable").head(k)
        for name in classes
    ]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)
