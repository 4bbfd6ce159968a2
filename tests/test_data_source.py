"""Tests for `transformer_kit.data.source.TextSource`: one door for every input, read whole or in chunks."""

import gzip
import json

import pandas as pd
import pytest

from transformer_kit.data import paths as paths_module
from transformer_kit.data.source import TextSource
from transformer_kit.data.tables import TableFile
from transformer_kit.errors import DataError

TEXTS = ["a good film", "NA", "dreadful, truly", "line one\nline two", "最好看的电影", "so-so"]
LABELS = ["pos", "neg", "neg", "pos", "pos", "neg"]


def streamed(source, chunk_rows=2):
    texts, labels = [], []
    for chunk_texts, chunk_labels in source.chunks(chunk_rows=chunk_rows):
        assert len(chunk_texts) <= chunk_rows
        texts += chunk_texts
        labels += chunk_labels
    return texts, labels


@pytest.fixture
def inputs(tmp_path):
    """The same rows in every form a user may bring."""
    frame = pd.DataFrame({"text": TEXTS, "label": LABELS})
    csv_path, tsv_path = tmp_path / "d.csv", tmp_path / "d.tsv"
    frame.to_csv(csv_path, index=False)
    frame.to_csv(tsv_path, index=False, sep="\t")
    semicolon = tmp_path / "d_semicolon.csv"
    semicolon.write_bytes(frame.to_csv(index=False, sep=";").encode("gb18030"))
    gz = tmp_path / "d.csv.gz"
    gz.write_bytes(gzip.compress(csv_path.read_bytes()))
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in zip(TEXTS, LABELS)))
    parts = [tmp_path / "part-1.csv", tmp_path / "part-2.csv"]
    frame.iloc[:3].to_csv(parts[0], index=False)
    frame.iloc[3:].to_csv(parts[1], index=False)
    return {
        "csv": csv_path, "csv as str": str(csv_path), "tsv": tsv_path, "gb18030 with semicolons": semicolon,
        "gzip": gz, "jsonl": jsonl, "list of paths": [str(p) for p in parts],
        "glob": str(tmp_path / "part-*.csv"), "DataFrame": frame,
    }


@pytest.mark.parametrize("kind", ["csv", "csv as str", "tsv", "gb18030 with semicolons", "gzip", "jsonl",
                                  "list of paths", "glob", "DataFrame"])
def test_every_input_kind_gives_the_same_texts_and_labels_read_or_streamed(inputs, kind):
    source = TextSource(inputs[kind])
    dataset = source.read()
    assert (dataset.texts, dataset.labels) == (TEXTS, LABELS)
    assert streamed(source) == (TEXTS, LABELS)


def test_texts_with_labels_read_as_a_dataframe_does():
    dataset = TextSource(TEXTS + [None], LABELS + ["pos"]).read()
    assert (dataset.texts, dataset.labels) == (TEXTS, LABELS)
    assert dataset.dropped == {"missing_text": 1}
    with pytest.raises(DataError, match="The training data has 6 texts but 2 labels"):
        TextSource(TEXTS, LABELS[:2], role="training data")


def test_streamed_chunks_drop_exactly_the_rows_read_drops(tmp_path):
    path = tmp_path / "holes.csv"
    pd.DataFrame({"text": ["good", "", "  ", "bad", "NA", "ok"], "label": ["a", "b", "a", "", "b", " a "]}).to_csv(
        path, index=False)
    source = TextSource(path)
    dataset = source.read()
    assert dataset.texts == ["good", "NA", "ok"] and dataset.labels == ["a", "b", "a"]
    assert dataset.dropped == {"missing_text": 1, "empty_text": 1, "missing_label": 1}
    assert streamed(source, chunk_rows=4) == (dataset.texts, dataset.labels)


def test_a_glob_names_the_files_it_matches_in_sorted_order(inputs):
    source = TextSource(inputs["glob"])
    assert [path.name for path in source.paths] == ["part-1.csv", "part-2.csv"]
    assert source.description == " + ".join(str(path) for path in source.paths)


def test_the_format_is_settled_once_however_often_the_source_is_read(inputs, monkeypatch):
    calls = []
    opened = TableFile.open.__func__

    def counting_open(cls, *args, **kwargs):
        calls.append(args[0])
        return opened(cls, *args, **kwargs)

    monkeypatch.setattr(TableFile, "open", classmethod(counting_open))
    source = TextSource(inputs["gb18030 with semicolons"])
    for _ in range(3):  # e.g. three epochs of streaming
        assert streamed(source)[0] == TEXTS
    assert source.read().texts == TEXTS
    assert len(calls) == 1
    assert source.notes == [f"{inputs['gb18030 with semicolons']}: read with encoding gb18030 (detected; "
                            "--encoding overrides it) and delimiter ';' (semicolon) (sniffed from the header)"]


def test_paths_are_normalised_in_one_place(inputs, monkeypatch):
    calls = []
    normalise = paths_module.data_file_paths

    def counting(source):
        calls.append(source)
        return normalise(source)

    monkeypatch.setattr("transformer_kit.data.source.data_file_paths", counting)
    source = TextSource(inputs["list of paths"])
    source.read()
    list(source.chunks())
    assert calls == [inputs["list of paths"]]


def test_a_missing_column_is_named_the_same_way_read_or_streamed(inputs):
    source = TextSource(inputs["csv"], text_column="sentence")
    with pytest.raises(DataError) as whole:
        source.read()
    with pytest.raises(DataError) as chunked:
        list(source.chunks())
    assert str(whole.value) == str(chunked.value)
    assert "no text column 'sentence'" in str(whole.value)


def test_a_list_of_texts_without_labels_is_refused_with_the_fix():
    with pytest.raises(DataError, match="a list of 2 strings that look like texts.*fit\\(texts, labels\\)"):
        TextSource(["a good film", "a bad film"])


def test_streaming_epochs_read_a_source_settled_once(inputs, monkeypatch):
    from transformer_kit.data import LabelEncoder, make_text_vectorizer
    from transformer_kit.data.streaming import make_streaming_token_dataset

    calls = []
    opened = TableFile.open.__func__
    monkeypatch.setattr(TableFile, "open", classmethod(lambda cls, *args: calls.append(args) or opened(cls, *args)))
    dataset = make_streaming_token_dataset(TextSource(inputs["gzip"]), LabelEncoder.fit(LABELS),
                                           make_text_vectorizer(TEXTS), sequence_length=16, part="all",
                                           batch_size=4, shuffle_buffer=0)
    for _ in range(2):  # two epochs
        label_ids = [int(i) for _, batch in dataset for i in batch]
        assert label_ids == [["neg", "pos"].index(label) for label in LABELS]
    assert len(calls) == 1


def test_an_unlabeled_corpus_takes_globs_through_the_same_normalisation(tmp_path):
    from transformer_kit.data.corpus import iter_corpus_texts

    (tmp_path / "b.txt").write_text("second file\n")
    (tmp_path / "a.txt").write_text("first file\n")
    assert list(iter_corpus_texts(str(tmp_path / "*.txt"))) == ["first file", "second file"]
    with pytest.raises(DataError, match="missing.txt not found"):
        list(iter_corpus_texts([tmp_path / "a.txt", tmp_path / "missing.txt"]))
