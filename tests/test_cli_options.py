"""The `train` options are built from `transformer_kit.config`'s fields: a setting is declared once, there."""

import argparse
import ast
import dataclasses
from pathlib import Path

import pytest

from transformer_kit import cli
from transformer_kit.cli.options import add_setting, setting_fields
from transformer_kit.config import python_only, setting

ROOT = Path(__file__).resolve().parent.parent


def train_parser():
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices["train"]


def test_every_config_field_is_declared_with_its_help():
    plain = [field.name for field in setting_fields() if "help" not in field.metadata]
    assert not plain, f"declare these fields with config.setting(...) or config.python_only(...): {plain}"


def test_every_setting_of_the_config_has_a_train_option_and_python_only_fields_none():
    options = {action.dest: action for action in train_parser()._actions}
    for field in setting_fields():
        if field.metadata["option"] is None:
            assert field.name not in options, f"{field.name} is python_only but has an option"
        else:
            assert field.name in options, f"config field {field.name} has no train option"
            assert options[field.name].option_strings == ["--" + field.name.replace("_", "-")]
            assert options[field.name].help.startswith(field.metadata["help"].replace("%", "%%")), field.name


def test_a_field_declared_with_setting_becomes_an_option_with_its_default_stated():
    @dataclasses.dataclass
    class NewSettings:
        window_size: int = setting(5, "Words on each side.", "N", type=int)
        mode: int | str = setting("auto", "How many, or 'auto'.", "N", type=int, auto="a whole number")
        fast: bool = setting(False, "Go fast.", action="store_const", const=True)
        hidden: int = python_only(3, "Not on the command line.")

    parser = argparse.ArgumentParser(prog="p")
    for field in dataclasses.fields(NewSettings):
        if field.metadata["option"] is not None:
            add_setting(parser, field)
    assert parser.parse_args(["--window-size", "7", "--mode", "auto", "--fast"]) == argparse.Namespace(
        window_size=7, mode="auto", fast=True
    )
    assert parser.parse_args([]) == argparse.Namespace(window_size=None, mode=None, fast=None)
    helps = {action.dest: action.help for action in parser._actions}
    assert helps["window_size"] == "Words on each side. Default: 5."
    assert helps["fast"] == "Go fast. Default: False."
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "many"])


def test_a_plain_field_is_refused_with_the_fix():
    @dataclasses.dataclass
    class Plain:
        width: int = 3

    with pytest.raises(TypeError, match=r"'width'.*config\.setting"):
        add_setting(argparse.ArgumentParser(), dataclasses.fields(Plain)[0])


def test_train_help_lines_are_unchanged(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    lines = train_parser().format_help().splitlines()
    expected = [
        "  --preset {default,single,ensemble,small}",
        "  --epochs N            Maximum epochs per transformer (early stopping usually ends sooner).",
        "                        Default: 10.",
        "  --class-weight {balanced,none}",
        "                        'balanced' weights classes inversely to their frequency (imbalanced data).",
        "  --ensemble-size N     Number of transformers averaged, or 'auto': 3 below 20,000 training texts,",
        "                        else 1. Default: from --preset (default: auto, single: 1, ensemble: 3,",
        "                        small: 1).",
        "  --learning-rate LR    Peak AdamW learning rate (warmup, then cosine decay). Default: 0.002.",
        "                        run's and its weights are fine-tuned (learning rate 5e-05 unless",
        "  --vector-workers N    With --unlabeled: threads that learn the word vectors. 1 makes them (and",
        "  --embed-dim N         Embedding width. Default: from --preset (small: 32; others: 64).",
        "  --attention-dropout RATE",
        "                        Dropout on attention probabilities. Default: 0.0.",
    ]
    for line in expected:
        assert line in lines, line
    # The groups, and the options' order within them, as before the options came from config.py.
    order = ["--overwrite", "--preset", "--streaming", "--tensorboard", "training settings:",
             "--validation-fraction", "--epochs", "--multi-label", "--threshold", "--ensemble-size", "--backbone",
             "--unlabeled", "--vector-workers", "--self-training", "--pseudo-label-weight", "--teacher",
             "--distill-temperature", "--true-label-weight", "model size:", "--embed-dim", "--num-heads",
             "--num-layers", "--ff-dim", "--dropout", "--attention-dropout", "examples:"]
    starts = [next(i for i, line in enumerate(lines) if line.strip().startswith(item + " ") or line == item
                   or line.strip() == item) for item in order]
    assert starts == sorted(starts)


def test_train_usage_lists_the_settings_in_their_order(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    usage = " ".join(train_parser().format_usage().split())
    assert ("[--output DIR] [--overwrite] [--preset {default,single,ensemble,small}] [--validation-fraction F] "
            "[--epochs N] [--batch-size N]") in usage
    assert "[--attention-dropout RATE] [--streaming] [--tensorboard DIR] DATA [DATA ...]" in usage


def test_no_function_in_the_cli_is_longer_than_60_lines():
    long = []
    for path in sorted((ROOT / "transformer_kit" / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.name}:{node.name} ({node.end_lineno - node.lineno + 1} lines)")
    assert not long


@pytest.mark.parametrize(
    "data, stem",
    [("data/reviews.csv", "reviews"), ("data/part-*.csv.gz", "part"), ("data/[ab]*.jsonl", "run"),
     ("data/reviews-?.csv", "reviews")],
)
def test_the_default_run_folder_is_named_by_the_data_without_glob_characters(data, stem):
    from transformer_kit.cli.train import _default_output

    output = _default_output(data)
    assert output.parent == Path("runs")
    assert output.name.rsplit("-", 2)[0] == stem  # then the date and time
    assert not set("*?[]") & set(output.name)
