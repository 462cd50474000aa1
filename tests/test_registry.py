"""One registry: built-in families and a user's ``file.py:function`` through the same door."""

import subprocess
import sys

import pytest

from symbolic import Cell, CellFamily, family, family_names, register
from symbolic.registry import load_entry_point

CELL_FILE = """
import sympy as sp
from symbolic import CellBuilder, elementwise

def damped():
    cb = CellBuilder("damped")
    (n,) = cb.sizes("n")
    h = cb.state("h", n)
    W = cb.matrix("W", n, n)
    cb.update(h, elementwise("tanh", W * h))
    return cb.build()

def not_a_cell():
    return 42

def broken():
    raise RuntimeError("boom")
"""


@pytest.fixture
def cell_file(tmp_path):
    path = tmp_path / "my_cells.py"
    path.write_text(CELL_FILE)
    return path


def test_builtins_are_registered_by_entry_point_and_resolve_to_families():
    assert family_names() == ["gridlstm", "gru", "lstm", "rnn"]
    for name in ("rnn", "lstm", "gru"):
        fam = family(name)
        assert isinstance(fam, CellFamily) and fam.name == name
        assert isinstance(fam.cell(), Cell) and fam.layout is not None


def test_a_user_file_enters_through_the_same_lookup(cell_file):
    fam = family(f"{cell_file}:damped")
    assert fam.cell().name == "damped" and fam.layout is None and fam.options == {}
    titles = [d.title for d in fam.derive()]
    assert titles == ["Step Jacobian of the damped"]


def test_a_module_path_works_too():
    assert family("symbolic.rnn:elman_rnn").cell().title == "Elman RNN (tanh)"


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (":nosuch", "has no 'nosuch'"),
        (":not_a_cell", "returned int, not a Cell"),
        (":broken", "failed: RuntimeError: boom"),
    ],
)
def test_user_errors_are_one_line_value_errors(cell_file, suffix, message):
    with pytest.raises(ValueError, match=message) as info:
        family(f"{cell_file}{suffix}")
    assert "\n" not in str(info.value)


def test_missing_files_modules_and_specs_are_named():
    with pytest.raises(ValueError, match="cell file 'nowhere.py' does not exist"):
        family("nowhere.py:f")
    with pytest.raises(ValueError, match="cannot import module 'no.such.module'"):
        family("no.such.module:f")
    with pytest.raises(ValueError, match="neither a registered name"):
        family("lstmm")


def test_a_file_that_fails_to_import_is_reported(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def broken(:\n")
    with pytest.raises(ValueError, match="importing .*bad.py failed: SyntaxError"):
        load_entry_point(f"{path}:f")


def test_register_adds_a_family_under_a_name(cell_file):
    fam = family(f"{cell_file}:damped")
    register(CellFamily("damped", fam.build))
    try:
        assert family("damped").cell() == fam.cell()
        assert "damped" in family_names()
    finally:
        from symbolic.registry import _REGISTRY

        _REGISTRY.pop("damped")


def test_options_are_validated_with_their_defaults():
    fam = family("gru")
    assert fam.resolve({"variant": None, "activation": None}) == {"variant": "pytorch"}
    with pytest.raises(ValueError, match="--variant nope is not available for gru"):
        fam.resolve({"variant": "nope"})
    with pytest.raises(ValueError, match="--activation does not apply to gru"):
        fam.resolve({"activation": "tanh"})


def test_listing_and_refusing_names_imports_no_sympy():
    probe = (
        "import sys\n"
        "from symbolic.registry import family, family_names\n"
        "assert family_names() == ['gridlstm', 'gru', 'lstm', 'rnn']\n"
        "try:\n"
        "    family('nosuchcell')\n"
        "except ValueError:\n"
        "    pass\n"
        "print('sympy' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_the_package_exports_resolve_on_first_use():
    import importlib

    import symbolic

    for name in symbolic.__all__:
        assert getattr(symbolic, name) is not None, name
    # importing the module symbolic.latex leaves symbolic.latex the printer, as it was
    module = importlib.import_module("symbolic.latex")
    from symbolic import latex

    assert callable(latex) and latex.__module__ == "symbolic.printers"
    assert module.render is symbolic.render
