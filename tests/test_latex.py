import re
import shutil

import pytest
import sympy as sp
from tex_build import pdflatex

from symbolic.activations import z
from symbolic.bounds import MaxAbs, SigmaMax
from symbolic.builder import CellBuilder, elementwise
from symbolic.jacobians import step_jacobian
from symbolic.latex import document, render
from symbolic.printers import latex, text
from symbolic.rnn import elman_rnn, rnn_derivations

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


def test_a_negative_product_keeps_the_brackets_of_its_hadamard_factor():
    # SymPy's printer bracketed -W^T (u * v) at a sum's precedence, dropping them.
    n = sp.Symbol("n", integer=True, positive=True)
    u, v, W = sp.MatrixSymbol("u", n, 1), sp.MatrixSymbol("v", n, 1), sp.MatrixSymbol("W", n, n)
    hadamard = sp.HadamardProduct(u, v)
    assert latex(-W.T * hadamard) == r"- W^\top \left(u \odot v\right)"
    assert latex(u - W.T * hadamard) == r"u - W^\top \left(u \odot v\right)"
    assert latex(-2 * W * v) == r"- 2 W v"


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


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
def test_standalone_derivations_compile_withpdflatex(tmp_path, act):
    body = "\n".join(
        render(d, "latex", bold=(act == "relu"), marks=None) for d in rnn_derivations(act)
    )
    done = pdflatex(tmp_path, document(body, f"RNN ({act})"))
    assert done.returncode == 0, done.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "doc.log").read_text()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
def test_the_compile_check_has_teeth(tmp_path):
    assert pdflatex(tmp_path, document(r"$\DiagMatrix(x)$", "broken")).returncode != 0


def _atan_rnn(named_preactivation: bool):
    """h_t = atan(W h_{t-1} + U x_t): atan is outside the activation registry."""
    cb = CellBuilder("atanrnn")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    W, U = cb.matrix("W", n, n), cb.matrix("U", n, m)
    pre = cb.define("a", W * h + U * x) if named_preactivation else W * h + U * x
    cb.update(h, elementwise(sp.atan, pre))
    return cb.build()


def test_unnamed_function_of_a_sum_brackets_the_sum():
    # atan'(s) = 1/(1 + s^2) with s = U x_t + W h_{t-1}: the square is of the whole sum.
    # Swapping the sum for one letter makes the check exact, not a substring.
    jac = step_jacobian(_atan_rnn(named_preactivation=False))
    s = "U x_{t} + W h_{t-1}"
    assert latex(jac).replace(s, "s") == (
        r"\operatorname{diag}\left(\frac{1}{\left(s\right)^{2} + 1}\right) W"
    )
    assert text(jac).replace("U x_t + W h_{t-1}", "s") == "diag(1/((s)^2 + 1)) W"


def test_unnamed_function_of_a_named_vector_adds_no_brackets():
    jac = step_jacobian(_atan_rnn(named_preactivation=True))
    assert latex(jac) == r"\operatorname{diag}\left(\frac{1}{a_{t}^{2} + 1}\right) W"
    assert text(jac) == "diag(1/(a_t^2 + 1)) W"


_n = sp.Symbol("n", integer=True, positive=True)
_W, _U = sp.MatrixSymbol("W", _n, _n), sp.MatrixSymbol("U", _n, _n)
_h, _x = sp.MatrixSymbol("h_{t-1}", _n, 1), sp.MatrixSymbol("x_{t}", _n, 1)
_SUM = _W * _h + _U * _x  # prints U x_{t} + W h_{t-1}


_BRACKETED = [
    # A sum is bracketed wherever a sum would be: powers, products, signs.
    (z**3 + 1, _SUM, r"\left(s\right)^{3} + 1", "(s)^3 + 1"),
    (2 * z, _SUM, r"2 \left(s\right)", "2 (s)"),
    (-z, _SUM, r"- \left(s\right)", "-(s)"),
    (sp.exp(-z), _SUM, r"e^{- \left(s\right)}", "exp(-(s))"),
    (1 / z, _SUM, r"\frac{1}{s}", "1/(s)"),
    (sp.sqrt(z), _SUM, r"\sqrt{s}", "√(s)"),
    # A product binds tighter than a sum but looser than a power.
    (z**2, _W * _h, r"\left(W h_{t-1}\right)^{2}", "(W h_{t-1})^2"),
    (2 * z, _W * _h, r"2 W h_{t-1}", "2 (W h_{t-1})"),
    (-z, -_W * _h, r"- \left(- W h_{t-1}\right)", "-(-W h_{t-1})"),
    # A superscripted name is bracketed once as a power's base, never twice.
    (z**2, _W.T * _h, r"\left(W^\top h_{t-1}\right)^{2}", "(W^T h_{t-1})^2"),
    (
        z**2,
        _W.T * _h + _x,
        r"\left(W^\top h_{t-1} + x_{t}\right)^{2}",
        "(W^T h_{t-1} + x_t)^2",
    ),
    (z**2, sp.MatrixSymbol("h^{(1)}", _n, 1), r"\left(h^{(1)}\right)^{2}", "(h^{(1)})^2"),
    # An unnamed formula binds like its top-level operation.
    (z**2, elementwise(sp.Lambda(z, 2 * z), _x), r"\left(2 x_{t}\right)^{2}", "(2 x_t)^2"),
]


