import re
import shutil
import subprocess

import pytest
import sympy as sp

from symbolic.cells import elman_rnn
from symbolic.jacobians import step_jacobian
from symbolic.latex import document, latex, render, text
from symbolic.rnn_proof import rnn_derivations

# Dummy symbols print as "_x"; "\rVert_2" and "a_{t}" are fine.
INTERNALS = re.compile(
    r"DiagMatrix|Lambda|ElementwiseApplyFunction|HadamardProduct|Dummy|\\circ|(?<![\w}\\])_[A-Za-z]"
)


@pytest.mark.parametrize(
    ("act", "expected"),
    [
        ("tanh", r"\operatorname{diag}\left(\tanh'\left(a_{t}\right)\right) W"),
        ("sigmoid", r"\operatorname{diag}\left(\sigma'\left(a_{t}\right)\right) W"),
        ("relu", r"\operatorname{diag}\left(\operatorname{relu}'\left(a_{t}\right)\right) W"),
    ],
)
def test_step_jacobian_reads_like_a_textbook(act, expected):
    assert latex(step_jacobian(elman_rnn(act))) == expected


def test_bold_vectors_and_matrices_keep_their_indices():
    assert latex(step_jacobian(elman_rnn("tanh")), bold=True) == (
        r"\operatorname{diag}\left(\tanh'\left(\mathbf{a}_{t}\right)\right) \mathbf{W}"
    )


def test_hadamard_and_transpose_use_report_notation():
    n = sp.Symbol("n", integer=True, positive=True)
    u, v, W = sp.MatrixSymbol("u", n, 1), sp.MatrixSymbol("v", n, 1), sp.MatrixSymbol("W", n, n)
    assert latex(sp.HadamardProduct(u, v)) == r"u \odot v"
    assert latex(W.T) == r"W^\top"


@pytest.mark.parametrize("fmt", ["latex", "markdown", "text"])
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
def test_no_sympy_internals_reach_any_rendering(fmt, act):
    for d in rnn_derivations(act):
        out = render(d, fmt)
        assert not INTERNALS.search(out), INTERNALS.search(out)


def test_a_dummy_symbol_raises_instead_of_leaking():
    with pytest.raises(TypeError, match="dummy"):
        latex(sp.Dummy("x") + 1)


def test_markdown_uses_display_math_without_parbox():
    out = render(rnn_derivations("tanh")[0], "markdown")
    assert out.count("$$") == 2 and "\\parbox" not in out and "\\begin{aligned}" in out


def test_text_rendering_is_plain():
    assert text(step_jacobian(elman_rnn("tanh"))) == "diag(tanh'(a_t)) W"
    out = render(rnn_derivations("tanh")[3], "text")
    assert "\\" not in out and "$" not in out


def test_standalone_only_for_latex():
    with pytest.raises(ValueError, match="standalone"):
        render(rnn_derivations("tanh")[0], "markdown", standalone=True)


def _pdflatex(tmp_path, tex: str) -> subprocess.CompletedProcess:
    (tmp_path / "doc.tex").write_text(tex)
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
def test_standalone_derivations_compile_with_pdflatex(tmp_path, act):
    body = "\n".join(
        render(d, "latex", bold=(act == "relu"), marks=None) for d in rnn_derivations(act)
    )
    done = _pdflatex(tmp_path, document(body, f"RNN ({act})"))
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "doc.log").read_text()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
def test_the_compile_check_has_teeth(tmp_path):
    assert _pdflatex(tmp_path, document(r"$\DiagMatrix(x)$", "broken")).returncode != 0
