"""The text format reads like mathematics: no Python syntax, no SymPy names.

``gradproof derive CELL --format text`` is what students paste into notes
and e-mails, so every built-in cell and variant and every worked cell of
``notebooks/own_cells.py`` is rendered and searched for what would give
away Python or SymPy: ``**`` and ``*`` for powers and products, ``oo``,
``Heaviside``, ``Interval``, ``Lambda``, dummy names, and LaTeX commands
spelled out as words (``dots``, ``ne``, ``infty``).  The search itself has
teeth: each pattern flags a deliberately bad line.
"""

import os
import re
import subprocess
import sys

import pytest
import sympy as sp
from example_cells import OWN

from symbolic import family
from symbolic.activations import ACTIVATIONS, z
from symbolic.answers import answer
from symbolic.bounds import MaxAbs, SigmaMax
from symbolic.latex import render
from symbolic.printers import latex, text

#: What must not appear in the text format, each with a line that shows it.
FORBIDDEN = {
    "power as **": (r"\*\*", "tanh(z)**2"),
    # Note bullets ("  * ") are stripped before this search; a star in a
    # subscript is a wildcard (W_{h*}: every W_{hi}, W_{hf}, ...), not a product.
    "product as *": (r"(?<!_)\*(?!\})", "10*sqrt(2)"),
    "SymPy's oo": (r"\boo\b", "limsup ||dh_T/dh_k||_2 = oo"),
    "SymPy class name": (
        r"\b(?:Heaviside|Interval|Lambda|Dummy|Piecewise|Limit|DiagMatrix|MatMul|MatAdd"
        r"|HadamardProduct|ElementwiseApplyFunction|ImmutableDenseMatrix)\b"
        r"|\b(?:Abs|Max|Min|Eq|Ne|sqrt|Identity)\(",
        "relu'(z) = Heaviside(z)",
    ),
    "dummy name": (r"(?<![\w}\\)\]'])_[A-Za-z]", "Lambda(_d, 1 - tanh(_d))"),
    "LaTeX word": (
        r"\b(?:[lc]?dots|ne|infty|varphi|frac|tfrac|operatorname|mathbf|mathbb)\b",
        "t = 1, dots, T",
    ),
    "LaTeX markup": (r"\\|\$|\b(?:left|right)[(\[|]|\btext\{", "raw $C'_{t-1}$"),
    "bracketed lone denominator": (r"/\(\w+\)", "gamma = 1/(4)"),
    "range as ..": (r"\w\.\.\w", "bottom of the depth dimension (t = 1..T)"),
    "Python list of rows": (r"\[\[", "[[8, 8], [-8, -8]]"),
    "Python truth value": (r"\b(?:True|False)\b", "{1, Piecewise((1, True))}"),
}


def leaks(shown: str) -> list[str]:
    """Names of the forbidden patterns found in text-format output."""
    body = re.sub(r"(?m)^  \* ", "  ", shown)
    return [name for name, (pattern, _) in FORBIDDEN.items() if re.search(pattern, body)]


def _variants(name: str) -> tuple[str, ...]:
    return tuple(v for v in family(name).options["variant"] if v is not None)


def _cases():
    cases = [("rnn", {"activation": act}) for act in ACTIVATIONS]
    cases += [(name, {"variant": v}) for name in ("lstm", "gru") for v in _variants(name)]
    grid = [{"variant": v} for v in _variants("gridlstm")] + [{"priority": "depth"}]
    cases += [("gridlstm", opts) for opts in grid]
    names = ("indrnn", "mgu", "peephole_lstm", "antisymmetric_rnn")
    cases += [(f"{OWN}:{name}", {}) for name in names]
    cases += [("answer", {"question": q}) for q in ("q1", "q2")]
    return cases


def _id(value):
    if isinstance(value, dict):
        return "-".join(value.values()) or "default"
    return str(value).rsplit("/", 1)[-1]


def _text_of(name: str, options: dict) -> str:
    if name == "answer":
        derivations = answer(options["question"])
    else:
        derivations = family(name).derive(**options)
    # Marks are left blank: only the mathematics and the prose are searched.
    return "\n\n".join(render(d, "text", marks=[""] * len(d.steps)) for d in derivations)


@pytest.mark.parametrize(("name", "options"), _cases(), ids=_id)
def test_text_format_reads_like_mathematics(name, options):
    shown = _text_of(name, options)
    found = leaks(shown)
    offending = [line for line in shown.splitlines() if leaks(line)]
    assert not found, f"{found} in:\n" + "\n".join(offending[:5])


@pytest.mark.parametrize("name", FORBIDDEN)
def test_each_pattern_flags_its_bad_example(name):
    bad = FORBIDDEN[name][1]
    assert name in leaks(bad)


def test_clean_text_passes_and_note_bullets_and_wildcards_are_not_products():
    clean = (
        "  ||J^N||_2 = 10·√2·2^(N - 1)    [grows; W_hi and a^{i}_t are names]\n"
        "  relu'(z) = {1 if z > 0, 0 if z < 0}\n"
        "  W := [8, 8; -8, -8]\n"
        "\n"
        "  * gamma = 1/4 for f = sigma; limsup_{T→∞} ||dh_T/dh_k||_2 = ∞, k ≠ d, t = 1, ..., T\n"
        "  * W_{i*} multiplies x_t; b_* is a bias"
    )
    assert leaks(clean) == []
    assert leaks(clean.replace("10·√2", "10*√2")) == ["product as *"]
    assert leaks("  * Output form: h' = tanh(g^o * m')") == ["product as *"]


