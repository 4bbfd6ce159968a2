"""The tutorial notebooks: each runs top to bottom (FAST mode), and the committed copies are clean.

Executing a notebook takes tens of seconds; the FAST budget parameter
(`TRANSFORMER_KIT_NOTEBOOK_FAST=1`) makes each train for one epoch on a few
hundred rows. Notebooks run from a temporary copy, so the committed file and its
outputs (from a full run) are never rewritten.
"""

import os
from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(path.name for path in NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
ABSOLUTE_PATH_MARKERS = ("/work/", "/tmp/")


def read(name):
    return nbformat.read(NOTEBOOK_DIR / name, as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


# Notebooks that read a data set not bundled in data/ (from the shared data folder beside the
# checkout, or TRANSFORMER_KIT_SHARED_DATA): they cannot run in a checkout without it.
NEEDS_SHARED_DATA = {"06_multilabel.ipynb": Path("en") / "multilabel" / "goemotions_train.csv"}


def shared_data_folder():
    """Where the notebooks look for the shared data: `TRANSFORMER_KIT_SHARED_DATA`, else `../shared/data`."""
    return Path(os.environ.get("TRANSFORMER_KIT_SHARED_DATA") or NOTEBOOK_DIR.parent.parent / "shared" / "data")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_fast_mode(name, tmp_path, monkeypatch):
    needed = NEEDS_SHARED_DATA.get(name)
    if needed is not None and not (shared_data_folder() / needed).is_file():
        pytest.skip(f"{name} reads {needed}, not found under {shared_data_folder()}: set "
                    "TRANSFORMER_KIT_SHARED_DATA to the folder that holds it")
    notebook = read(name)
    # The kernel inherits the environment: FAST mode, and trained models in tmp_path, not the repository.
    monkeypatch.setenv("TRANSFORMER_KIT_NOTEBOOK_FAST", "1")
    monkeypatch.setenv("TRANSFORMER_KIT_NOTEBOOK_OUTPUT", str(tmp_path / "outputs"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # relative ../data paths
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    nbformat.write(notebook, tmp_path / name)  # a copy to inspect when debugging
    errors = [o for cell in code_cells(notebook) for o in cell.outputs if o.output_type == "error"]
    assert not errors


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_reads_as_a_fast_budget_parameter_first(name):
    first = code_cells(read(name))[0].source
    assert 'FAST = os.environ.get("TRANSFORMER_KIT_NOTEBOOK_FAST") == "1"' in first


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_outputs_of_a_clean_full_run(name):
    notebook = read(name)
    cells = code_cells(notebook)
    assert all(cell.get("execution_count") for cell in cells), "some code cells were never run"
    assert "Full run" in "".join(o.get("text", "") for o in cells[0].outputs), "saved from a FAST run"
    silent = [cell.source.splitlines()[0] for cell in cells if not cell.outputs]
    assert not silent, f"code cells without outputs: {silent}"
    for cell in cells:
        for output in cell.outputs:
            assert output.output_type != "error", f"error output in cell: {cell.source[:80]!r}"
            assert not (output.output_type == "stream" and output.name == "stderr"), (
                f"stderr output in cell: {cell.source[:80]!r}"
            )
    text = (NOTEBOOK_DIR / name).read_text(encoding="utf-8")
    for marker in ABSOLUTE_PATH_MARKERS:
        assert marker not in text, f"{name} contains an absolute path ({marker})"
    assert len(text.encode()) < 1_000_000, f"{name} is over 1 MB"


def test_unlabeled_text_notebook_plots_accuracy_without_and_with_vectors():
    cells = code_cells(read("07_unlabeled_text.ipynb"))
    plot = [cell for cell in cells if "ax.bar(" in cell.source]
    assert len(plot) == 1 and 'results["word vectors"]' in plot[0].source
    images = [output for output in plot[0].outputs if "image/png" in output.get("data", {})]
    assert len(images) == 1, "the committed notebook shows no plot"
