"""The teaching notebooks: each runs top to bottom without error (its last cell asserts its findings),
within the time budget, and every committed .ipynb is exactly what its source in notebooks/src generates."""

import importlib.util
import pathlib
import re
import time

import nbclient
import nbformat
import pytest

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
# The budget per notebook, on a 2-core machine.
NOTEBOOK_BUDGET_S = 120


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
SOURCES = build.sources()


def test_the_notebooks_are_numbered_one_to_ten():
    assert [path.stem[:2] for path in SOURCES] == [f"{n:02d}" for n in range(1, 11)]


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_is_generated_from_its_source(source):
    target = build.notebook_path(source)
    assert target.exists(), f"{target.name} is missing: run notebooks/build.py"
    assert target.read_text(encoding="utf-8") == build.render(build.build_notebook(source)), (
        f"{target.name} is stale: run notebooks/build.py"
    )


def test_every_notebook_has_a_source():
    generated = {build.notebook_path(source).name for source in SOURCES}
    assert {path.name for path in NOTEBOOKS_DIR.glob("*.ipynb")} == generated


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_ends_with_asserted_findings(source):
    cells = build.parse_cells(source.read_text(encoding="utf-8"))
    last_code = [text for kind, text in cells if kind == "code"][-1]
    assert re.search(r"^assert ", last_code, flags=re.MULTILINE), f"{source.name}: the last code cell asserts nothing"
    assert any(kind == "markdown" and "Findings" in text for kind, text in cells), f"{source.name}: no Findings section"


def test_readme_links_every_notebook():
    readme = (NOTEBOOKS_DIR / "README.md").read_text(encoding="utf-8")
    for source in SOURCES:
        assert f"({build.notebook_path(source).name})" in readme, f"README.md does not link {source.stem}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_runs(source, monkeypatch):
    # The kernel inherits this process's environment: matplotlib draws off-screen, never opening a window.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Take the "python3" kernel of this environment (ipykernel's, run by this interpreter), not one that a
    # user-wide Jupyter install may define for another Python.
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")
    notebook = nbformat.read(build.notebook_path(source), as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=NOTEBOOK_BUDGET_S, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS_DIR)}}
    )
    started = time.perf_counter()
    client.execute()  # raises CellExecutionError, quoting the cell and its traceback, on any error
    elapsed = time.perf_counter() - started
    assert elapsed < NOTEBOOK_BUDGET_S, f"{source.stem} took {elapsed:.0f} s, over the {NOTEBOOK_BUDGET_S} s budget"
