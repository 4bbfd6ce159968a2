"""Tests of transformer_kit.cores: one count of usable cores, CPU affinity aware, for every parallel step."""

import os

import numpy as np
import pytest

from transformer_kit import cores, ngram, vector_training


def test_the_count_follows_the_cpu_affinity_not_the_machine(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    assert cores.available_cores() == 3


def test_without_an_affinity_call_every_core_counts(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert cores.available_cores() == 6
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cores.available_cores() == 1


def test_ngram_fits_and_word_vectors_count_cores_with_the_one_helper():
    assert ngram.available_cores is cores.available_cores
    assert vector_training.available_cores is cores.available_cores


@pytest.mark.parametrize("affinity, expected_jobs", [({0}, 1), ({0, 1, 2}, 3)])
def test_one_vs_rest_fits_use_as_many_processes_as_usable_cores(monkeypatch, affinity, expected_jobs):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity, raising=False)
    seen = []

    class RecordingParallel(ngram.Parallel):
        def __init__(self, n_jobs=None, **kwargs):
            seen.append(n_jobs)
            super().__init__(n_jobs=1, **kwargs)  # the test itself runs in one process

    monkeypatch.setattr(ngram, "Parallel", RecordingParallel)
    rng = np.random.default_rng(0)
    features = rng.random((40, 5))
    indicator = (rng.random((40, 4)) < 0.5).astype(int)
    coef, intercept = ngram._fit_one_vs_rest(features, indicator, c=1.0, seed=0)
    assert seen == [expected_jobs]
    assert coef.shape == (4, 5) and intercept.shape == (4,)
