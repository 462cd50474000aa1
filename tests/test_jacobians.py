import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from symbolic.activations import activation, z
from symbolic.explicit import jacobian_mismatches
from symbolic.jacobians import chain, derivative, step_jacobian
from symbolic.rnn import elman_rnn

ACTIVATIONS = ["tanh", "sigmoid", "relu", "identity"]


@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("n", [2, 3])
def test_structured_step_jacobian_equals_the_elementwise_one(act, n):
    rnn = elman_rnn(act)
    assert jacobian_mismatches(rnn, rnn.with_sizes(n=n, m=2)) == []


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_step_jacobian_has_the_textbook_closed_form(act):
    rnn = elman_rnn(act)
    W = rnn.params[0]
    (a,) = [v.symbol for v in rnn.intermediates]
    expected = DiagMatrix(a.applyfunc(activation(act).derivative)) * W
    assert step_jacobian(rnn) == expected


def _sympy_diff(rnn):
    """SymPy's own ``MatrixExpr.diff``: denominator layout, the transpose."""
    (a,) = [v.symbol for v in rnn.intermediates]
    h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    inlined = rnn.definitions[h].xreplace({a: rnn.definitions[a]})
    return inlined.diff(h_prev)


@pytest.mark.parametrize(
    "wrong",
    [
        lambda rnn: rnn.params[0],  # forgets the activation
        lambda rnn: rnn.params[0].T * DiagMatrix(rnn.definitions[rnn.new_state_symbols[0]].expr),
        _sympy_diff,
    ],
)
def test_a_wrong_jacobian_fails_the_exact_check(wrong):
    rnn = elman_rnn("tanh")
    assert jacobian_mismatches(rnn, rnn.with_sizes(n=2, m=1), blocks=((wrong(rnn),),)) == [(0, 0)]


def test_numerator_layout_not_sympys_transpose():
    n = sp.Symbol("n", integer=True, positive=True)
    W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    assert derivative(W * h, h) == W
    assert (W * h).diff(h) == W.T  # what the project must not print


def test_nested_elementwise_functions_use_the_chain_rule():
    n = sp.Symbol("n", integer=True, positive=True)
    W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    tanh = activation("tanh")
    inner = tanh(W * h)
    J = derivative(tanh(W * inner), h)
    slope = tanh.derivative
    assert (
        J == DiagMatrix((W * inner).applyfunc(slope)) * W * DiagMatrix((W * h).applyfunc(slope)) * W
    )


def test_only_the_rightmost_factor_may_depend_on_the_variable():
    n = sp.Symbol("n", integer=True, positive=True)
    h = sp.MatrixSymbol("h", n, 1)
    with pytest.raises(ValueError, match="right-most"):
        derivative(DiagMatrix(h) * h, h)


def test_chain_has_one_reindexed_factor_per_step_latest_first():
    rnn = elman_rnn("tanh")
    c = chain(rnn, T=5, k=2)
    assert len(c.factors) == 3
    assert [str(f.args[0].args[0].expr) for f in c.factors] == ["a_{5}", "a_{4}", "a_{3}"]
    with pytest.raises(ValueError, match="0 <= k < T"):
        chain(rnn, T=2, k=2)


def test_derivative_of_a_constant_is_a_zero_matrix():
    n = sp.Symbol("n", integer=True, positive=True)
    h, b = sp.MatrixSymbol("h", n, 1), sp.MatrixSymbol("b", n, 1)
    assert derivative(b.applyfunc(sp.Lambda(z, sp.tanh(z))), h) == sp.ZeroMatrix(n, n)


def test_hadamard_power_differentiates_entrywise():
    # SymPy writes h ⊙ h as HadamardPower(h, 2); d(h^2)/dh = diag(2 h), not diag(h).
    from symbolic import CellBuilder, elementwise, hadamard
    from symbolic.explicit import jacobian_mismatches

    cb = CellBuilder("square")
    (n,) = cb.sizes("n")
    h = cb.state("h", n)
    W = cb.matrix("W", n, n)
    cb.update(h, elementwise("tanh", W * hadamard(h, h) + h))
    cell = cb.build()
    assert jacobian_mismatches(cell, cell.with_sizes(n=2)) == []
    a = cell.equations[0].rhs.expr
    wrong = DiagMatrix(a.applyfunc(activation("tanh").derivative)) * (
        W * DiagMatrix(h) + sp.Identity(n)
    )
    assert jacobian_mismatches(cell, cell.with_sizes(n=2), blocks=((wrong,),)) == [(0, 0)]
