"""Every notebook executes top to bottom, and is stored without outputs.

Notebooks run in a fresh ``python3`` kernel with ``notebooks/`` as the
working directory, the way a student opens them.  A notebook that asserts
its own results (as ``01_vanishing_gradient_rnn.ipynb`` does) fails here
when a result stops holding.
"""

import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook, new_output

pytestmark = pytest.mark.heavy  # run first: see conftest.py

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNEL = "python3"
#: Seconds any one cell may take.
CELL_TIMEOUT = 600


def _execution_error(nb: nbformat.NotebookNode, cwd: Path) -> str | None:
    """Run ``nb`` in place; the first failing cell's report, or None."""
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        return str(exc)
    return None


def _stored_outputs(nb: nbformat.NotebookNode) -> list[int]:
    """Indices of code cells that carry outputs or an execution count."""
    return [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]


def test_there_are_notebooks():
    assert PATHS, f"no notebooks found in {NOTEBOOKS}"


def test_the_python3_kernel_runs_this_interpreter():
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        pytest.fail(
            f"no {KERNEL!r} kernelspec: install ipykernel into this environment "
            "(pip install -e '.[dev]'), or run `python -m ipykernel install --sys-prefix`"
        )
    # jupyter_client starts a bare "python" (or "python3") as sys.executable, so
    # the kernel imports the same gradproof as the tests; a spec naming another
    # interpreter (a stale one in the user's Jupyter directory wins) may not.
    command = spec.argv[0]
    same = command in {"python", "python3"} or (
        Path(command).exists() and Path(command).samefile(sys.executable)
    )
    assert same, (
        f"the {KERNEL!r} kernelspec in {spec.resource_dir} runs {command}, not {sys.executable}; "
        "remove it or run `python -m ipykernel install --sys-prefix`"
    )


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = _stored_outputs(nb)
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them"


@pytest.mark.parametrize("path", PATHS, ids=[p.name for p in PATHS])
def test_notebook_executes(path):
    error = _execution_error(nbformat.read(path, as_version=4), NOTEBOOKS)
    if error is not None:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)


def test_the_checks_catch_a_failing_cell_and_a_stored_output(tmp_path):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("assert x == 2, 'x is 1'")])
    error = _execution_error(nb, tmp_path)
    assert error is not None and "x is 1" in error
    assert _stored_outputs(nb) == [0, 1]
    clean = new_notebook(cells=[new_code_cell("x = 1")])
    assert _stored_outputs(clean) == []
    clean.cells[0].outputs.append(new_output("stream", name="stdout", text="1\n"))
    assert _stored_outputs(clean) == [0]
