"""The teaching notebooks: each runs top to bottom without error (its last cell asserts its findings),
within the time budget, and every committed .ipynb is exactly what its source in notebooks/src generates;
each ends with exercises whose worked solutions (notebooks/solutions) run and assert their answers; the
executed copies (notebooks/executed, with outputs) come from the current sources; none needs PyTorch or MPI."""

import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import time

import nbclient
import nbformat
import pytest

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent.parent / "notebooks"
# The budget per notebook, on a 2-core machine.
NOTEBOOK_BUDGET_S = 120
SOLUTION_BUDGET_S = 60
SOLUTIONS_DIR = NOTEBOOKS_DIR / "solutions"


def _load_build():
    spec = importlib.util.spec_from_file_location("notebooks_build", NOTEBOOKS_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
SOURCES = build.sources()


def test_the_notebooks_are_numbered_one_to_eleven():
    assert [path.stem[:2] for path in SOURCES] == [f"{n:02d}" for n in range(1, 12)]


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


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_ends_with_exercises_that_have_solutions(source):
    cells = build.parse_cells(source.read_text(encoding="utf-8"))
    kind, text = cells[-1]
    assert kind == "markdown" and text.startswith("## Exercises"), f"{source.name}: the last cell is not ## Exercises"
    exercises = re.findall(r"^\d+\. ", text, flags=re.MULTILINE)
    assert 3 <= len(exercises) <= 6, f"{source.name}: {len(exercises)} exercises, expected 3 to 6"
    solution = SOLUTIONS_DIR / source.name
    assert solution.exists(), f"{source.name}: no worked solutions in notebooks/solutions"
    answered = re.findall(r"^# Exercise (\d+)", solution.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert [int(n) for n in answered] == list(range(1, len(exercises) + 1)), f"{solution.name} answers {answered}"


@pytest.mark.parametrize("solution", sorted(SOLUTIONS_DIR.glob("[0-9][0-9]_*.py")), ids=lambda path: path.stem)
def test_solution_runs_and_asserts(solution):
    assert re.search(r"^\s*assert ", solution.read_text(encoding="utf-8"), flags=re.MULTILINE), "asserts nothing"
    root = str(NOTEBOOKS_DIR.parent)
    environment = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(solution)], cwd=NOTEBOOKS_DIR, env=environment, capture_output=True, text=True, timeout=300
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, f"{solution.name} failed:\n{result.stderr[-3000:]}"
    assert elapsed < SOLUTION_BUDGET_S, f"{solution.name} took {elapsed:.0f} s, over {SOLUTION_BUDGET_S} s"


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_executed_copy_comes_from_the_current_source(source):
    executed = build.executed_path(source)
    assert executed.exists(), f"{executed.name} is missing: run notebooks/build.py --execute"
    ran = nbformat.read(executed, as_version=4)
    expected = build.build_notebook(source)
    assert [c.source for c in ran.cells] == [c.source for c in expected.cells], (
        f"{executed.name} was run from an older source: run notebooks/build.py --execute"
    )
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == [], f"{executed.name} has error outputs"
    assert any(
        o.output_type in ("display_data", "execute_result")
        for c in ran.cells
        if c.cell_type == "code"
        for o in c.outputs
    )


@pytest.mark.parametrize("path", [*SOURCES, *sorted(SOLUTIONS_DIR.glob("*.py"))], ids=lambda path: path.name)
def test_notebooks_never_need_torch_or_mpi(path):
    imports = re.findall(r"^\s*(?:import|from)\s+([\w.]+)", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert not [name for name in imports if name.split(".")[0] in ("torch", "mpi4py", "IPython")]
