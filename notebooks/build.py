"""Generate the notebooks `notebooks/NN_name.ipynb` from their sources `notebooks/src/NN_name.py`.

    .venv/bin/python notebooks/build.py           # rewrite every .ipynb from its source
    .venv/bin/python notebooks/build.py --check   # exit 1 listing the .ipynb that are stale or missing
    .venv/bin/python notebooks/build.py --execute # also run each one into notebooks/executed/ (with outputs)

A source is a Python script in the "percent" format that Jupytext, VS Code and
PyCharm read as cells: a line `# %%` opens a code cell, `# %% [markdown]` a
markdown cell whose lines are comments (`# ` stripped). The script is the
reviewed text (plain diffs, runnable and lintable as Python); the .ipynb is
generated from it, without outputs, so it opens directly in Jupyter and its
diffs stay as small as the source's. Cell ids are numbered, not random, so the
same source always gives the same file byte for byte.
"""

import argparse
import pathlib
import sys

import nbformat

NOTEBOOKS_DIR = pathlib.Path(__file__).resolve().parent
SOURCES_DIR = NOTEBOOKS_DIR / "src"
EXECUTED_DIR = NOTEBOOKS_DIR / "executed"
EXECUTION_TIMEOUT_S = 300

_CELL_MARKER = "# %%"
_MARKDOWN_MARKER = "# %% [markdown]"

_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def parse_cells(text, where="<source>"):
    """The cells of a percent-format script as `[(kind, source)]`, kind "code" or "markdown"."""
    cells = []
    kind, lines = None, []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(_CELL_MARKER):
            marker = line.rstrip()
            if marker not in (_CELL_MARKER, _MARKDOWN_MARKER):
                raise ValueError(
                    f"{where}:{number}: unknown cell marker {marker!r}; use {_CELL_MARKER!r} or {_MARKDOWN_MARKER!r}"
                )
            if kind is not None:
                cells.append((kind, lines))
            kind, lines = ("markdown" if marker == _MARKDOWN_MARKER else "code"), []
        elif kind is None:
            if line.strip():
                raise ValueError(f"{where}:{number}: text before the first cell marker {_CELL_MARKER!r}")
        elif kind == "markdown":
            if line.strip() and not line.startswith("#"):
                raise ValueError(f"{where}:{number}: a markdown cell's lines must be comments, got {line!r}")
            lines.append(line[2:] if line.startswith("# ") else line[1:])
        else:
            lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    result = []
    for kind, body in cells:
        source = "\n".join(body).strip("\n")
        if not source.strip():
            raise ValueError(f"{where}: an empty {kind} cell; remove its marker")
        result.append((kind, source))
    if not result:
        raise ValueError(f"{where}: no cells (a source starts with {_CELL_MARKER!r} or {_MARKDOWN_MARKER!r})")
    return result


def build_notebook(source_path):
    """The notebook (an `nbformat.NotebookNode`, no outputs) for one source file."""
    source_path = pathlib.Path(source_path)
    notebook = nbformat.v4.new_notebook(metadata=_METADATA)
    for index, (kind, source) in enumerate(parse_cells(source_path.read_text(encoding="utf-8"), source_path.name)):
        make_cell = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        notebook.cells.append(make_cell(source, id=f"cell-{index:02d}"))
    nbformat.validate(notebook)
    return notebook


def render(notebook):
    """The notebook's file text, as Jupyter writes it (one-space indent, trailing newline)."""
    return nbformat.writes(notebook) + "\n"


def sources():
    """Every notebook source, in order."""
    return sorted(SOURCES_DIR.glob("[0-9][0-9]_*.py"))


def notebook_path(source_path):
    return NOTEBOOKS_DIR / (pathlib.Path(source_path).stem + ".ipynb")


def executed_path(source_path):
    return EXECUTED_DIR / (pathlib.Path(source_path).stem + ".ipynb")


def execute(source_path):
    """The notebook of `source_path` run top to bottom, with its outputs and figures, and metadata that does
    not change between runs (no timings, no kernel versions): the copy a reader opens without running it."""
    import os

    import nbclient

    notebook = build_notebook(source_path)
    # The kernel draws figures inline (into the outputs) only under its own backend, not a forced Agg one.
    os.environ.pop("MPLBACKEND", None)
    os.environ["JUPYTER_PREFER_ENV_PATH"] = "1"
    client = nbclient.NotebookClient(
        notebook,
        timeout=EXECUTION_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()
    notebook.metadata = nbformat.from_dict(_METADATA)
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    nbformat.validate(notebook)
    return notebook


def stale_notebooks():
    """The .ipynb paths whose content differs from what their source generates (or that are missing)."""
    stale = []
    for source in sources():
        target = notebook_path(source)
        if not target.exists() or target.read_text(encoding="utf-8") != render(build_notebook(source)):
            stale.append(target)
    return stale


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks (exit 1 if any)")
    parser.add_argument(
        "--execute", action="store_true", help="also run each notebook into executed/, outputs included (minutes)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_notebooks()
        for path in stale:
            print(f"stale: {path.relative_to(NOTEBOOKS_DIR)} (run notebooks/build.py)")
        return 1 if stale else 0
    for source in sources():
        target = notebook_path(source)
        target.write_text(render(build_notebook(source)), encoding="utf-8")
        print(f"wrote {target.relative_to(NOTEBOOKS_DIR)}")
        if args.execute:
            EXECUTED_DIR.mkdir(exist_ok=True)
            executed = executed_path(source)
            executed.write_text(render(execute(source)), encoding="utf-8")
            print(f"wrote {executed.relative_to(NOTEBOOKS_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
