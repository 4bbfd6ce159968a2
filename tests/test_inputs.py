"""The inputs users bring (`transformer_kit.data.formats`): encodings, delimiters, JSON Lines, folders,
Parquet and several text columns, in memory, streamed and from the command line."""

import json

import numpy as np
import pandas as pd
import pytest

from keyword_data import TINY, keyword_dataset
from transformer_kit import cli
from transformer_kit.data import build_data_report, format_data_report, load_csv_dataset
from transformer_kit.data.formats import (
    TEXT_COLUMN_SEPARATOR,
    detect_encoding,
    file_kind,
    folder_layout,
    read_parquet,
)
from transformer_kit.data.streaming import iter_csv_chunks, should_stream
from transformer_kit.errors import DataError

CHINESE = ["这部电影很好看，演员表演自然。", "酒店服务太差了，房间也不干净！", "物流很快，包装完好，值得推荐"]
TRADITIONAL = ["這部電影很好看，演員表演自然。", "飯店服務太差了，房間也不乾淨！", "物流很快，包裝完好，值得推薦"]
JAPANESE = ["この映画はとても面白かったです。", "ホテルのサービスは最悪でした！", "配送が早くて、梱包も完璧です"]
FRENCH = ["Très bon film, les acteurs sont naturels.", "Hôtel décevant : chambre sale, accueil glacé…",
          "Livraison rapide, emballage soigné — à recommander"]


def write_rows(path, texts, labels, encoding="utf-8", delimiter=","):
    lines = [f"text{delimiter}label"] + [f'"{text}"{delimiter}{label}' for text, label in zip(texts, labels)]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize("texts, encoding", [
    (CHINESE, "gb18030"), (TRADITIONAL, "big5"), (JAPANESE, "shift_jis"), (FRENCH, "cp1252"),
])
def test_a_spreadsheet_encoding_is_detected_and_read_back_exactly(tmp_path, texts, encoding):
    path = write_rows(tmp_path / "excel.csv", texts * 20, ["pos", "neg", "pos"] * 20, encoding=encoding)
    dataset = load_csv_dataset(path)
    assert dataset.texts == texts * 20
    assert dataset.labels[:3] == ["pos", "neg", "pos"]
    assert dataset.notes == [f"{path}: read with encoding {encoding} (detected; --encoding overrides it)"]


def test_utf8_files_need_no_note_and_a_bom_is_not_part_of_the_header(tmp_path):
    assert load_csv_dataset(write_rows(tmp_path / "u.csv", CHINESE, "abc")).notes == []
    dataset = load_csv_dataset(write_rows(tmp_path / "bom.csv", CHINESE, "abc", encoding="utf-8-sig"))
    assert dataset.texts == CHINESE and list(dataset.frame.columns) == ["text", "label"]


def test_detection_prefers_the_encoding_whose_characters_are_common():
    # GB18030 decodes these Big5 and Shift-JIS bytes without error, into rare characters.
    for texts, encoding in ((TRADITIONAL, "big5"), (JAPANESE, "shift_jis")):
        raw = "\n".join(texts).encode(encoding)
        raw.decode("gb18030")
        assert detect_encoding(raw) == encoding
    assert detect_encoding(b"\xff\xfe" + "hi".encode("utf-16-le")) == "utf-16"


def test_the_wrong_encoding_names_the_right_one_not_latin_1(tmp_path):
    path = write_rows(tmp_path / "gbk.csv", CHINESE, "abc", encoding="gb18030")
    with pytest.raises(DataError) as info:
        load_csv_dataset(path, encoding="utf-8")
    message = str(info.value)
    assert "not valid utf-8" in message and "line 2" in message
    assert "--encoding gb18030" in message and "latin-1" not in message


