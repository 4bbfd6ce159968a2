"""TF-IDF n-grams + logistic regression: the classic strong baseline for short texts."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from benchmarks.systems import BenchmarkSystem


class TfidfLogisticRegression(BenchmarkSystem):
    """Word 1–2-grams (character 1–2-grams for Chinese), ``min_df=2``, sublinear TF, LR with C=10."""

    display_name = "TF-IDF + LR"

    def __init__(self, language: str = "en", seed: int = 0, C: float = 10.0, max_iter: int = 1000):
        super().__init__(language, seed)
        # Chinese has no spaces, so word n-grams would be whole clauses; characters stand in.
        analyzer = "char" if language == "zh" else "word"
        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer=analyzer, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
            LogisticRegression(C=C, max_iter=max_iter, random_state=seed),
        )
        self._settings = {"analyzer": analyzer, "ngram_range": [1, 2], "min_df": 2,
                          "sublinear_tf": True, "C": C, "max_iter": max_iter}

    def fit(self, train_texts: Sequence[str], train_labels: Sequence[str]) -> None:
        self.pipeline.fit(list(train_texts), list(train_labels))

    def predict(self, texts: Sequence[str]) -> list[str]:
        return self.pipeline.predict(list(texts)).tolist()

    def describe(self) -> dict:
        return self._settings
