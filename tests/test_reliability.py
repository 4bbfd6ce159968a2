"""Reliability of training and loading: repeatable runs, crash-safe resume,
atomic run directories, safe loading of untrusted files, robust serving input."""

import numpy as np
import pytest

from keyword_data import keyword_dataset
from transformer_kit.classifier import TextClassifier

TINY = dict(epochs=2, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, verbose=0)


def fit_tiny(seed, preset="single"):
    classifier = TextClassifier(preset=preset, seed=seed, **TINY)
    classifier.fit(keyword_dataset(rows=240), test=keyword_dataset(rows=60, seed=5))
    return classifier


def test_same_seed_gives_identical_metrics_and_predictions():
    texts, _ = keyword_dataset(rows=50, seed=9)
    first, second = fit_tiny(seed=0), fit_tiny(seed=0)
    np.testing.assert_array_equal(first.predict_proba(texts).to_numpy(), second.predict_proba(texts).to_numpy())
    assert first.metrics_ == second.metrics_
    assert first.history_.equals(second.history_)

    other = fit_tiny(seed=1)
    assert not np.allclose(first.predict_proba(texts).to_numpy(), other.predict_proba(texts).to_numpy())