def test_the_old_rnn_output_would_have_failed():
    """The leaks this file guards against, as the text format printed them before."""
    old = {
        "tanh'(z) = 1 - tanh(z)**2": "power as **",
        "W^N = [[lambda_1**N/2 + lambda_2**N/2]]": "power as **",
        "||J^N||_2 = 10*sqrt(2)*2**(N - 1)": "product as *",
        "limsup ||dh_T/dh_k||_2 = oo": "SymPy's oo",
        "relu'(z) = Heaviside(z)": "SymPy class name",
        "range of f' is Interval.Lopen(0, 1/4)": "SymPy class name",
        "gamma = 1/(4) for f = sigma": "bracketed lone denominator",
        "one block at grid point (t, l), t = 1, dots, T": "LaTeX word",
        "with a projection P so sizes agree when k ne d": "LaTeX word",
        "h^{D}_{t,0} = P*x_{t}": "product as *",
        "epsilon*sigma_max(W - W^T - gamma I) + 1": "product as *",
    }
    for line, pattern in old.items():
        assert pattern in leaks(line), line


# What the printer gives for the scalar forms the derivations use.
_n = sp.Symbol("n", integer=True, positive=True)
_N, _T, _k = sp.Symbol("N", integer=True, positive=True), *sp.symbols("T k", integer=True)
_W, _u = sp.MatrixSymbol("W", _n, _n), sp.MatrixSymbol("u", _n, 1)
_gamma, _epsilon, _l1 = sp.symbols("gamma epsilon lambda_1", positive=True)
_PRINTED = [
    (1 - sp.tanh(z) ** 2, "1 - tanh(z)^2"),
    (_l1**_N / 2, "lambda_1^N/2"),
    (10 * sp.sqrt(2) * 2 ** (_N - 1), "10·√2·2^(N - 1)"),
    (sp.sqrt(_gamma + 1), "√(gamma + 1)"),
    (1 / sp.sqrt(_gamma), "1/√gamma"),
    (_gamma ** (-_N), "gamma^(-N)"),
    (sp.exp(-z) / (1 + sp.exp(-z)) ** 2, "exp(-z)/(1 + exp(-z))^2"),
    (sp.Rational(1, 4), "1/4"),
    (sp.oo, "∞"),
    (sp.Heaviside(z), "{1 if z > 0, 0 if z < 0}"),
    (sp.Piecewise((1, z > 0), (0, True)), "{1 if z > 0, 0 otherwise}"),
    (sp.Interval.Lopen(0, sp.Rational(1, 4)), "(0, 1/4]"),
    (sp.Interval(-sp.oo, 0), "(-∞, 0]"),
    (sp.Ne(_k, _n), "k ≠ n"),
    (sp.Abs(z), "|z|"),
    (sp.Max(0, z), "max(0, z)"),
    (sp.Limit((1 + _gamma) ** -_N, _N, sp.oo), "lim_{N→∞} (gamma + 1)^(-N)"),
    (sp.Limit(1 / z, z, 0), "lim_{z→0+} 1/z"),
    (_gamma * SigmaMax(_W), "gamma sigma_max(W)"),
    (_gamma * MaxAbs(_u) * SigmaMax(_W), "gamma (max_i |u_i|) sigma_max(W)"),
    (SigmaMax(_W) ** (_T - _k), "sigma_max(W)^(T - k)"),
    (_W**_N, "W^N"),
    (_W.I, "W^(-1)"),
    (sp.ImmutableMatrix([[8, 8], [-8, -8]]), "[8, 8; -8, -8]"),
]


@pytest.mark.parametrize(("expr", "expected"), _PRINTED, ids=[e for _, e in _PRINTED])
def test_scalar_forms_print_as_written_by_hand(expr, expected):
    assert text(expr) == expected
    assert not leaks(expected)


_RENDER_ALL = """
from symbolic import family
from symbolic.latex import render
for name, options in [("rnn", {"activation": "relu"}), ("lstm", {}), ("gru", {})]:
    for d in family(name).derive(**options):
        print(render(d, "text", marks=[""] * len(d.steps)))
"""


def test_text_is_the_same_under_any_hash_seed():
    # Set and dict order follow the hash seed; terminal output must not.
    runs = [
        subprocess.run(
            [sys.executable, "-c", _RENDER_ALL],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "12345")
    ]
    assert runs[0] == runs[1] and "relu'(z)" in runs[0]


def test_relu_slope_in_latex_is_its_two_cases_not_theta():
    shown = latex(ACTIVATIONS["relu"].derivative(z))
    assert shown == r"\begin{cases} 1 & \text{if } z > 0 \\ 0 & \text{if } z < 0 \end{cases}"
    assert r"\theta" not in render(family("rnn").derive(activation="relu")[1], "latex")
