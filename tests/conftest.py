"""Test-suite setup: quiet TensorFlow, the helpers module on the path, and the `slow` marker.

Which tests are slow
--------------------
`python -m pytest -m "not slow"` runs the fast tests only (what `.ci/run`
runs a second time against the minimum versions declared in setup.cfg).
A test is slow when it trains a `TextClassifier` end to end, runs a notebook,
or round-trips an export; it is marked here, by name, so that the test files
need no edits:

- every test that requests one of `SLOW_FIXTURES` (directly or through another
  fixture): fixtures that train a classifier, once per module or, for
  `default_classifier` (below), once per session;
- every test listed in `SLOW_TESTS` as ``"module::test_name"`` (all of its
  parametrizations), for tests that train inside the test body;
- and any test marked ``@pytest.mark.slow`` in its own file.

A name in these lists that no longer matches a collected test is reported
(see `pytest_collection_modifyitems`), so a rename cannot silently move a
slow test into the fast run. Training a plain Keras model on a few hundred
rows (test_models) is fast and stays in it.

Parallel workers
----------------
`python -m pytest` runs the suite on pytest-xdist workers (in the dev extra;
setup.cfg's addopts: one per core, at most 4, `--dist loadgroup`; `-n 0` runs
it in one process). Tests are handed out one by one, except those that
share a trained fixture: every test that requests one of `SLOW_FIXTURES` is
grouped (an ``xdist_group`` mark) with the other tests of its module, or with
all the tests of `default_classifier` for that session-wide one, so that each
classifier is still trained once, on one worker. The notebooks and the other
slow tests are collected first, so that the longest ones start early and do
not leave one worker running alone at the end.
"""

import os
import sys
import warnings
from pathlib import Path

import pytest

