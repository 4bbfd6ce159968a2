"""Word vectors: the file formats users download, and the embeddings they start a classifier from."""

import gzip

import numpy as np
import pytest

from keyword_data import TINY, keyword_dataset
from transformer_kit import TextClassifier
from transformer_kit.data import format_data_report
from transformer_kit.errors import DataError
from transformer_kit.inference import members_of
from transformer_kit.vectors import WordVectors, load_word_vectors

VECTORS = {"wonderful": [1.0, 0.5, 0.0], "dreadful": [-1.0, -0.5, 0.0], "film": [0.0, 0.0, 1.0]}


def vector_lines(vectors=VECTORS):
    return [f"{word} {' '.join(str(x) for x in values)}" for word, values in vectors.items()]


@pytest.mark.parametrize("name, header", [("glove.txt", False), ("fasttext.vec", True), ("w2v.vec.gz", True)])
def test_text_formats_with_and_without_header_and_gzip(tmp_path, name, header):
    text = "\n".join(([f"{len(VECTORS)} 3"] if header else []) + vector_lines()) + "\n"
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as file:
            file.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    vectors = load_word_vectors(path)
    assert vectors.words == list(VECTORS) and vectors.dim == 3
    np.testing.assert_array_equal(vectors.vectors, np.array(list(VECTORS.values()), "float32"))
    assert len(vectors.sha256) == 64


def test_a_directory_and_glove_words_with_spaces(tmp_path):
    (tmp_path / "vectors.txt").write_text("new york 0.5 0.5\nfilm 1 0\n", encoding="utf-8")
    vectors = load_word_vectors(tmp_path)
    assert vectors.words == ["new york", "film"]


def test_bad_files_are_clear_errors(tmp_path):
    (tmp_path / "bad.vec").write_text("film 1 0\nplot 1 x\n")
    with pytest.raises(DataError, match=r"bad.vec, line 2: expected a word and 2 numbers"):
        load_word_vectors(tmp_path / "bad.vec")
    (tmp_path / "short.vec").write_text("film 1 0\nplot 1\n")
    with pytest.raises(DataError, match="short.vec, line 2: expected a word and 2 numbers, got 'plot 1"):
        load_word_vectors(tmp_path / "short.vec")
    with pytest.raises(DataError, match="not found"):
        load_word_vectors(tmp_path / "missing.vec")
    (tmp_path / "model.bin").write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match="model.bin is not a fastText binary model|needs gensim"):
        load_word_vectors(tmp_path / "model.bin")


def test_embedding_matrix_covers_known_words_and_scales_the_rest():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    vectors = WordVectors(words, rng.normal(0, 2.0, (200, 8)).astype("float32"), "toy", "-")
    vocabulary = ["", "[UNK]", *words[:100], *(f"unknown{i}" for i in range(100))]
    matrix, coverage = vectors.embedding_matrix(vocabulary, embed_dim=8, seed=1)
    assert coverage["words_covered"] == 100 and coverage["share_of_vocabulary"] == 0.5
    np.testing.assert_array_equal(matrix[2:102], vectors.vectors[:100])
    assert not matrix[0].any()  # padding
    # Unknown words start on the known words' scale, not the initializer's (+-0.05).
    assert 1.5 < matrix[102:].std() < 2.5


def test_other_dimensions_are_projected_or_completed():
    rng = np.random.default_rng(0)
    vectors = WordVectors([f"w{i}" for i in range(50)], rng.normal(size=(50, 12)).astype("float32"), "toy", "-")
    vocabulary = ["", "[UNK]", *vectors.words]
    smaller, _ = vectors.embedding_matrix(vocabulary, embed_dim=4)
    larger, _ = vectors.embedding_matrix(vocabulary, embed_dim=16)
    assert smaller.shape == (52, 4) and larger.shape == (52, 16)
    # PCA keeps the largest-variance directions: the 4 columns hold more spread than any 4 raw ones.
    assert smaller[2:].var(axis=0).sum() >= np.sort(vectors.vectors.var(axis=0))[-4:].sum() - 1e-4
    np.testing.assert_array_equal(larger[2:, :12], vectors.vectors)


@pytest.mark.slow
def test_classifier_starts_every_transformer_from_the_vectors(tmp_path):
    path = tmp_path / "toy.vec"
    path.write_text("\n".join(vector_lines()) + "\n")
    texts, labels = keyword_dataset(rows=120)
    settings = {**TINY, "epochs": 1, "ensemble_size": 2, "embed_dim": 3, "num_heads": 1, "learning_rate": 1e-9}
    classifier = TextClassifier(preset="ensemble", word_vectors=str(path), **settings).fit(texts, labels)
    report = classifier.data_report_["word_vectors"]
    assert report["words_covered"] == 3 and report["sha256"] == load_word_vectors(path).sha256
    assert "Word vectors: " in format_data_report(classifier.data_report_)
    vocabulary = classifier.model_.get_layer("preprocessor").get_vocabulary()
    for member in members_of(classifier.model_):
        embeddings = member.get_layer("transformer_0_encoder" if member.name.endswith("0") else "transformer_1_encoder")
        table = embeddings.get_layer("embedding").token_embedding.embeddings.numpy()
        # Barely trained (learning rate 1e-9): still the vectors.
        np.testing.assert_allclose(table[vocabulary.index("wonderful")], VECTORS["wonderful"], atol=1e-4)
    loaded = TextClassifier.load(classifier.save(tmp_path / "run"))
    assert loaded.training_config_.word_vectors == str(path)


def test_cli_names_a_missing_vector_file(tmp_path, capsys):
    from keyword_data import write_keyword_csv
    from transformer_kit.cli import main

    data = write_keyword_csv(tmp_path / "train.csv", rows=60)
    code = main(["train", str(data), "--output", str(tmp_path / "run"), "--word-vectors", "nowhere.vec", "--quiet"])
    assert code == 2
    error = capsys.readouterr().err
    assert "nowhere.vec not found" in error and "Traceback" not in error