def test_a_legacy_byte_after_the_detection_sample_names_the_encoding(tmp_path):
    filler = [f"row {i} plain ascii text" for i in range(40_000)]  # > 1 MiB of ASCII first
    path = write_rows(tmp_path / "late.csv", filler + CHINESE, ["a"] * (len(filler) + 3), encoding="gb18030")
    with pytest.raises(DataError, match=r"first 1 MiB.*line 40002.*--encoding gb18030"):
        load_csv_dataset(path)
    assert load_csv_dataset(path, encoding="gb18030").texts[-3:] == CHINESE


# ---------------------------------------------------------------- delimiters


def test_a_semicolon_file_is_parsed_into_the_right_columns(tmp_path):
    path = tmp_path / "excel_fr.csv"
    path.write_text('text;label;id\n"Bon film, vraiment";pos;1\nMauvais, trop long;neg;2\n', encoding="utf-8")
    dataset = load_csv_dataset(path)
    assert list(dataset.frame.columns) == ["text", "label", "id"]
    assert dataset.texts == ["Bon film, vraiment", "Mauvais, trop long"]
    assert dataset.labels == ["pos", "neg"] and dataset.row_numbers == [2, 3]
    assert "delimiter ';' (semicolon) (sniffed from the header)" in dataset.notes[0]


def test_the_data_report_names_the_encoding_and_delimiter(tmp_path):
    path = write_rows(tmp_path / "d.csv", CHINESE * 5, ["a", "b", "a"] * 5, encoding="gb18030", delimiter=";")
    report = build_data_report(load_csv_dataset(path))
    text = format_data_report(report)
    assert f"Read train: {path}: read with encoding gb18030 (detected; --encoding overrides it) and delimiter ';'" \
        in text
    assert report["splits"]["train"]["read_as"]


# ---------------------------------------------------------------- JSON Lines


def test_json_lines_read_fields_as_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    records = [{"review": "great", "stars": 5, "id": "a"}, {"review": None, "stars": 1},
               {"review": "awful", "stars": 1}]
    path.write_text("\n".join(json.dumps(r) for r in records[:2]) + "\n\n" + json.dumps(records[2]) + "\n")
    dataset = load_csv_dataset(path, text_column="review", label_column="stars")
    assert dataset.texts == ["great", "awful"] and dataset.labels == ["5", "1"]
    assert dataset.row_numbers == [1, 4] and dataset.dropped == {"missing_text": 1}


def test_a_json_array_file_is_read_too(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"text": "好", "label": "pos"}, {"text": "差", "label": "neg"}], ensure_ascii=False))
    assert load_csv_dataset(path).texts == ["好", "差"]


@pytest.mark.parametrize("line, fragment", [
    ('{"text": "ok", "label": ', "line 2: not valid JSON"),
    ('["ok", "pos"]', "line 2: expected a JSON object"),
])
def test_a_bad_json_line_is_named_with_its_line(tmp_path, line, fragment):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "fine", "label": "pos"}\n' + line + "\n")
    with pytest.raises(DataError, match=fragment):
        load_csv_dataset(path)


def test_a_json_list_where_a_text_belongs_is_named_with_its_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "fine", "label": "a"}\n\n{"text": ["two", "parts"], "label": "b"}\n')
    with pytest.raises(DataError, match=r"d.jsonl, line 3: the text column 'text' holds a list \(\['two', 'parts'\]\)"):
        load_csv_dataset(path)


def test_a_json_field_that_is_absent_gets_the_missing_column_message(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"sentence": "fine", "label": "pos"}\n')
    with pytest.raises(DataError, match="no text column 'text'.*'sentence'.*--text-column sentence"):
        load_csv_dataset(path)


# ---------------------------------------------------------------- folders


