"""The transformer-kit command line: the happy path in a real subprocess, every bad input in-process."""

import dataclasses
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keyword_data import TINY_CLI, keyword_frame
from transformer_kit import cli
from transformer_kit.config import PRESETS, ModelConfig, TrainingConfig

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("train", "evaluate", "predict", "info", "export")
# A line of TensorFlow's C++ logging (absl format), e.g. "E0000 00:00:17... cuda_platform.cc:52] failed call to cuInit".
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cuInit|use_unbounded_threadpool", re.MULTILINE)


def run_cli(*args, stdin=None, env=None):
    # As a user runs it: without the TF_CPP_MIN_LOG_LEVEL that conftest.py sets for the test process.
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "transformer_kit", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env={**environment, **(env or {})},
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


def test_train_keeps_tensorflow_logs_off_the_terminal(trained_run):
    _, result = trained_run
    assert not TF_LOG_LINE.search(result.stdout + result.stderr), result.stderr


def test_predict_keeps_every_column_and_adds_label_and_probabilities(trained_run, tmp_path):
    directory, _ = trained_run
    result = run_cli("predict", directory / "run", directory / "test.csv", "--output", tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    predictions = pd.read_csv(tmp_path / "p.csv")
    assert list(predictions.columns[:3]) == ["text", "label", "id"]
    added = {"predicted_label", "probability_money", "probability_sport", "probability_weather"}
    assert added <= set(predictions.columns)
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
    for command in COMMANDS:
        result = run_cli(command, "--help")
        assert result.returncode == 0
        assert "example" in result.stdout


# ----------------------------------------------------------- help without TensorFlow


def imported_modules(*args):
    """Top-level modules imported by `python -m transformer_kit ARGS`, and its result."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "transformer_kit", *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    # -X importtime writes "import time: self | cumulative | package.module" lines to stderr.
    modules = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    return modules, result


@pytest.mark.parametrize("args", [["--help"], *[[command, "--help"] for command in COMMANDS]], ids=" ".join)
def test_help_answers_without_importing_tensorflow_or_keras(args):
    modules, result = imported_modules(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: transformer-kit")
    assert "transformer_kit" in modules  # the parse of -X importtime works
    assert not modules & {"tensorflow", "keras", "pandas", "sklearn"}


def test_building_the_parser_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys; from transformer_kit.cli import build_parser;"
        "parser = build_parser(); parser.parse_args(['train', 'x.csv', '--epochs', '3']);"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_subpackages_are_attributes_of_the_package_imported_on_first_use():
    code = (
        "import sys; import transformer_kit as tk;"
        "print('tensorflow' in sys.modules, 'layers' in dir(tk));"
        "print(tk.layers.TransformerEncoder.__name__, tk.models.build_text_classifier.__name__,"
        " tk.data.load_csv_dataset.__name__);"
        "print(hasattr(tk, 'no_such_module'))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "False True", "TransformerEncoder build_text_classifier load_csv_dataset", "False",
    ]


def train_options():
    """`dest -> argparse action` of the train command."""
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, cli.argparse._SubParsersAction))
    return {action.dest: action for action in commands.choices["train"]._actions}


def test_train_help_defaults_are_the_config_defaults():
    options = train_options()
    for config in (ModelConfig, TrainingConfig):
        for field in dataclasses.fields(config):
            if field.name not in options or field.name in ("streaming", "sequence_length"):
                continue  # --streaming's help says "automatic above 1 GiB"; sequence_length is computed
            text = " ".join(options[field.name].help.split())
            by_preset = {preset: values[field.name] for preset, values in PRESETS.items() if field.name in values}
            if by_preset:
                for preset, value in by_preset.items():
                    assert f"{preset}: {value}" in text, (field.name, text)
                if len(by_preset) < len(PRESETS):  # what the presets that leave it alone get
                    assert f"others: {field.default})." in text, (field.name, text)
            else:
                expected = "none" if field.default is None else field.default
                assert text.endswith(f"Default: {expected}."), (field.name, text)
    assert options["preset"].default == TrainingConfig.preset


def test_every_setting_of_the_config_has_an_option_or_is_python_only():
    fields = {field.name for config in (ModelConfig, TrainingConfig) for field in dataclasses.fields(config)}
    # Set from Python only: rarely changed, or about the model's shape beyond its size.
    python_only = {"patience", "ngram_max_tokens", "ngram_min_df", "ngram_c", "deterministic", "pooling",
                   "activation", "norm_first", "position_embedding"}
    assert fields - set(train_options()) == python_only


def test_readme_states_the_default_test_fraction():
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"holds out a stratified {cli.DEFAULT_TEST_FRACTION:.0%} of the data as test set" in readme


# ----------------------------------------------------------- options and logging


@pytest.mark.parametrize(
    ("argv", "verbosity"),
    [
        (["train", "d.csv"], None),
        (["--quiet", "train", "d.csv"], "quiet"),
        (["train", "d.csv", "--quiet"], "quiet"),
        (["--verbose", "info", "run"], "verbose"),
        (["info", "run", "--verbose"], "verbose"),
    ],
)
def test_quiet_and_verbose_work_before_or_after_the_command(argv, verbosity):
    assert getattr(cli.build_parser().parse_args(argv), "verbosity", None) == verbosity


def test_quiet_and_verbose_together_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["train", "d.csv", "--quiet", "--verbose"])
    assert exit_info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_only_the_settings_given_reach_the_classifier():
    args = cli.build_parser().parse_args(
        ["train", "d.csv", "--epochs", "3", "--class-weight", "balanced", "--ensemble-size", "auto", "--streaming"]
    )
    assert cli._settings_given(args) == {
        "epochs": 3, "class_weight": "balanced", "ensemble_size": "auto", "streaming": True,
    }
    assert cli._settings_given(cli.build_parser().parse_args(["train", "d.csv"])) == {}


def run_python(code, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={**environment, **(env or {})},
    )


def test_library_info_messages_show_without_any_logging_setup():
    result = run_python(
        "import logging, transformer_kit; log = logging.getLogger('transformer_kit.training');"
        "log.info('Training transformer 1/3'); log.debug('hidden'); log.warning('careful')"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Training transformer 1/3\n"
    assert result.stderr == "Warning: careful\n"


def test_library_messages_go_to_the_users_logging_configuration_once():
    result = run_python(
        "import logging, transformer_kit; logging.basicConfig(format='%(name)s: %(message)s');"
        "logging.getLogger('transformer_kit.training').info('Training transformer 1/3')"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "transformer_kit.training: Training transformer 1/3\n"


def test_library_messages_reach_caplog_and_are_not_printed(caplog, capsys):
    with caplog.at_level(logging.INFO, logger="transformer_kit"):
        logging.getLogger("transformer_kit.training").info("Training transformer 1/3")
    assert "Training transformer 1/3" in caplog.text
    assert capsys.readouterr().out == ""


def test_cli_logging_writes_messages_to_stderr_at_the_chosen_level():
    code = (
        "import logging; from transformer_kit.logs import configure_logging;"
        "configure_logging(logging.WARNING); log = logging.getLogger('transformer_kit.cli');"
        "log.info('step'); log.warning('careful');"
        "configure_logging(logging.DEBUG); log.debug('detail')"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert (result.stdout, result.stderr) == ("", "Warning: careful\ndetail\n")


def test_quiet_tensorflow_respects_the_users_log_level():
    code = (
        "import os; from transformer_kit.logs import quiet_tensorflow;"
        "print(quiet_tensorflow(), os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    result = run_python(code, env={"TF_CPP_MIN_LOG_LEVEL": "1"})
    assert result.stdout.split() == ["False", "1"]


@pytest.mark.parametrize("level", ["3", "1"])
def test_a_users_log_level_hides_tensorflows_start_up_records_below_it(tmp_path, level):
    # TensorFlow prints "I0000 ... cudart_stub.cc:31] Could not find cuda drivers" at import, whatever
    # TF_CPP_MIN_LOG_LEVEL says; the command line imports TensorFlow before it reads the data.
    result = run_cli("train", tmp_path / "nope.csv", "--output", tmp_path / "run", env={"TF_CPP_MIN_LOG_LEVEL": level})
    assert result.returncode == 2
    records = re.findall(r"^([IWEF])\d{4} ", result.stderr, re.MULTILINE)
    assert not [severity for severity in records if "IWEF".index(severity) < int(level)], result.stderr
    assert "absl::InitializeLog" not in result.stderr
    assert "nope.csv" in result.stderr


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
    fails_with(capsys, ["train", tmp_path / "latin.csv", "--encoding", "utf-8", "--output", tmp_path / "r"],
               "not valid utf-8", "--encoding cp1252")


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
