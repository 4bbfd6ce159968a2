"""Tests for transformer_kit.data: loading, labels, splitting, vectorization,
the token pipeline and the data report."""

import gzip
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from transformer_kit.config import TrainingConfig
from transformer_kit.data import (
    LabelEncoder,
    TextDataset,
    as_text_list,
    build_data_report,
    choose_sequence_length,
    detect_split_mode,
    format_data_report,
    load_csv_dataset,
    make_text_vectorizer,
    make_token_dataset,
    standardize_cjk_characters,
    standardize_words,
    stratified_split,
    vectorize_texts,
)
from transformer_kit.errors import DataError, RunDirectoryError

DATA = Path(__file__).resolve().parents[1] / "data"


def write(path, content, encoding="utf-8"):
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def standardize(function, text):
    return function(tf.constant([text])).numpy()[0].decode("utf-8")


# ---------------------------------------------------------------- loading


def test_loads_csv_with_row_numbers_across_multiline_text(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\nhello,a\n"two\nlines",b\nbye,a\n')
    ds = load_csv_dataset(path)
    assert ds.texts == ["hello", "two\nlines", "bye"]
    assert ds.labels == ["a", "b", "a"]
    assert ds.row_numbers == [2, 3, 5]
    assert len(ds) == 3
    assert str(path) in ds.source


def test_loads_tsv_and_gzip(tmp_path):
    write(tmp_path / "d.tsv", "text\tlabel\nhi, there\tx\nyo\ty\n")
    with gzip.open(tmp_path / "d.csv.gz", "wt", encoding="utf-8") as handle:
        handle.write("text,label\nzipped,x\nagain,y\n")
    assert load_csv_dataset(tmp_path / "d.tsv").texts == ["hi, there", "yo"]
    assert load_csv_dataset(str(tmp_path / "d.csv.gz")).texts == ["zipped", "again"]


def test_list_of_paths_is_concatenated_in_order(tmp_path):
    a = write(tmp_path / "a.csv", "text,label\none,x\n")
    b = write(tmp_path / "b.tsv", "text\tlabel\ttopic\ntwo\ty\tz\n")
    ds = load_csv_dataset([a, b])
    assert ds.texts == ["one", "two"]
    assert ds.labels == ["x", "y"]
    assert list(ds.frame.index) == [0, 1]
    assert "topic" in ds.frame.columns


def test_dataframe_with_integer_labels_gives_string_labels():
    frame = pd.DataFrame({"review": ["good", "bad", None, "ok"], "stars": [1, 0, 1, np.nan]},
                         index=[10, 11, 12, 13])
    ds = load_csv_dataset(frame, text_column="review", label_column="stars")
    assert ds.labels == ["1", "0"]  # not "1.0": float-coded ints are restored
    assert ds.dropped == {"missing_text": 1, "missing_label": 1}
    assert ds.row_numbers == [0, 1]
    assert list(ds.frame.index) == [0, 1]


def test_text_na_and_null_stay_text_but_empty_cells_are_dropped(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\nNA,1\nnull,2\n,1\n"   ",2\nNone,\nok,NA\n')
    ds = load_csv_dataset(path)
    assert ds.texts == ["NA", "null", "ok"]
    assert ds.labels == ["1", "2", "NA"]
    assert ds.dropped == {"missing_text": 1, "empty_text": 1, "missing_label": 1}
    assert ds.row_numbers == [2, 3, 7]


def test_prediction_mode_keeps_empty_texts_and_allows_no_labels(tmp_path):
    path = write(tmp_path / "d.csv", "text,id\nhello,1\n,2\n")
    ds = load_csv_dataset(path, require_labels=False, drop_empty_text=False)
    assert ds.texts == ["hello", ""]
    assert ds.labels is None
    assert ds.dropped == {}


def test_missing_file_names_path_and_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "train.csv", "text,label\na,b\n")
    with pytest.raises(DataError, match="trian.csv: no such file") as info:
        load_csv_dataset("trian.csv")
    assert str(tmp_path) in str(info.value)
    assert "train.csv" in str(info.value)  # the close match is suggested


def test_directory_is_rejected(tmp_path):
    write(tmp_path / "inside.csv", "text,label\na,b\n")
    with pytest.raises(DataError, match="is a directory.*inside.csv"):
        load_csv_dataset(tmp_path)


def test_empty_file_and_header_only_file_are_rejected(tmp_path):
    with pytest.raises(DataError, match="empty \\(0 bytes\\)"):
        load_csv_dataset(write(tmp_path / "empty.csv", ""))
    with pytest.raises(DataError, match="no data rows"):
        load_csv_dataset(write(tmp_path / "header.csv", "text,label\n"))


def test_unparseable_csv_names_the_line(tmp_path):
    path = write(tmp_path / "bad.csv", "text,label\nfine,a\nnot, quoted, text,b\n")
    with pytest.raises(DataError, match="line 3.*double quotes"):
        load_csv_dataset(path)


def test_missing_column_suggests_closest_name_and_flag(tmp_path):
    path = write(tmp_path / "d.csv", "sentence,Labels\nhi,a\n")
    with pytest.raises(DataError, match="Did you mean 'sentence'.*--text-column sentence"):
        load_csv_dataset(path)
    with pytest.raises(DataError, match="Columns found: 'sentence', 'Labels'.*--label-column Labels"):
        load_csv_dataset(path, text_column="sentence")
    with pytest.raises(DataError, match="Did you mean 'txt'"):
        load_csv_dataset(write(tmp_path / "e.csv", "txt,label\nhi,a\n"))


def test_tab_separated_file_named_csv_is_sniffed_and_read(tmp_path):
    path = write(tmp_path / "d.csv", "text\tlabel\nhi, there\ta\n")
    dataset = load_csv_dataset(path)
    assert (dataset.texts, dataset.labels) == (["hi, there"], ["a"])
    assert "delimiter tab (sniffed" in dataset.notes[0]


def test_non_utf8_file_reports_byte_offset_and_the_encoding_it_looks_like(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\ncaf\u00e9,a\nok,b\n", encoding="cp1252")
    with pytest.raises(DataError, match="byte 0xe9 at byte offset 14 .line 2.*--encoding cp1252") as info:
        load_csv_dataset(path, encoding="utf-8")
    assert "latin-1" not in str(info.value)
    assert load_csv_dataset(path).texts == ["caf\u00e9", "ok"]  # detected without --encoding


def test_no_rows_left_after_dropping(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\n,a\n  ,b\n")
    with pytest.raises(DataError, match="no usable rows.*1 missing text, 1 empty text"):
        load_csv_dataset(path)


def test_bundled_files_load():
    train = load_csv_dataset(DATA / "sms_spam_train.csv")
    assert isinstance(train, TextDataset)
    assert len(train) == 4459 and set(train.labels) == {"ham", "spam"}
    assert len(load_csv_dataset(DATA / "chnsenticorp_train_2k.csv")) == 2000


def test_list_of_texts_is_refused_with_what_it_got_and_the_fix():
    texts = [f"message number {i}, free prize inside" for i in range(5000)]
    with pytest.raises(DataError) as info:
        load_csv_dataset(texts)
    message = str(info.value)
    assert "a list of 5,000 strings that look like texts, not file paths" in message
    assert "fit(texts, labels)" in message and "DataFrame" in message
    for source in (np.array(texts[:3]), pd.Series(texts[:3]), tuple(texts[:3])):
        with pytest.raises(DataError, match="3 strings that look like texts"):
            load_csv_dataset(source)


def test_long_text_where_a_path_was_expected_is_a_data_error_not_oserror():
    text = "a very long message " * 50  # longer than any file name: OSError before
    with pytest.raises(DataError, match="a string that looks like a text, not a file path"):
        load_csv_dataset(text)
    with pytest.raises(DataError, match="1 string that looks like a text"):
        load_csv_dataset([text])


def test_sources_that_are_not_paths_or_dataframes_name_their_type():
    with pytest.raises(DataError, match="a tuple of 2 values of type list.*fit\\(texts, labels\\)"):
        load_csv_dataset((["good", "bad"], ["pos", "neg"]))
    with pytest.raises(DataError, match="an object of type dict"):
        load_csv_dataset({"text": ["good"]})
    with pytest.raises(DataError, match="No data files"):
        load_csv_dataset([])


def test_list_with_a_missing_csv_path_reports_the_missing_file(tmp_path):
    a = write(tmp_path / "a.csv", "text,label\none,x\n")
    with pytest.raises(DataError, match="b.csv: no such file"):
        load_csv_dataset([a, str(tmp_path / "b.csv")])
    with pytest.raises(DataError, match="1 of them neither an existing file"):
        load_csv_dataset([str(a), "not a file"])
    with pytest.raises(DataError, match="trian: no such file"):
        load_csv_dataset([str(tmp_path / "trian")])  # a mistyped path, not a text


def test_as_text_list_makes_every_missing_value_empty():
    values = ["fine", None, float("nan"), np.nan, pd.NA, pd.NaT, 3, 2.5, b"caf\xc3\xa9", "nan", "", "NA"]
    assert as_text_list(values) == ["fine", "", "", "", "", "", "3", "2.5", "café", "nan", "", "NA"]
    assert as_text_list(pd.Series(["a", None], dtype="string")) == ["a", ""]
    assert as_text_list(np.array(["a", None], dtype=object)) == ["a", ""]
    assert as_text_list(pd.DataFrame({"text": ["a", np.nan]})) == ["a", ""]
    assert as_text_list(np.array([["a"], ["b"]])) == ["a", "b"]
    assert as_text_list(text for text in ("x", "y")) == ["x", "y"]
    assert as_text_list([]) == []


def test_as_text_list_refuses_a_single_string_none_and_wide_tables():
    with pytest.raises(DataError, match="single string. Wrap it in a list: \\['hello'\\]"):
        as_text_list("hello")
    with pytest.raises(DataError, match="got None"):
        as_text_list(None)
    with pytest.raises(DataError, match="shape \\(1, 2\\).*frame\\['text'\\]"):
        as_text_list(pd.DataFrame({"text": ["a"], "label": ["b"]}))


def test_dataframe_texts_follow_as_text_list():
    frame = pd.DataFrame({"text": ["a", None, pd.NA, 7], "label": ["x", "y", "x", "y"]})
    ds = load_csv_dataset(frame, require_labels=False, drop_empty_text=False)
    assert ds.texts == as_text_list(frame["text"]) == ["a", "", "", "7"]
    assert load_csv_dataset(frame).dropped == {"missing_text": 2}


# ---------------------------------------------------------------- labels


def test_label_encoder_orders_integers_numerically_and_names_lexically():
    assert LabelEncoder.fit(["10", "2", "1", "2"]).classes_ == ["1", "2", "10"]
    assert LabelEncoder.fit(["spam", "ham", "Spam"]).classes_ == ["Spam", "ham", "spam"]


def test_label_encoder_round_trips_through_json(tmp_path):
    encoder = LabelEncoder.fit(["b", "a", "c"])
    ids = encoder.encode(["c", "a"])
    assert ids.dtype == np.int32 and ids.tolist() == [2, 0]
    encoder.to_json(tmp_path / "labels.json")
    restored = LabelEncoder.from_json(tmp_path / "labels.json")
    assert restored == encoder and restored.num_classes == 3
    assert restored.decode(ids).tolist() == ["c", "a"]
    assert json.loads((tmp_path / "labels.json").read_text())["classes"] == ["a", "b", "c"]


def test_label_encoder_rejects_unseen_labels_with_counts():
    encoder = LabelEncoder.fit(["a", "b"])
    with pytest.raises(DataError, match="test.csv.*'z' \\(2 rows\\).*Known classes: 'a', 'b'"):
        encoder.encode(["a", "z", "z"], source="test.csv")


def test_label_encoder_needs_two_classes_and_valid_json(tmp_path):
    with pytest.raises(DataError, match="only class 'x'; a classifier needs at least two"):
        LabelEncoder.fit(["x", "x"])
    with pytest.raises(RunDirectoryError, match="not a valid label encoder"):
        LabelEncoder.from_json(write(tmp_path / "bad.json", '{"classes": 3}'))


# ---------------------------------------------------------------- splitting


def test_stratified_split_keeps_class_proportions():
    labels = ["a"] * 80 + ["b"] * 20
    train, test = stratified_split(labels, test_size=0.1, seed=0)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert [labels[i] for i in test].count("b") == 2
    assert np.array_equal(test, stratified_split(labels, test_size=0.1, seed=0)[1])
    assert not np.array_equal(test, stratified_split(labels, test_size=0.1, seed=1)[1])


def test_stratified_split_names_classes_that_are_too_small():
    with pytest.raises(DataError, match="'rare' \\(1 row\\).*--validation-data"):
        stratified_split(["a"] * 10 + ["rare"], test_size=0.2)
    with pytest.raises(DataError, match="3 classes"):
        stratified_split(["a"] * 4 + ["b"] * 2 + ["c"] * 2, test_size=0.2)


# ---------------------------------------------------------------- vectorization


def test_standardize_words_splits_punctuation_and_strips_html():
    assert standardize(standardize_words, "How many?") == "how many ?"
    assert standardize(standardize_words, "I don't know,<br />really!") == (
        "i don't know , really !"
    )
    assert standardize(standardize_words, "'quoted'  text") == "' quoted ' text"


def test_standardize_cjk_characters_splits_each_character_keeps_latin_words():
    assert standardize(standardize_cjk_characters, "看DVD很好！") == "看 dvd 很 好 ！"
    assert standardize(standardize_cjk_characters, "カタ한국 15") == "カ タ 한 국 15"
    # The word standardizer leaves runs of CJK characters whole.
    assert standardize(standardize_words, "很好") == "很好"


def test_detect_split_mode_on_chinese_and_english():
    assert detect_split_mode(["这个宾馆比较陈旧了，总体来说一般", "Hi"]) == "character"
    assert detect_split_mode(["How did serfdom develop?", "好"]) == "word"
    assert detect_split_mode([""]) == "word"


def test_vectorizer_padding_and_unknown_ids_are_distinct():
    vectorizer = make_text_vectorizer(["the cat sat", "the dog sat"], split="word")
    vocabulary = vectorizer.get_vocabulary()
    assert vocabulary[:2] == ["", "[UNK]"] and vectorizer.name == "text_vectorizer"
    ids = vectorize_texts(vectorizer, ["the zebra", ""])
    assert ids == [[vocabulary.index("the"), 1], []]
    fixed = make_text_vectorizer(["the cat"], split="word", sequence_length=4)
    assert fixed(tf.constant(["the zebra"])).numpy().tolist() == [[2, 1, 0, 0]]


def test_vectorizer_auto_split_uses_characters_for_chinese():
    vectorizer = make_text_vectorizer(["很好很好", "不好"], split="auto")
    assert "很" in vectorizer.get_vocabulary()
    with pytest.raises(ValueError, match="split='words'"):
        make_text_vectorizer(["a b"], split="words")


def test_vectorize_texts_truncates():
    vectorizer = make_text_vectorizer(["a b c d e"], split="word")
    assert [len(ids) for ids in vectorize_texts(vectorizer, ["a b c d e", "a"], 3)] == [3, 1]


def test_vectorizer_reloads_from_keras_file_in_safe_mode(tmp_path):
    vectorizer = make_text_vectorizer(["很好 good", "不好 bad"], split="character")
    inputs = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(inputs, vectorizer(inputs))
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    text = tf.constant([["很 good"]])
    assert restored(text).to_list() == model(text).to_list()


# ---------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def corpus():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    texts = [" ".join(rng.choice(words, size=n)) for n in rng.integers(0, 60, size=300)]
    vectorizer = make_text_vectorizer(texts, split="word")
    return texts, np.arange(300) % 3, vectorizer


def test_batches_are_padded_to_multiples_of_8_within_sequence_length(corpus):
    texts, labels, vectorizer = corpus
    widths = []
    for shuffle in (False, True):
        for ids, batch_labels in make_token_dataset(
            texts, labels, vectorizer, sequence_length=36, batch_size=16, shuffle=shuffle
        ):
            assert ids.dtype == tf.int32 and batch_labels.dtype == tf.int32
            width = ids.shape[1]
            assert width == 36 or width % 8 == 0
            assert width <= 36
            widths.append(width)
    assert min(widths) < 36  # dynamic: short batches are not padded to the max


def test_unshuffled_order_matches_input_and_empty_text_is_all_padding(corpus):
    texts, labels, vectorizer = corpus
    texts = ["", *texts[:40]]
    dataset = make_token_dataset(texts, None, vectorizer, sequence_length=64, batch_size=8)
    rows = [row for batch in dataset for row in batch.numpy()]
    assert len(rows) == len(texts)
    assert not rows[0].any()
    for text, row in zip(texts, rows):
        expected = vectorize_texts(vectorizer, [text], 64)[0]
        assert row[: len(expected)].tolist() == expected and not row[len(expected):].any()


def test_same_seed_gives_same_batches_and_bucketing_groups_lengths(corpus):
    texts, labels, vectorizer = corpus

    def batches(seed, bucket=True):
        dataset = make_token_dataset(texts, labels, vectorizer, 64, batch_size=16,
                                     shuffle=True, seed=seed, bucket=bucket)
        return [(x.numpy(), y.numpy()) for x, y in dataset]

    first, again, other = batches(0), batches(0), batches(1)
    assert len(first) == len(again)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
               for a, b in zip(first, again))
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(first, other))
    assert sorted(np.concatenate([y for _, y in first]).tolist()) == sorted(labels.tolist())
    # Bucketed batches carry less padding than unbucketed ones.
    def padding(bs):
        return sum(int((x == 0).sum()) for x, _ in bs)

    assert padding(first) < padding(batches(0, bucket=False))


@pytest.mark.parametrize(
    "texts, sequence_length, width",
    [
        (["w1 w2 w3", "w4"], 64, 8),  # longest 3 -> 8
        (["w1 " * 9, "w2"], 64, 16),  # longest 9 -> 16
        (["w1 " * 30], 20, 20),  # capped at sequence_length
        (["w1 w2 w3", ""], 5, 5),  # a sequence length below 8 caps the width too
        (["", ""], 64, 8),  # no tokens at all: one block of padding
    ],
)
def test_batch_width_is_the_longest_text_rounded_up_to_8_and_capped(texts, sequence_length, width):
    vectorizer = make_text_vectorizer(["w1 w2 w3 w4"], split="word")
    (ids,) = list(make_token_dataset(texts, None, vectorizer, sequence_length, batch_size=len(texts)))
    assert ids.shape == (len(texts), width) and ids.dtype == tf.int32
    for text, row in zip(texts, ids.numpy()):
        expected = vectorize_texts(vectorizer, [text], sequence_length)[0]
        assert row.tolist() == expected + [0] * (width - len(expected))


def test_batch_size_defaults_to_the_training_config(corpus):
    texts, labels, vectorizer = corpus
    assert TrainingConfig.batch_size != 32  # the pipeline's old default, which disagreed
    first, _ = next(iter(make_token_dataset(texts, labels, vectorizer, sequence_length=16)))
    assert first.shape[0] == TrainingConfig.batch_size


# ---------------------------------------------------------------- report


def make_split(texts, labels, dropped=None):
    return TextDataset(texts=texts, labels=labels, frame=pd.DataFrame({"text": texts}),
                       source="test", dropped=dropped or {}, row_numbers=[])


def test_data_report_counts_duplicates_overlap_and_truncation():
    train = make_split(["a", "b", "a", "c", "d", "d"], ["x", "x", "x", "y", "y", "x"],
                       {"empty_text": 2})
    validation = make_split(["a", "e"], ["x", "y"])
    test = make_split(["b", "c", "f"], ["x", "y", "y"])
    report = build_data_report(train, validation, test, token_lengths=[5, 10, 20, 30, 40, 100],
                               sequence_length=32)
    json.dumps(report)  # JSON-serializable
    split = report["splits"]["train"]
    assert split["rows"] == 6 and split["dropped"] == {"empty_text": 2}
    assert split["classes"] == {"x": 4, "y": 2} and split["imbalance_ratio"] == 2.0
    assert split["duplicate_texts"] == 2 and split["conflicting_duplicates"] == 1
    assert report["overlap"] == {"train_validation": 1, "train_test": 2}
    assert report["token_lengths"]["max"] == 100
    assert report["sequence_length"] == 32 and report["truncated_fraction"] == 0.3333
    text = format_data_report(report)
    assert "validation" in text and "33.3% of training texts truncated" in text
    assert any("2 test rows" in w for w in report["warnings"])


def test_choose_sequence_length_rounds_up_and_clips():
    assert choose_sequence_length(range(1, 101), percentile=95) == 96
    assert choose_sequence_length([3, 4, 5]) == 16
    assert choose_sequence_length([5000] * 10) == 512
    assert choose_sequence_length([]) == 16


def test_choose_sequence_length_bounds_the_tokens_of_an_epoch():
    # 25,000 long texts: 3M tokens per epoch allow 120, but never below 128.
    assert choose_sequence_length([400] * 25000) == 128
    # 10,000 texts may use 300 tokens each; the 95th percentile (200) fits.
    assert choose_sequence_length([200] * 10000) == 200
    assert choose_sequence_length([400] * 10000) == 296
    # A sample of lengths from a larger (streamed) corpus: the corpus size counts.
    assert choose_sequence_length([400] * 1000, num_texts=25000) == 128
    assert choose_sequence_length([400] * 25000, tokens_per_epoch=None) == 400


def test_fixed_length_vectorizer_is_also_dynamically_padded():
    vectorizer = make_text_vectorizer(["a b c", "d"], split="word", sequence_length=20)
    (ids,) = list(make_token_dataset(["a b c", "d zzz"], None, vectorizer, 20, batch_size=2))
    assert ids.shape == (2, 8)
    assert ids.numpy()[1].tolist() == [vectorizer.get_vocabulary().index("d"), 1] + [0] * 6