@pytest.fixture
def review_folder(tmp_path):
    root = tmp_path / "aclImdb" / "train"
    texts = {"pos": ["A wonderful film.\n", "Loved it, 10/10", "最好看的电影"], "neg": ["Dreadful.\n\nJust dreadful."]}
    for label, items in texts.items():
        for i, text in enumerate(items):
            folder = root / label / ("more" if i == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{i}_{label}.txt").write_text(text, encoding="utf-8")
    (root / "pos" / "notes.md").write_text("not a text")  # only .txt files count, as in Keras
    (root / "README.txt").write_text("top-level files are not texts of a class")
    return root


def test_a_class_folder_layout_reads_as_keras_text_dataset_from_directory(review_folder):
    import keras

    reference = keras.utils.text_dataset_from_directory(review_folder, batch_size=None, shuffle=False)
    expected = [(text.numpy().decode(), reference.class_names[label]) for text, label in reference]
    dataset = load_csv_dataset(review_folder)
    assert list(zip(dataset.texts, dataset.labels)) == expected
    assert dataset.frame["file"].tolist() == ["neg/0_neg.txt", "pos/0_pos.txt", "pos/1_pos.txt", "pos/more/2_pos.txt"]
    assert "4 .txt files in 2 class subfolders" in dataset.notes[0]


def test_a_folder_without_class_subfolders_is_unlabelled_texts(tmp_path):
    (tmp_path / "b.txt").write_text("second")
    (tmp_path / "a.txt").write_text("first")
    dataset = load_csv_dataset(tmp_path, require_labels=False)
    assert dataset.texts == ["first", "second"] and dataset.labels is None
    with pytest.raises(DataError, match="no label column"):
        load_csv_dataset(tmp_path)


def test_a_text_file_in_another_encoding_is_named(review_folder):
    (review_folder / "neg" / "gbk.txt").write_bytes("太差了".encode("gb18030"))
    with pytest.raises(DataError, match=r"gbk.txt is not valid utf-8.*--encoding gb18030"):
        load_csv_dataset(review_folder)


def test_folder_layout_lists_classes_in_sorted_order(review_folder):
    assert [name for name, _ in folder_layout(review_folder)] == ["neg", "pos"]
    assert file_kind(review_folder) == "folder"


# ------------------------------------------------------------ several text columns


def test_several_text_columns_are_joined_in_order_with_a_line_break(tmp_path):
    path = tmp_path / "news.csv"
    pd.DataFrame({
        "body": ["Heavy rain all day.", None, None, "   "],
        "title": ["Storm", "Goal!", None, None],
        "topic": ["weather", "sport", "sport", "money"],
    }).to_csv(path, index=False)
    dataset = load_csv_dataset(path, text_column=["title", "body"], label_column="topic")
    assert TEXT_COLUMN_SEPARATOR == "\n"
    assert dataset.texts == ["Storm\nHeavy rain all day.", "Goal!\n"]
    assert dataset.dropped == {"missing_text": 1, "empty_text": 1}
    assert "columns 'title' + 'body' joined with a line break" in dataset.notes[-1]
    with pytest.raises(DataError, match="no text column 'summary'"):
        load_csv_dataset(path, text_column=["title", "summary"], label_column="topic")


# ------------------------------------------------------------ streaming reads the same


def _streamed(source, **columns):
    texts, labels = [], []
    for chunk_texts, chunk_labels in iter_csv_chunks(source, chunk_rows=2, **columns):
        texts += chunk_texts
        labels += chunk_labels
    return texts, labels


def test_streaming_reads_every_input_as_loading_does(tmp_path, review_folder):
    semicolon_gbk = write_rows(tmp_path / "d.csv", CHINESE * 3, ["a", "b", "c"] * 3, encoding="gb18030", delimiter=";")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("".join(json.dumps({"title": t, "body": b, "label": lab}) + "\n"
                             for t, b, lab in [("A", "x", "p"), (None, "y", "q"), ("C", None, "p"), (None, None, "q")]))
    for source, columns in ((semicolon_gbk, {}), (review_folder, {}),
                            (jsonl, {"text_column": ["title", "body"]})):
        loaded = load_csv_dataset(source, **columns)
        assert _streamed(source, **columns) == (loaded.texts, loaded.labels), source
    assert _streamed(jsonl, text_column=["title", "body"])[0] == ["A\nx", "\ny", "C\n"]


def test_a_streamed_scan_keeps_the_notes_for_the_data_report(tmp_path):
    from transformer_kit.data.streaming import scan_csv

    path = write_rows(tmp_path / "d.csv", CHINESE * 5, ["a", "b", "a"] * 5, encoding="gb18030", delimiter=";")
    summary = scan_csv(path, validation_fraction=0.1)
    assert summary.num_rows == 15 and sorted(set(summary.sample_texts)) <= sorted(CHINESE)
    assert summary.notes == load_csv_dataset(path).notes


def late_cp1252_csv(path, rows=2000):
    """A cp1252 CSV whose first MiB is ASCII (a padding column no loader reads): detection says UTF-8."""
    texts, labels = keyword_dataset(rows)
    texts += ["café wonderful", "crème dreadful", "déjà wonderful", "naïve dreadful"]
    labels += ["positive", "negative"] * 2
    lines = ["text,label,note", *(f"{text},{label},{'x' * 600}" for text, label in zip(texts, labels))]
    path.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    return path


def test_streamed_training_reads_with_the_encoding_given(tmp_path, capsys):
    from transformer_kit.classifier import TextClassifier

    gbk = write_rows(tmp_path / "gbk.csv", CHINESE * 5, ["a", "b", "c"] * 5, encoding="gb18030")
    # Stops while scanning, before any training: the explicit encoding reached the chunked reader.
    with pytest.raises(DataError, match=r"not valid utf-8: .*--encoding gb18030"):
        TextClassifier(streaming=True, encoding="utf-8", verbose=0).fit(gbk)
    fails_with(capsys, ["train", gbk, "--streaming", "--encoding", "utf-8", "--output", tmp_path / "r", "--quiet"],
               "not valid utf-8: ", "--encoding gb18030")


def test_a_streamed_legacy_file_trains_with_its_encoding_and_fails_clearly_without(tmp_path):
    from transformer_kit.classifier import TextClassifier

    path = late_cp1252_csv(tmp_path / "late.csv")
    with pytest.raises(DataError, match=r"first 1 MiB.*line 2002.*--encoding cp1252"):
        TextClassifier(streaming=True, **TINY).fit(path)
    classifier = TextClassifier(streaming=True, encoding="cp1252", **{**TINY, "epochs": 1}).fit(path)
    assert classifier.data_report_["streaming"]["rows"] == 2004  # the cp1252 rows after the first MiB too
    assert TextClassifier.load(classifier.save(tmp_path / "run"), verbose=0).encoding == "cp1252"


def test_folders_stream_when_their_texts_are_large(review_folder, monkeypatch):
    from transformer_kit.data import streaming

    assert should_stream(review_folder, "auto") is False
    monkeypatch.setattr(streaming, "AUTO_STREAMING_BYTES", 10)
    assert should_stream(str(review_folder), "auto") is True


# ---------------------------------------------------------------- Parquet


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r'needs pyarrow.*pip install "transformer_kit\[parquet\]"'):
        load_csv_dataset(path)


