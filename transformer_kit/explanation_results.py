"""Explanation results: one text's token attributions, and how to show them.

`Explanation` holds one text's tokens (with their character spans in the
original text), attributions, the class explained and its probability.
`Explanations` is the list `TextClassifier.explain` returns; it renders as
shaded tokens in a notebook (`_repr_html_`), as an HTML file (`to_html`), as
ANSI-shaded text in a terminal (`to_terminal`) and as a table (`to_frame`).
"""

import dataclasses
import html

import numpy as np
import pandas as pd

# Curly quotes and backticks are standardized to "'" (see text_vectorization).
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "`": "'"})


@dataclasses.dataclass
class Explanation:
    """One text explained.

    Attributes:
        text: str, the original text.
        tokens: list of str, the tokens as the model sees them (lowercased,
            punctuation split off; CJK characters one by one).
        spans: list of `(start, end)` character offsets of each token in
            `text`, or `None` for a token not found verbatim.
        attributions: float array, one per token: its share of
            `probability - baseline_probability` for `label`.
        label: the class explained (the predicted one unless a target was
            given); `predicted` is the model's prediction.
        probability: float, the model's probability of `label`.
        baseline_probability: float, the probability of `label` at the
            baseline (see `transformer_kit.explanations`).
        truncated: bool, the text has more tokens than the transformers
            read (`transformer_tokens`); the n-gram model reads them all.
    """

    text: str
    tokens: list
    spans: list
    attributions: np.ndarray
    label: object
    predicted: object
    probability: float
    baseline_probability: float
    transformer_tokens: int

    @property
    def truncated(self):
        return len(self.tokens) > self.transformer_tokens

    @property
    def completeness_gap(self):
        """float: `|sum(attributions) - (probability - baseline_probability)|`."""
        return float(abs(self.attributions.sum() - (self.probability - self.baseline_probability)))

    def to_frame(self):
        """`pandas.DataFrame`, one row per token: token, start, end, attribution."""
        starts = [span[0] if span else None for span in self.spans]
        ends = [span[1] if span else None for span in self.spans]
        return pd.DataFrame(
            {"token": self.tokens, "start": starts, "end": ends, "attribution": self.attributions.astype(float)}
        )

    def to_html(self):
        """An HTML fragment: the label line, then the tokens shaded (green for, red against)."""
        scale = _scale(self.attributions)
        cells = " ".join(
            f'<span title="{value:+.4f}" style="background:{_html_colour(value / scale)};'
            f'padding:1px 2px;border-radius:3px">{html.escape(token)}</span>'
            for token, value in zip(self.tokens, self.attributions)
        )
        return f"<div style='margin:4px 0'><b>{html.escape(self._headline())}</b><br>{cells}</div>"

    def to_terminal(self, colour=True):
        """Tokens shaded with ANSI backgrounds, or with `[+token]`/`[-token]` markers when `colour` is off."""
        scale = _scale(self.attributions)
        if colour:
            words = [_ansi(token, value / scale) for token, value in zip(self.tokens, self.attributions)]
        else:
            words = [_marker(token, value / scale) for token, value in zip(self.tokens, self.attributions)]
        return f"{self._headline()}\n{' '.join(words)}"

    def _headline(self):
        line = f"{self.label} ({self.probability:.3f}; baseline {self.baseline_probability:.3f})"
        if self.label != self.predicted:
            line += f", predicted {self.predicted}"
        if self.truncated:
            line += (
                f" - truncated: the transformers read the first {self.transformer_tokens} of "
                f"{len(self.tokens)} tokens, the n-gram model all of them"
            )
        return line


class Explanations(list):
    """A list of `Explanation`, one per text, that renders as a whole.

    Example:

    >>> one = Explanation("Great film!", ["great", "film", "!"], [(0, 5), (6, 10), (10, 11)],
    ...                   np.array([0.3, 0.01, -0.02]), "positive", "positive", 0.9, 0.61, 3)
    >>> Explanations([one]).to_frame()[["token", "start", "attribution"]].values.tolist()[0]
    ['great', 0, 0.3]
    >>> print(one.to_terminal(colour=False))
    positive (0.900; baseline 0.610)
    [++great] film !
    """

    def to_frame(self):
        """One row per token of every text: `text_index`, token, span, attribution, label, probability."""
        frames = [
            explanation.to_frame().assign(
                text_index=index, label=explanation.label, probability=explanation.probability
            )
            for index, explanation in enumerate(self)
        ]
        columns = ["text_index", "token", "start", "end", "attribution", "label", "probability"]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)

    def to_html(self, path=None):
        """A standalone HTML page of every explanation; written to `path` if given. Returns the HTML."""
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Explanations</title></head>"
            f"<body style='font-family:sans-serif'>{self._repr_html_()}</body></html>"
        )
        if path is not None:
            with open(path, "w", encoding="utf-8") as file:
                file.write(page)
        return page

    def _repr_html_(self):
        legend = (
            "<div style='font-size:small'>green: pushed towards the class shown, red: away from it; "
            "hover a token for its attribution.</div>"
        )
        return legend + "".join(explanation.to_html() for explanation in self)


def token_spans(text, tokens):
    """Character spans of the model's tokens in the original text.

    The tokens come from a lowercased, punctuation-split copy of the text, in
    order, so each is searched for after the previous one.

    Args:
        text: str, the original text.
        tokens: list of str.

    Returns:
        list of `(start, end)`, or `None` where a token is not found.

    Example:

    >>> token_spans("Don't GO!", ["don't", "go", "!"])
    [(0, 5), (6, 8), (8, 9)]
    """
    searchable = text.lower().translate(_QUOTES)
    if len(searchable) != len(text):  # a rare lowercase that changes length
        searchable = "".join(char.lower()[:1] or char for char in text).translate(_QUOTES)
    spans, cursor = [], 0
    for token in tokens:
        start = searchable.find(token, cursor)
        if start < 0:
            spans.append(None)
            continue
        spans.append((start, start + len(token)))
        cursor = start + len(token)
    return spans


def _scale(attributions):
    largest = float(np.max(np.abs(attributions))) if len(attributions) else 0.0
    return largest if largest > 0 else 1.0


def _html_colour(share):
    alpha = min(abs(share), 1.0) * 0.8
    return f"rgba(0,160,60,{alpha:.2f})" if share >= 0 else f"rgba(220,40,40,{alpha:.2f})"


def _ansi(token, share):
    if abs(share) < 0.1:
        return token
    # 256-colour backgrounds: three shades of green (for) and red (against).
    level = min(int(abs(share) * 3), 2)
    code = (22, 28, 34)[level] if share > 0 else (52, 88, 124)[level]
    return f"\x1b[48;5;{code}m{token}\x1b[0m"


def _marker(token, share):
    if abs(share) < 0.25:
        return token
    sign = "+" if share > 0 else "-"
    return f"[{sign * (2 if abs(share) >= 0.75 else 1)}{token}]"