# Quiet TensorFlow's start-up chatter in test output; must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Under pytest-xdist, each worker's TensorFlow gets its share of the cores for its op threads (and
# OpenMP/oneDNN the same): by default every TensorFlow process sizes its pools to all the cores, so two
# workers on 2 cores oversubscribe them. Measured on 2 cores: 502 s and 862 CPU-s (user) without,
# 442 s and 743 CPU-s with. Set before TensorFlow is imported; notebooks and CLI subprocesses inherit it.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
if _WORKERS > 1:
    from transformer_kit.cores import available_cores

    _SHARE = str(max(1, available_cores() // _WORKERS))
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", _SHARE)
    os.environ.setdefault("OMP_NUM_THREADS", _SHARE)
# Let tests import the shared helpers module next to them.
sys.path.insert(0, str(Path(__file__).parent))

SLOW_FIXTURES = {
    "default_classifier",  # here: shared by test_estimator, test_explain, test_reliability
    "trained",  # test_classifier, test_explain
    "trained_run",  # test_cli
    "binary_classifier",  # test_export
    "exported",  # test_export
    "fitted",  # test_reliability
    "saved_run",  # test_reliability, test_explain
    "multilabel_classifier",  # test_multilabel
    "pooled_classifier",  # test_blending
    "naive_bayes_classifier",  # test_blending
    "serving_default",  # test_reliability
    "served_classifier",  # test_serving
    "backbone_run",  # test_backbones
    "synonym_teacher",  # test_distillation
}

SLOW_TESTS = {
    "test_backbones::test_backbone_run_resumes_from_its_backup_and_trains_streamed",
    "test_backbones::test_backbone_trains_under_the_mirrored_strategy_from_the_cli_when_batches_split_unevenly",
    "test_backbones::test_cross_validation_clones_a_backbone_classifier_and_every_fold_trains_the_backbone",
    "test_backbones::test_default_blend_with_a_backbone_trains_and_cli_trains_exports_and_predicts",
    "test_backbones::test_sentencepiece_backbone_trains_on_chinese_saves_exports_and_multi_label_works",
    "test_classifier::test_binary_roc_auc_equals_scikit_learn",
    "test_classifier::test_chinese_text_uses_characters_and_learns",
    "test_classifier::test_default_preset_chooses_and_saves_its_blend_weight",
    "test_classifier::test_ensemble_members_reuse_one_compiled_model_yet_train_as_if_alone",
    "test_distillation::test_multi_label_teacher_teaches_a_multi_label_student",
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


@pytest.fixture(scope="session")
def default_classifier():
    """The default preset, fitted once for the whole session: two transformers and the n-gram branch,
    blended, on three keyword classes (`keyword_data.KEYWORDS`: the keyword gives the class away).

    Shared by every module that needs "a trained default classifier" (each used to train its own):
    tests read it, save it, export it, but must never change it.
    """
    from keyword_data import KEYWORDS, keyword_dataset
    from transformer_kit import TextClassifier

    classifier = TextClassifier(
        preset="default", epochs=2, ensemble_size=2, embed_dim=16, num_heads=2, ff_dim=32, verbose=0
    )
    return classifier.fit(*keyword_dataset(240, classes=list(KEYWORDS)))


def _module_name(item):
    module = getattr(item, "module", None)  # doctest items have none
    return module.__name__ if module is not None else ""


def _worker_group(item):
    """The pytest-xdist group of a test that shares a trained fixture (see the module docstring), else None."""
    fixtures = SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if "default_classifier" in fixtures:
        return "default_classifier"
    return _module_name(item) if fixtures else None


def _test_key(item):
    return f"{_module_name(item)}::{getattr(item, 'originalname', item.name)}"


def _start_order(item):
    """0 for a notebook run, 1 for another slow test, 2 for the rest (a stable sort keeps the order within)."""
    if _test_key(item) == "test_notebooks::test_notebook_runs_in_fast_mode":
        return 0
    return 1 if item.get_closest_marker("slow") else 2


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
        group = _worker_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    # The longest tests first: pytest-xdist hands out a group's tests together, largest groups first, and
    # then the single tests in this order; a notebook started last would leave the other worker idle.
    items.sort(key=_start_order)
    collected_modules = {_module_name(item) for item in items}
    stale = sorted(key for key in SLOW_TESTS - matched if key.split("::")[0] in collected_modules)
    if stale:
        warnings.warn(
            f"tests/conftest.py SLOW_TESTS names tests that no longer exist: {', '.join(stale)}. "
            "Update the list (a renamed slow test would otherwise run with the fast tests).",
            stacklevel=1,
        )



def pytest_configure(config):
    """Refuse pytest 9.2+ with pytest-xdist <= 3.8 under --dist loadgroup: it silently stops grouping.

    pytest-xdist marks a grouped test by appending "@group" to its node id on the worker; pytest 9.2
    stopped that from taking effect (pytest-xdist#1386). The run still passes, but every worker trains
    the shared fixtures again. `pytest_collection_finish` below catches other versions that lose groups.
    """
    from importlib.metadata import version

    from packaging.version import Version

    if config.getoption("dist", "no") != "loadgroup" or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if Version(pytest.__version__) >= Version("9.2.dev0") and Version(version("pytest-xdist")) <= Version("3.8.0"):
        raise pytest.UsageError(
            f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')} does not group tests under "
            "--dist loadgroup (pytest-xdist#1386): every worker would train the shared fixtures again. Install "
            'the dev extra\'s pytest (pip install "pytest<9.2"), or run in one process with -n 0.'
        )


def pytest_collection_finish(session):
    """Warn when pytest-xdist's loadgroup lost its groups on this worker (see `pytest_configure`)."""
    if not (os.environ.get("PYTEST_XDIST_WORKER") and getattr(session.config.option, "loadgroup", False)):
        return
    lost = [item.nodeid for item in session.items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        warnings.warn(
            f"pytest-xdist's --dist loadgroup did not group {len(lost)} tests (e.g. {lost[0]}): each worker trains "
            "their shared fixtures again. Run with -n 0, or a pytest and pytest-xdist that group.",
            stacklevel=1,
        )
