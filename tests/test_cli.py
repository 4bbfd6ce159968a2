"""The transformer-kit command line: the happy path in a real subprocess, every bad input in-process."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from keyword_data import TINY_CLI, keyword_frame
from transformer_kit import cli


def run_cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "transformer_kit", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    keyword_frame(240).to_csv(directory / "train.csv", index=False)
    test = keyword_frame(60, seed=1)
    test["id"] = range(len(test))
    test.to_csv(directory / "test.csv", index=False)
    result = run_cli("train", directory / "train.csv", "--test-data", directory / "test.csv",
                     "--output", directory / "run", *TINY_CLI)
    assert result.returncode == 0, result.stderr
    return directory, result


def test_train_prints_test_metrics_and_writes_a_complete_run(trained_run):
    directory, result = trained_run
    assert "Test metrics (60 texts)" in result.stdout
    assert "accuracy" in result.stdout and "macro avg" in result.stdout
    assert (directory / "run" / "manifest.json").exists()
    assert not (directory / ".run.partial").exists()


def test_predict_keeps_every_column_and_adds_label_and_probabilities(trained_run, tmp_path):
    directory, _ = trained_run
    result = run_cli("predict", directory / "run", directory / "test.csv", "--output", tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns[:3]) == ["text", "label", "id"]
    assert {"predicted_label", "probability_money", "probability_sport", "probability_weather"} <= set(predictions.columns)
    assert (predictions.predicted_label == predictions.label).mean() >= 0.9


def test_predict_reads_lines_from_stdin(trained_run):
    directory, _ = trained_run
    result = run_cli("predict", directory / "run", "-", stdin="it is rain today\n\nbank loan\n")
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(pd.io.common.StringIO(result.stdout), keep_default_na=False)
    assert len(rows) == 3
    assert list(rows.predicted_label[[0, 2]]) == ["weather", "money"]


def test_evaluate_and_info(trained_run, tmp_path):
    directory, _ = trained_run
    result = run_cli("evaluate", directory / "run", directory / "test.csv", "--output", tmp_path / "m.json")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "m.json").read_text())["accuracy"] >= 0.9
    info = run_cli("info", directory / "run")
    assert info.returncode == 0, info.stderr
    assert "Classes         money, sport, weather" in info.stdout


def test_help_texts_have_examples():
    for command in ("train", "predict", "evaluate", "info", "export"):
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "example" in result.stdout


# ----------------------------------------------------------- bad input: exit code 2


def fails_with(capsys, argv, *fragments):
    code = cli.main([str(a) for a in argv])
    error = capsys.readouterr().err
    assert code == 2, error
    for fragment in fragments:
        assert fragment in error, error
    assert "Traceback" not in error
    return error


@pytest.fixture
def train_csv(tmp_path):
    path = tmp_path / "train.csv"
    keyword_frame(60).to_csv(path, index=False)
    return path


def test_missing_file(capsys, tmp_path):
    fails_with(capsys, ["train", tmp_path / "nope.csv", "--output", tmp_path / "r"], "nope.csv")
    assert not (tmp_path / "r").exists()


def test_directory_instead_of_file(capsys, tmp_path):
    fails_with(capsys, ["train", tmp_path, "--output", tmp_path / "r"], "directory")


def test_empty_file_and_header_only(capsys, tmp_path):
    (tmp_path / "empty.csv").write_text("")
    fails_with(capsys, ["train", tmp_path / "empty.csv", "--output", tmp_path / "r"], "empty")
    (tmp_path / "header.csv").write_text("text,label\n")
    fails_with(capsys, ["train", tmp_path / "header.csv", "--output", tmp_path / "r"], "header")


def test_unparseable_csv(capsys, tmp_path):
    (tmp_path / "bad.csv").write_text('text,label\n"unclosed quote,a\nfine,b\n')
    fails_with(capsys, ["train", tmp_path / "bad.csv", "--output", tmp_path / "r"], "bad.csv")


def test_missing_text_column_lists_columns_and_suggests(capsys, tmp_path):
    keyword_frame(20).rename(columns={"text": "txt"}).to_csv(tmp_path / "d.csv", index=False)
    fails_with(capsys, ["train", tmp_path / "d.csv", "--output", tmp_path / "r"], "txt", "--text-column")


def test_missing_label_column(capsys, tmp_path):
    keyword_frame(20).rename(columns={"label": "category"}).to_csv(tmp_path / "d.csv", index=False)
    fails_with(capsys, ["train", tmp_path / "d.csv", "--output", tmp_path / "r"], "category", "--label-column")


def test_fewer_than_two_classes(capsys, tmp_path):
    frame = keyword_frame(20)
    frame["label"] = "sport"
    frame.to_csv(tmp_path / "d.csv", index=False)
    fails_with(capsys, ["train", tmp_path / "d.csv", "--output", tmp_path / "r"], "sport", "two")
    assert not (tmp_path / "r").exists()


def test_class_too_small_to_stratify(capsys, tmp_path):
    frame = keyword_frame(60)
    frame.loc[0, "label"] = "rare"
    frame.to_csv(tmp_path / "d.csv", index=False)
    fails_with(capsys, ["train", tmp_path / "d.csv", "--output", tmp_path / "r"], "rare")
    assert not (tmp_path / "r").exists()


def test_non_utf8_bytes(capsys, tmp_path):
    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\xe9 ok,a\nbad,b\n".encode("latin-1"))
    fails_with(capsys, ["train", tmp_path / "latin.csv", "--output", tmp_path / "r"], "encoding")


def test_output_directory_that_holds_a_run_is_refused(capsys, trained_run, train_csv):
    directory, _ = trained_run
    fails_with(capsys, ["train", train_csv, "--output", directory / "run"], "already exists", "--overwrite")
    assert (directory / "run" / "manifest.json").exists()


def test_predict_input_without_the_text_column(capsys, trained_run, tmp_path):
    directory, _ = trained_run
    pd.DataFrame({"message": ["hi"]}).to_csv(tmp_path / "in.csv", index=False)
    fails_with(capsys, ["predict", directory / "run", tmp_path / "in.csv"], "message", "--text-column")


def test_evaluate_data_with_labels_never_seen_in_training(capsys, trained_run, tmp_path):
    directory, _ = trained_run
    frame = keyword_frame(10)
    frame.loc[3, "label"] = "politics"
    frame.to_csv(tmp_path / "e.csv", index=False)
    fails_with(capsys, ["evaluate", directory / "run", tmp_path / "e.csv"], "politics")


def test_incomplete_run_directory_is_refused(capsys, tmp_path):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "model.keras").write_text("partial")
    fails_with(capsys, ["info", tmp_path / "half"], "not a complete")


def test_failed_training_leaves_no_run_directory(capsys, monkeypatch, train_csv, tmp_path):
    from transformer_kit.classifier import TextClassifier

    def crash(self, *args, **kwargs):
        raise ValueError("simulated failure during training")

    monkeypatch.setattr(TextClassifier, "fit", crash)
    fails_with(capsys, ["train", train_csv, "--output", tmp_path / "r"], "simulated failure")
    assert not (tmp_path / "r").exists()
