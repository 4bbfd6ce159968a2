"""Tests for `transformer_kit.data.streaming`: training from CSV files read in chunks."""

import inspect

import numpy as np
import pandas as pd
import pytest

from keyword_data import write_keyword_csv
from transformer_kit.classifier import TextClassifier
from transformer_kit.config import TrainingConfig
from transformer_kit.data.streaming import (
    is_validation_text,
    iter_csv_chunks,
    make_streaming_token_dataset,
    scan_csv,
    should_stream,
)
from transformer_kit.errors import DataError


def test_scan_keeps_counts_and_a_bounded_sample(tmp_path):
    path = write_keyword_csv(tmp_path / "data.csv", rows=1000)
    summary = scan_csv(path, validation_fraction=0.2, sample_size=100)
    assert summary.num_rows == 1000
    assert len(summary.sample_texts) == 100 and len(summary.validation_texts) == 20
    validation_rows = sum(summary.validation_label_counts.values())
    assert 100 < validation_rows < 300  # about 20% by hash
    assert all(is_validation_text(text, 0.2) for text in summary.validation_texts)
    assert not any(is_validation_text(text, 0.2) for text in summary.sample_texts)


def test_chunks_skip_rows_without_text_or_label(tmp_path):
    path = tmp_path / "holes.csv"
    pd.DataFrame({"text": ["good", "", "  ", "bad", "NA"], "label": ["a", "b", "a", "", "b"]}).to_csv(path, index=False)
    chunks = list(iter_csv_chunks(path, chunk_rows=2))
    texts = [text for chunk_texts, _ in chunks for text in chunk_texts]
    assert texts == ["good", "NA"]


def test_streaming_mode_trains_and_predicts(tmp_path):
    path = write_keyword_csv(tmp_path / "train.csv", rows=600)
    classifier = TextClassifier(
        epochs=2, ensemble_size=1, embed_dim=16, num_heads=2, ff_dim=32, streaming=True, verbose=0
    )
    assert classifier.fit(path) is classifier
    assert list(classifier.history_["epoch"]) == [1, 2]
    assert classifier.data_report_["streaming"]["rows"] == 600
    assert classifier.metrics_["validation"]["accuracy"] >= 0.9
    predictions = classifier.predict(["a wonderful film", "the dreadful plot", "dreadful acting"])
    np.testing.assert_array_equal(predictions, ["positive", "negative", "negative"])
    run = classifier.save(tmp_path / "run")
    assert TextClassifier.load(run, verbose=0).predict(["wonderful"])[0] == "positive"


def test_texts_in_memory_never_stream_and_are_not_read_as_file_names():
    texts = ["a long review that goes on " * 20] * 3  # longer than a file name may be
    assert should_stream(texts, "auto") is False
    assert should_stream(pd.DataFrame({"text": texts}), "auto") is False
    with pytest.raises(DataError, match="Streaming mode reads CSV files"):
        should_stream(texts, True)


def test_streaming_batch_size_defaults_to_the_training_config():
    default = inspect.signature(make_streaming_token_dataset).parameters["batch_size"].default
    assert default == TrainingConfig.batch_size
