"""Learning word vectors from unlabeled texts: corpus formats, the vectors directory, resume, the CLI."""

import gzip
import json
import logging

import numpy as np
import pytest

from keyword_data import keyword_dataset
from transformer_kit.data.corpus import iter_corpus_texts
from transformer_kit.errors import DataError
from transformer_kit.vectors import load_word_vectors

pytest.importorskip("gensim")
from transformer_kit import vector_training  # noqa: E402  (after the gensim check)


def write_corpus(path, rows=300):
    texts, _ = keyword_dataset(rows=rows, classes=("negative", "positive", "neutral"))
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return texts


def test_corpus_formats_csv_tsv_jsonl_gz_and_folders(tmp_path):
    (tmp_path / "a.csv").write_text("id,review\n1,Good film\n2,\n3,\"Bad, bad film\"\n")
    (tmp_path / "b.tsv").write_text("review\tx\nTabbed text\t1\n")
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as file:
        file.write(json.dumps({"review": "From JSON"}) + "\n\n")
    folder = tmp_path / "aclImdb" / "pos"
    folder.mkdir(parents=True)
    (folder / "1.txt").write_text("One review\nover two lines")
    paths = [tmp_path / "a.csv", tmp_path / "b.tsv", tmp_path / "c.jsonl.gz", tmp_path / "aclImdb"]
    assert list(iter_corpus_texts(paths, text_column="review")) == [
        "Good film", "Bad, bad film", "Tabbed text", "From JSON", "One review\nover two lines",
    ]
    with pytest.raises(DataError, match="no column 'text'"):
        list(iter_corpus_texts(tmp_path / "a.csv"))
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad.jsonl, line 2: expected a JSON object"):
        list(iter_corpus_texts(tmp_path / "bad.jsonl"))


