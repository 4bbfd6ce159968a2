"""Tests for `transformer_kit.config`: one source for every default, and the declared dependency floors."""

import ast
import configparser
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from transformer_kit.config import (
    AUTO_ENSEMBLE_MAX_TEXTS,
    AUTO_ENSEMBLE_SIZE,
    PRESETS,
    STRATEGIES,
    ModelConfig,
    TrainingConfig,
    make_configs,
)

ROOT = Path(__file__).resolve().parent.parent


def field_defaults():
    """Every setting's default for the default preset: the dataclasses, then the preset."""
    defaults = {
        field.name: field.default
        for config in (ModelConfig, TrainingConfig)
        for field in dataclasses.fields(config)
        if field.name != "preset"
    }
    return {**defaults, **PRESETS[TrainingConfig.preset]}


def readme_settings_paragraph():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("Settings (see `transformer_kit.config`)")
    return readme[start : readme.index("\n\n", start)]


def written_settings(text):
    """`name=value` pairs written in backticks, with the values as Python literals."""
    return [(name, ast.literal_eval(value)) for name, value in re.findall(r"`(\w+)=([^`]+)`", text)]


def test_readme_settings_paragraph_lists_every_setting_with_its_default():
    settings, presets = readme_settings_paragraph().split("Presets:")
    written = written_settings(settings)
    assert sorted(name for name, _ in written) == sorted(field_defaults()), "a setting is missing or repeated"
    wrong = {name: (value, field_defaults()[name]) for name, value in written if value != field_defaults()[name]}
    assert not wrong, f"README default (written, in config.py): {wrong}"
    assert f"{AUTO_ENSEMBLE_SIZE} below {AUTO_ENSEMBLE_MAX_TEXTS:,} training texts" in " ".join(settings.split())


def test_readme_presets_match_the_presets():
    _, presets = readme_settings_paragraph().split("Presets:")
    written = {name: dict(written_settings(values)) for name, values in re.findall(r'`"(\w+)"` \(([^)]*)\)', presets)}
    assert written == PRESETS


def test_make_configs_applies_preset_then_overrides():
    model_config, training_config = make_configs("ensemble", epochs=3, embed_dim=32, seed=None)
    assert (training_config.preset, training_config.ensemble_size, training_config.ngram_weight) == ("ensemble", 3, 0.0)
    assert (training_config.epochs, model_config.embed_dim) == (3, 32)
    assert training_config.seed == TrainingConfig.seed  # None means "not given"


@pytest.mark.parametrize(
    ("settings", "name"),
    [({"epochs": 0}, "epochs"), ({"strategy": "gpu"}, "strategy"), ({"ngram_weight": 2}, "ngram_weight"),
     ({"learning_rat": 1e-3}, "learning_rat")],
)
def test_invalid_settings_name_the_setting(settings, name):
    with pytest.raises(ValueError, match=name):
        make_configs(**settings)


def test_config_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys, transformer_kit.config, transformer_kit.checks;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_distribution_uses_the_strategies_of_the_config():
    distribution = pytest.importorskip("transformer_kit.distribution")
    assert distribution.STRATEGIES is STRATEGIES


# ------------------------------------------------------------- dependency floors


def declared_floors():
    """`name -> minimum version` from setup.cfg's install_requires and the parquet, serve and hub extras."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    floors = {}
    lines = [*parser["options"]["install_requires"].strip().splitlines(),
             *parser["options.extras_require"]["parquet"].strip().splitlines(),
             *parser["options.extras_require"]["serve"].strip().splitlines(),
             *parser["options.extras_require"]["hub"].strip().splitlines()]
    for line in lines:
        requirement = Requirement(line)
        minimums = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        assert len(minimums) == 1, f"{line}: declare exactly one floor (>=)"
        floors[requirement.name] = minimums[0]
    return floors


def pinned_minimums():
    """`name -> version` from the pins that .ci/run installs to prove the floors."""
    pins = {}
    for line in (ROOT / ".ci" / "minimum-versions.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip()] = Version(version)
    return pins


def test_ci_pins_exactly_the_declared_floors():
    assert pinned_minimums() == declared_floors()


def test_the_dev_extra_installs_pyarrow_at_the_parquet_floor():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    extras = parser["options.extras_require"]
    dev = {Requirement(line).name: Requirement(line) for line in extras["dev"].strip().splitlines()}
    assert str(dev["pyarrow"]) == extras["parquet"].strip()


def test_the_dev_extra_installs_the_serve_extra_at_its_floors():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    extras = parser["options.extras_require"]
    dev = {str(Requirement(line)) for line in extras["dev"].strip().splitlines()}
    assert {str(Requirement(line)) for line in extras["serve"].strip().splitlines()} <= dev


def test_the_dev_extra_installs_the_hub_extra_at_its_floors():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    extras = parser["options.extras_require"]
    dev = {Requirement(line).name: str(Requirement(line)) for line in extras["dev"].strip().splitlines()}
    for line in extras["hub"].strip().splitlines():
        assert dev.get(Requirement(line).name) == str(Requirement(line)), line
