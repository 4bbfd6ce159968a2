"""Test-suite setup: quiet TensorFlow, the helpers module on the path, and the `slow` marker.

Which tests are slow
--------------------
`python -m pytest -m "not slow"` runs the fast tests only (what `.ci/run`
runs a second time against the minimum versions declared in setup.cfg).
A test is slow when it trains a `TextClassifier` end to end, runs a notebook,
or round-trips an export; it is marked here, by name, so that the test files
need no edits:

- every test that requests one of `SLOW_FIXTURES` (directly or through another
  fixture): module-scoped fixtures that train a classifier;
- every test listed in `SLOW_TESTS` as ``"module::test_name"`` (all of its
  parametrizations), for tests that train inside the test body;
- and any test marked ``@pytest.mark.slow`` in its own file.

A name in these lists that no longer matches a collected test is reported
(see `pytest_collection_modifyitems`), so a rename cannot silently move a
slow test into the fast run. Training a plain Keras model on a few hundred
rows (test_models) is fast and stays in it.
"""

import os
import sys
import warnings
from pathlib import Path

import pytest

# Quiet TensorFlow's start-up chatter in test output; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Let tests import the shared helpers module next to them.
sys.path.insert(0, str(Path(__file__).parent))

SLOW_FIXTURES = {
    "default_classifier",  # test_estimator
    "trained",  # test_classifier
    "trained_run",  # test_cli
    "exported",  # test_export
    "fitted",  # test_reliability
    "saved_run",  # test_reliability
    "pooled_classifier",  # test_blending
    "serving_default",  # test_reliability
}

SLOW_TESTS = {
    "test_classifier::test_binary_roc_auc_equals_scikit_learn",
    "test_classifier::test_chinese_text_uses_characters_and_learns",
    "test_classifier::test_default_preset_chooses_and_saves_its_blend_weight",
    "test_classifier::test_ensemble_members_reuse_one_compiled_model_yet_train_as_if_alone",
    "test_distribution::test_mirrored_strategy_on_two_devices_matches_one_device",
    "test_estimator::test_cross_val_score_and_grid_search_run",
    "test_estimator::test_fit_takes_texts_and_labels_and_returns_self",
    "test_distribution::test_multi_worker_training_with_two_processes_writes_one_run",
    "test_export::test_versions_increment_and_existing_version_needs_overwrite",
    "test_inputs::test_a_class_folder_trains_and_predicts_from_the_cli",
    "test_inputs::test_a_streamed_legacy_file_trains_with_its_encoding_and_fails_clearly_without",
    "test_inputs::test_title_and_body_export_reproduces_predictions_from_the_same_columns",
    "test_notebooks::test_notebook_runs_in_fast_mode",
    "test_reliability::test_same_seed_gives_identical_metrics_and_predictions",
    "test_reliability::test_training_killed_with_sigkill_resumes_and_completes",
    "test_streaming::test_streaming_mode_trains_and_predicts",
}


def _module_name(item):
    module = getattr(item, "module", None)  # doctest items have none
    return module.__name__ if module is not None else ""


def _test_key(item):
    return f"{_module_name(item)}::{getattr(item, 'originalname', item.name)}"


@pytest.hookimpl(tryfirst=True)  # before -k/-m deselect, so stale names are judged on everything collected
def pytest_collection_modifyitems(config, items):
    slow = pytest.mark.slow
    matched = set()
    for item in items:
        key = _test_key(item)
        if key in SLOW_TESTS:
            matched.add(key)
            item.add_marker(slow)
        elif SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(slow)
    collected_modules = {_module_name(item) for item in items}
    stale = sorted(key for key in SLOW_TESTS - matched if key.split("::")[0] in collected_modules)
    if stale:
        warnings.warn(
            f"tests/conftest.py SLOW_TESTS names tests that no longer exist: {', '.join(stale)}. "
            "Update the list (a renamed slow test would otherwise run with the fast tests).",
            stacklevel=1,
        )
