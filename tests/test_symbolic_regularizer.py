"""Pascanu's regulariser: the closed-form vector-Jacobian product, exactly; clipping stated."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from symbolic.derivation import EqualityClaim, verify_exact
from symbolic.gru import gru
from symbolic.lstm import lstm
from symbolic.printers import text
from symbolic.regularizer import (
    VectorJacobianClaim,
    adjoints,
    clipping_step,
    regularizer_derivation,
    transpose_times,
    vector_jacobian_product,
)
from symbolic.rnn import elman_rnn

CELLS = {
    "rnn-tanh": elman_rnn("tanh"),
    "rnn-relu": elman_rnn("relu"),
    "rnn-sigmoid": elman_rnn("sigmoid"),
    "lstm": lstm(),
    "lstm-no-forget": lstm("no_forget"),
    "gru": gru(),
    "gru-textbook": gru("textbook"),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_every_block_equals_v_times_the_elementwise_jacobian(name):
    cell = CELLS[name]
    for old, expr in zip(cell.state_symbols, vector_jacobian_product(cell), strict=True):
        outcome = VectorJacobianClaim(cell, old, expr, (2, 3)).check_exact()
        assert outcome.passed, (name, old, outcome.detail)


def test_elman_factor_is_w_transposed_times_slope_times_error():
    rnn = elman_rnn("tanh")
    assert text(vector_jacobian_product(rnn)[0]) == "W^T (tanh'(a_t) ⊙ v^{h}_t)"


def test_a_wrong_factor_fails():
    """Teeth: W without diag(f'(a)), or W itself instead of its transpose, is refused."""
    rnn = elman_rnn("tanh")
    (W,), (h_prev,), (v,) = rnn.params[:1], rnn.state_symbols, adjoints(rnn)
    slope = vector_jacobian_product(rnn)[0].args[1]
    for wrong in (W.T * v, W * slope):
        assert not VectorJacobianClaim(rnn, h_prev, wrong, (2,)).check_exact().passed


def test_lstm_without_the_memory_path_fails():
    """Teeth: the error reaching c_{t-1} must include the carousel diag(f_t) v^c_t."""
    cell = lstm()
    _, c_prev = cell.state_symbols
    _, v_c = adjoints(cell)
    right = vector_jacobian_product(cell)[1]
    assert VectorJacobianClaim(cell, c_prev, right, (2,)).check_exact().passed
    wrong = [term for term in right.args if not term.has(v_c)]
    assert not VectorJacobianClaim(cell, c_prev, sp.MatAdd(*wrong), (2,)).check_exact().passed


def test_transpose_times_rules():
    n = sp.Symbol("n", integer=True, positive=True)
    W, U = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("U", n, n)
    d, v = sp.MatrixSymbol("d", n, 1), sp.MatrixSymbol("v", n, 1)
    assert transpose_times(sp.Identity(n), v) == v
    assert transpose_times(sp.ZeroMatrix(n, n), v) == sp.ZeroMatrix(n, 1)
    assert transpose_times(-DiagMatrix(d) * W, v) == -(W.T * sp.HadamardProduct(d, v))
    assert transpose_times(W * U, v) == U.T * (W.T * v)
    assert transpose_times(W + U.T, v).doit() == (W.T * v + U * v).doit()


def test_derivation_checks_exactly_for_each_cell():
    for cell in (elman_rnn("tanh"), lstm()):
        d = regularizer_derivation(cell, sizes=(2,))
        outcomes = [o for step in verify_exact(d) for o in step]
        assert outcomes and all(o.passed for o in outcomes), [o.detail for o in outcomes]
    rels = [s.rel for s in regularizer_derivation(lstm(), sizes=(2,)).steps]
    assert rels == [":=", ":=", "=", "=", ":="]  # one block per state vector, then clipping


def test_clipping_caps_the_norm_and_a_wrong_rescaling_fails():
    assert clipping_step(size=4).claim.check_exact().passed
    g = sp.Matrix(sp.symbols("g_1:4", real=True))
    tau = sp.Symbol("tau", positive=True)
    squared = sum(e**2 for e in g)
    wrong = tau * g / squared  # divides by ||g||^2
    assert not EqualityClaim(sum(e**2 for e in wrong), tau**2).check_exact().passed


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown"])
def test_derivation_renders(fmt):
    from symbolic.latex import render

    out = render(regularizer_derivation(elman_rnn("tanh"), sizes=(2,)), fmt)
    assert "Algorithm 1" in out and "Pascanu" in out
    if fmt == "text":
        assert "((dE/dh_t) (dh_t/dh_{t-1}))^T = W^T (tanh'(a_t) ⊙ v^{h}_t)" in out