def test_vectors_directory_has_words_in_classifier_tokens_and_subwords(tmp_path):
    write_corpus(tmp_path / "corpus.txt")
    out = vector_training.train_word_vectors(tmp_path / "corpus.txt", tmp_path / "vectors", dim=16, epochs=2,
                                             min_count=2, workers=1)
    assert {p.name for p in out.iterdir()} == {"vectors.vec", "fasttext.bin", "manifest.json"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["epochs_done"] == 2 and manifest["split_mode"] == "word" and manifest["tokens"] > 1000
    vectors = load_word_vectors(out)
    assert "wonderful" in vectors.words and vectors.dim == 16
    assert not (tmp_path / ".vectors.partial").exists()
    # A word never seen still gets a vector from its character n-grams.
    matrix, coverage = vectors.embedding_matrix(["", "[UNK]", "wonderful", "wonderfulness"], embed_dim=16)
    assert coverage["words_covered"] == 1 and coverage["words_from_subwords"] == 1
    assert np.corrcoef(matrix[2], matrix[3])[0, 1] > 0.3  # shares "wonderful"'s n-grams
    # The fastText binary alone reads the same, subwords included.
    binary = load_word_vectors(out / "fasttext.bin")
    assert set(binary.words) == set(vectors.words) and binary.subword_vectors(["wonderfulness"]).shape == (1, 16)


def test_an_interrupted_run_resumes_after_its_last_epoch(tmp_path, monkeypatch, caplog):
    write_corpus(tmp_path / "corpus.txt", rows=120)
    save_state, calls = vector_training._save_state, []

    def interrupted_after_epoch_one(partial, state):
        save_state(partial, state)
        calls.append(state.get("epochs_done"))
        if state.get("epochs_done") == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(vector_training, "_save_state", interrupted_after_epoch_one)
    arguments = dict(dim=8, epochs=2, min_count=1, workers=1)
    with pytest.raises(KeyboardInterrupt):  # epoch 1 with two threads: the result cannot be repeatable
        vector_training.train_word_vectors(tmp_path / "corpus.txt", tmp_path / "vectors", **{**arguments, "workers": 2})
    assert not (tmp_path / "vectors").exists() and (tmp_path / ".vectors.partial" / "checkpoint.bin").exists()
    monkeypatch.setattr(vector_training, "_save_state", save_state)
    with caplog.at_level(logging.INFO, logger="transformer_kit"):
        vector_training.train_word_vectors(tmp_path / "corpus.txt", tmp_path / "vectors", **arguments)
    assert "Resuming after epoch 1 of 2" in caplog.text
    assert "Epoch 2/2" in caplog.text and "Epoch 1/2" not in caplog.text
    manifest = json.loads((tmp_path / "vectors" / "manifest.json").read_text())
    assert manifest["epochs_done"] == 2 and manifest["workers"] == 1 and not manifest["repeatable"]


def test_cli_learns_vectors_and_refuses_an_existing_output(tmp_path, capsys):
    from transformer_kit.cli import main

    write_corpus(tmp_path / "corpus.txt", rows=120)
    command = ["vectors", str(tmp_path / "corpus.txt"), "--output", str(tmp_path / "v"), "--dim", "8",
               "--epochs", "1", "--min-count", "1", "--quiet"]
    assert main(command) == 0
    assert "--word-vectors" in capsys.readouterr().out
    assert main(command) == 2
    assert "already exists" in capsys.readouterr().err


def test_one_worker_and_a_seed_make_the_vectors_repeatable(tmp_path, capsys):
    from transformer_kit.cli import main

    write_corpus(tmp_path / "corpus.txt", rows=120)

    def learn(name, seed):
        command = ["vectors", str(tmp_path / "corpus.txt"), "--output", str(tmp_path / name), "--dim", "8",
                   "--epochs", "1", "--min-count", "1", "--seed", str(seed), "--workers", "1", "--quiet"]
        assert main(command) == 0
        return (tmp_path / name / "vectors.vec").read_bytes()

    first = learn("a", seed=3)
    assert learn("b", seed=3) == first
    assert learn("c", seed=4) != first
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["workers"] == 1 and manifest["repeatable"] and manifest["settings"]["seed"] == 3
    train = ["train", str(tmp_path / "corpus.txt"), "--output", str(tmp_path / "run"), "--vector-workers", "1"]
    assert main(train) == 2  # without --unlabeled it would do nothing
    assert "pass --unlabeled CORPUS too" in capsys.readouterr().err and not (tmp_path / "run").exists()
    with pytest.raises(SystemExit) as exit_info:  # argparse's own exit
        main(["vectors", str(tmp_path / "corpus.txt"), "--output", str(tmp_path / "d"), "--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers: expected a whole number of at least 1, got '0'" in capsys.readouterr().err


@pytest.mark.slow
def test_train_unlabeled_learns_vectors_then_starts_from_them(tmp_path, capsys):
    import json as json_lib

    from keyword_data import TINY_CLI, write_keyword_csv
    from transformer_kit.cli import main

    write_corpus(tmp_path / "corpus.txt", rows=200)
    data = write_keyword_csv(tmp_path / "train.csv", rows=120)
    run = tmp_path / "run"
    assert main(["train", str(data), "--output", str(run), "--unlabeled", str(tmp_path / "corpus.txt"),
                 *TINY_CLI, "--epochs", "1"]) == 0
    report = json_lib.loads((run / "data_report.json").read_text())["word_vectors"]
    assert report["words_covered"] >= 10 and report["source"].endswith("run-vectors/vectors.vec")
    assert (tmp_path / "run-vectors" / "fasttext.bin").exists()
    # The same texts self-train the n-gram model. Transformer 1 holds out only 11 of the 108 training
    # rows, too few to judge on, so the decision is taken by cross-validation over all 108.
    self_training = json_lib.loads((run / "data_report.json").read_text())["self_training"]
    assert self_training["unlabeled_texts"] == 200 and self_training["setting"] == "auto"
    assert self_training["judged_on"] == "5-fold cross-validation over the 108 labelled texts"
    assert self_training["used"] == (self_training["log_loss_self_trained"] < self_training["log_loss_labels_only"])
    assert main(["train", str(data), "--output", str(run), "--overwrite", "--word-vectors", "x.vec",
                 "--unlabeled", str(tmp_path / "corpus.txt"), *TINY_CLI]) == 2
    assert "either --unlabeled" in capsys.readouterr().err