@pytest.mark.parametrize(
    ("formula", "arg", "expected_latex", "expected_text"),
    _BRACKETED,
    ids=[case[-1] for case in _BRACKETED],
)
def test_unnamed_functions_bracket_their_argument_by_precedence(
    formula, arg, expected_latex, expected_text
):
    expr = elementwise(sp.Lambda(z, formula), arg)
    assert latex(expr).replace("U x_{t} + W h_{t-1}", "s") == expected_latex
    assert text(expr).replace("U x_t + W h_{t-1}", "s") == expected_text


_gamma, _epsilon = sp.Symbol("gamma", positive=True), sp.Symbol("epsilon", positive=True)
_u = sp.MatrixSymbol("u", _n, 1)
_T, _k = sp.symbols("T k", integer=True)
_BOUNDS = [
    (SigmaMax(_W), r"\sigma_{\max}\left(W\right)", "sigma_max(W)"),
    (_gamma * SigmaMax(_W), r"\gamma \sigma_{\max}\left(W\right)", "gamma sigma_max(W)"),
    (
        1 + _epsilon * SigmaMax(_W - _W.T - _gamma * sp.Identity(_n)),
        r"\epsilon \sigma_{\max}\left(W - W^\top - \gamma I\right) + 1",
        "epsilon sigma_max(W - W^T - gamma I) + 1",
    ),
    (MaxAbs(_u), r"\max_i \left|u_{i}\right|", "max_i |u_i|"),
    (_gamma * MaxAbs(_u), r"\gamma \max_i \left|u_{i}\right|", "gamma max_i |u_i|"),
    (
        MaxAbs(_W * _h),
        r"\max_i \left|\left(W h_{t-1}\right)_{i}\right|",
        "max_i |(W h_{t-1})_i|",
    ),
    # A subscripted name is indexed like any other expression, not as h_{t-1}_{i}.
    (MaxAbs(_h), r"\max_i \left|\left(h_{t-1}\right)_{i}\right|", "max_i |(h_{t-1})_i|"),
    # max_i reaches over what follows it, so it is bracketed unless last in a product.
    (
        _gamma * MaxAbs(_u) * SigmaMax(_W),
        r"\gamma \left(\max_i \left|u_{i}\right|\right) \sigma_{\max}\left(W\right)",
        "gamma (max_i |u_i|) sigma_max(W)",
    ),
    (SigmaMax(_W) ** (_T - _k), r"\sigma_{\max}\left(W\right)^{T - k}", "sigma_max(W)^(T - k)"),
    (MaxAbs(_u) ** 2, r"\left(\max_i \left|u_{i}\right|\right)^{2}", "(max_i |u_i|)^2"),
    (SigmaMax(_W) / _gamma, r"\frac{\sigma_{\max}\left(W\right)}{\gamma}", "sigma_max(W)/gamma"),
]


@pytest.mark.parametrize(
    ("bound", "expected_latex", "expected_text"), _BOUNDS, ids=[t for _, _, t in _BOUNDS]
)
def test_norm_bounds_print_as_in_the_papers(bound, expected_latex, expected_text):
    assert latex(bound) == expected_latex
    assert text(bound) == expected_text


def test_bold_norm_bounds_keep_entries_scalar():
    assert latex(_gamma * MaxAbs(_u) * SigmaMax(_W), bold=True) == (
        r"\gamma \left(\max_i \left|u_{i}\right|\right) \sigma_{\max}\left(\mathbf{W}\right)"
    )


def test_text_matrix_sum_puts_a_negative_coefficient_in_the_sign():
    assert text(_W - _W.T - _gamma * sp.Identity(_n)) == "W - W^T - gamma I"
    assert text(-2 * _W * _h) == "-2 W h_{t-1}"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
def test_bounds_and_bracketed_arguments_compile_with_pdflatex(tmp_path):
    exprs = [b for b, _, _ in _BOUNDS] + [
        step_jacobian(_atan_rnn(named_preactivation=False)),
        elementwise(sp.Lambda(z, z**2), _W.T * _h + _x),
        elementwise(sp.Lambda(z, z**2), sp.MatrixSymbol("h^{(1)}", _n, 1)),
    ]
    rows = " \\\\\n".join(f"&{latex(e)} &&{latex(e, bold=True)}" for e in exprs)
    body = "\\begin{align*}\n" + rows + "\n\\end{align*}\n"
    done = pdflatex(tmp_path, document(body, "Bounds"))
    assert done.returncode == 0, done.stdout[-2000:]


def test_an_unverified_derivation_says_so_and_carries_no_checkmark():
    from symbolic.generic import step_derivation
    from symbolic.rnn import elman_rnn

    d = step_derivation(elman_rnn("tanh"), sizes=(2,))
    shown = render(d, "text")
    claims = sum(step.claim is not None for step in d.steps)
    assert shown.count("(not verified: run numeric.verify.verify") == claims == 2
    tex = render(d, "latex")
    assert r"\checkmark" not in tex and tex.count("not verified") == claims
    marks = ["checked: exact"] * len(d.steps)
    assert render(d, "latex", marks=marks).count(r"\checkmark") == len(d.steps)