def test_parquet_reads_as_strings_and_streams_the_same(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "d.parquet"
    pd.DataFrame({"text": ["good", None, "bad"], "label": [1, 0, 0], "score": [0.5, 1.0, 2.0]}).to_parquet(path)
    dataset = load_csv_dataset(path)
    assert dataset.texts == ["good", "bad"] and dataset.labels == ["1", "0"] and dataset.row_numbers == [1, 3]
    assert _streamed(path) == (dataset.texts, dataset.labels)
    assert [len(frame) for frame, _ in read_parquet(path, chunk_rows=2)] == [2, 1]
    (tmp_path / "fake.parquet").write_text("text,label\n")
    with pytest.raises(DataError, match="fake.parquet could not be read as Parquet"):
        load_csv_dataset(tmp_path / "fake.parquet")


# ---------------------------------------------------------------- command line: exit 2


def fails_with(capsys, argv, *fragments):
    code = cli.main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert code == 2, error
    assert len(error.strip().splitlines()) == 1, error
    for fragment in fragments:
        assert fragment in error, error
    return error


def test_cli_bad_inputs_get_one_line_and_exit_2(capsys, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine", "label": "a"}\n{oops}\n')
    fails_with(capsys, ["train", bad, "--output", tmp_path / "r", "--quiet"], "bad.jsonl, line 2", "not valid JSON")
    gbk = write_rows(tmp_path / "gbk.csv", CHINESE, "abc", encoding="gb18030")
    fails_with(capsys, ["train", gbk, "--encoding", "utf-8", "--output", tmp_path / "r", "--quiet"],
               "--encoding gb18030")
    (tmp_path / "empty_folder").mkdir()
    fails_with(capsys, ["train", tmp_path / "empty_folder", "--output", tmp_path / "r", "--quiet"],
               "no class subfolders", "one subfolder per class")
    fails_with(capsys, ["train", tmp_path / "gbk.csv", "--text-column", "text", "--text-column", "title",
                        "--output", tmp_path / "r", "--quiet"], "no text column 'title'")


def test_text_column_repeats_into_a_list():
    args = cli.build_parser().parse_args(["train", "d.csv", "--text-column", "title", "--text-column", "body"])
    assert cli._text_column(args.text_column) == ["title", "body"]
    assert cli._text_column(cli.build_parser().parse_args(["train", "d.csv"]).text_column) is None


def test_stdin_lines_hold_several_text_columns_separated_by_tabs(monkeypatch, capsys):
    import io
    import sys

    seen = []

    def predict_proba(texts):
        seen.extend(texts)
        return pd.DataFrame({"a": [1.0] * len(texts), "b": [0.0] * len(texts)})

    predictor = cli._Predictor(np.asarray(["a", "b"], dtype=object), ["title", "body"], predict_proba)
    monkeypatch.setattr(cli.predict, "_load_predictor", lambda path: predictor)  # run_predict looks it up there
    monkeypatch.setattr(sys, "stdin", io.StringIO("Storm\tHeavy rain\nno tab\n\tonly body\na\tb\tc\n\n"))
    assert cli.main(["predict", "run", "-", "--quiet"]) == 0
    assert seen == ["Storm\nHeavy rain", "no tab\n", "\nonly body", "a\nb\tc", "\n"]
    output = pd.read_csv(io.StringIO(capsys.readouterr().out), keep_default_na=False)
    assert list(output.columns) == ["title", "body", "predicted_label", "probability_a", "probability_b"]
    assert output.title.tolist() == ["Storm", "no tab", "", "a", ""]
    # One text column: the whole line, tabs included, as before.
    predictor.text_column = "text"
    seen.clear()
    monkeypatch.setattr(sys, "stdin", io.StringIO("a\tb\n"))
    assert cli.main(["predict", "run", "-", "--quiet"]) == 0
    assert seen == ["a\tb"]


# ---------------------------------------------------------------- training (slow)


def test_serving_input_names_are_names_tensorflow_keeps_unique_and_close_to_the_columns():
    from transformer_kit.export import serving_input_names

    assert serving_input_names(["title", "body"]) == ["title", "body"]
    assert serving_input_names(["title", "body text", "标题", "2nd", "class", "Title", "x-y", "__"]) == [
        "title", "body_text", "column_3", "column_2nd", "class_", "Title_6", "x_y", "column_8"]


def test_title_and_body_export_reproduces_predictions_from_the_same_columns(tmp_path, capsys, monkeypatch):
    from transformer_kit.classifier import TextClassifier
    from transformer_kit.export import load_exported_predictor

    texts, labels = keyword_dataset(240)
    halves = [text.split(" ") for text in texts]
    # "body text" is no TensorFlow input name: serving_columns serves it as "body_text".
    frame = pd.DataFrame({"title": [" ".join(h[: len(h) // 2]) for h in halves],
                          "body text": [" ".join(h[len(h) // 2:]) for h in halves], "label": labels})
    frame.loc[::7, "title"] = None
    frame.to_csv(tmp_path / "train.csv", index=False)
    classifier = TextClassifier(text_column=["title", "body text"], ngram_weight=0.5, **TINY)
    classifier.fit(tmp_path / "train.csv")
    assert classifier.score(tmp_path / "train.csv") >= 0.9
    expected = classifier.predict_proba(frame)
    joined = [f"{t if isinstance(t, str) else ''}\n{b}" for t, b in zip(frame.title, frame["body text"])]
    np.testing.assert_allclose(classifier.predict_proba(joined).to_numpy(), expected.to_numpy(), atol=1e-6)

    export = classifier.export(tmp_path / "export")
    predictor = load_exported_predictor(export)
    assert predictor.metadata["text_columns"] == ["title", "body text"]
    assert predictor.metadata["text_separator"] == "\n"
    np.testing.assert_allclose(predictor.predict_proba(frame).to_numpy(), expected.to_numpy(), atol=1e-5)
    # serving_columns: one input per column, joined inside the graph.
    import tensorflow as tf

    signature = predictor._loaded.signatures["serving_columns"]
    assert sorted(signature.structured_input_signature[1]) == ["body_text", "title"]  # what TF Serving shows
    cells = {name: tf.constant(frame[column].fillna("").tolist())
             for column, name in (("title", "title"), ("body text", "body_text"))}
    served = signature(**cells)["probabilities"].numpy()
    np.testing.assert_allclose(served, expected.to_numpy(), atol=1e-5)
    described = predictor.metadata["signatures"]["serving_columns"]
    assert set(described["inputs"]) == {"title", "body_text"}
    assert described["input_of_column"] == {"title": "title", "body text": "body_text"}

    # The CLI, given the export and a CSV with those columns, joins them the same way.
    frame.drop(columns="label").to_csv(tmp_path / "new.csv", index=False)
    assert cli.main(["predict", str(export), str(tmp_path / "new.csv"), "--output", str(tmp_path / "p.csv"),
                     "--quiet"]) == 0, capsys.readouterr().err
    predicted = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(predicted[[f"probability_{c}" for c in classifier.classes_]].to_numpy(),
                               expected.to_numpy(), atol=1e-5)
    # And from stdin, a line holding the title and the body separated by a tab.
    import io
    import sys

    lines = "".join(f"{t if isinstance(t, str) else ''}\t{b}\n" for t, b in zip(frame.title, frame["body text"]))
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli.main(["predict", str(export), "-", "--quiet"]) == 0
    predicted = pd.read_csv(io.StringIO(capsys.readouterr().out))
    np.testing.assert_allclose(predicted[[f"probability_{c}" for c in classifier.classes_]].to_numpy(),
                               expected.to_numpy(), atol=1e-5)


def test_a_class_folder_trains_and_predicts_from_the_cli(tmp_path, capsys):
    texts, labels = keyword_dataset(200)
    for i, (text, label) in enumerate(zip(texts, labels)):
        folder = tmp_path / ("train" if i < 160 else "test") / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(text)
    tiny = ["--epochs", "4", "--ensemble-size", "1", "--embed-dim", "16", "--num-heads", "2", "--ff-dim", "32"]
    code = cli.main(["train", str(tmp_path / "train"), "--test-data", str(tmp_path / "test"),
                     "--output", str(tmp_path / "run"), "--quiet", *tiny])
    assert code == 0, capsys.readouterr().err
    report = (tmp_path / "run" / "data_report.txt").read_text()
    assert "Read test:" in report and "2 class subfolders" in report
    assert cli.main(["predict", str(tmp_path / "run"), str(tmp_path / "test"), "--output", str(tmp_path / "p.csv"),
                     "--quiet"]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert list(predicted.columns[:3]) == ["file", "text", "label"]
    assert (predicted.predicted_label == predicted.label).mean() >= 0.9
