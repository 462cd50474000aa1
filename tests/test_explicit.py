import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardPower, HadamardProduct

from symbolic.explicit import elementwise_jacobian, entries, exactly_equal, explicit
from symbolic.rnn import elman_rnn

n = sp.Symbol("n", integer=True, positive=True)
A, B = sp.MatrixSymbol("A", n, n), sp.MatrixSymbol("B", n, n)
v, w = sp.MatrixSymbol("v", n, 1), sp.MatrixSymbol("w", n, 1)


def test_explicit_inlines_named_intermediates():
    rnn = elman_rnn("tanh")
    h = explicit(rnn.new_state_symbols[0], rnn.with_sizes(n=2, m=1), rnn.definitions)
    names = {str(a).split("[")[0] for a in h.free_symbols}
    assert names == {"W", "U", "b", "h_{t-1}", "x_{t}"}


def test_entries_are_real_symbols_named_after_their_matrix():
    W = entries(A, {n: 2})
    assert W.shape == (2, 2) and str(W[1, 0]) == "A[1, 0]"
    assert all(e.is_real for e in W)


@pytest.mark.parametrize(
    "expr",
    [
        A * B * v + 3 * w,
        HadamardProduct(v, w) - A.T * v,
        HadamardPower(v, 3),
        DiagMatrix(v) * A,
        sp.OneMatrix(n, 1) - v,
        sp.Identity(n) + A**2,
        sp.BlockMatrix([[A, B], [B, A]]) * sp.BlockMatrix([[v], [w]]),
        (A * v).applyfunc(sp.Lambda(sp.Symbol("z"), sp.tanh(sp.Symbol("z")))),
    ],
)
def test_explicit_agrees_with_sympys_own_expansion(expr):
    sizes = {n: 2}
    mine = explicit(expr, sizes)
    reference = sp.Matrix(expr.xreplace(sizes).as_explicit())
    # SymPy's own expansion names entries A[i, j] as MatrixElements; map them onto ours.
    elements = reference.atoms(sp.matrices.expressions.matexpr.MatrixElement)
    to_ours = {e: entries(e.parent, sizes)[e.i, e.j] for e in elements}
    assert exactly_equal(mine, reference.xreplace(to_ours))


def test_elementwise_jacobian_is_the_derivative_by_entries():
    rnn = elman_rnn("identity")
    sizes = rnn.with_sizes(n=2, m=1)
    h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    J = elementwise_jacobian(h, h_prev, sizes, rnn.definitions)
    assert J == entries(rnn.params[0], sizes)
    assert elementwise_jacobian(h, h_prev, sizes, rnn.definitions) is J  # cached


def test_exactly_equal_proves_identities_and_rejects_near_misses():
    x = sp.Symbol("x", real=True)
    assert exactly_equal(
        sp.Matrix([sp.exp(-x) / (1 + sp.exp(-x)) ** 2]),
        sp.Matrix([1 / (1 + sp.exp(-x)) * (1 - 1 / (1 + sp.exp(-x)))]),
    )
    assert not exactly_equal(
        sp.Matrix([1 - sp.tanh(x) ** 2]), sp.Matrix([1 - sp.tanh(x) ** 2 + 10**-12])
    )
    assert not exactly_equal(sp.Matrix([1, 2]), sp.Matrix([1, 2, 3]))


def test_a_difference_below_the_numeric_threshold_is_still_rejected():
    # 1e-40 passes the 50-digit numeric rung, so only the exact rungs can catch it.
    x = sp.Symbol("x", real=True)
    tiny = sp.Rational(1, 10**40)
    assert not exactly_equal(
        sp.Matrix([sp.exp(x) / (1 + sp.exp(x))]), sp.Matrix([1 - 1 / (1 + sp.exp(x)) + tiny])
    )


def test_the_rational_rung_proves_only_zero():
    from symbolic.explicit import _zero_as_rational_function as zero

    x, u = sp.symbols("x u", real=True)
    S = 1 / (1 + sp.exp(u))
    slope = sp.diff(S, u)  # SymPy's form of -S (1 - S)
    assert zero(slope + S * (1 - S))
    assert not zero(slope - S * (1 - S))  # a sign error
    assert not zero(slope + S * (1 - S) + sp.Rational(1, 10**40))
    # tanh(x) is one symbol wherever it occurs, shared subtrees included
    t = sp.tanh(x * u + 1)
    assert zero((1 - t**2) * (t + x) - (t + x) + t**2 * (t + x))
    assert not zero((1 - t**2) * (t + x) - (t + x) + t**2 * (sp.tanh(x * u) + x))
    # a division by zero in disguise: S + exp(u) S - 1 is 0, so its inverse is not a number
    zero_in_disguise = S + sp.exp(u) * S - 1
    assert not zero(1 / zero_in_disguise - 1 / (2 * zero_in_disguise))
    oo_minus_oo = sp.Add(sp.oo * x, sp.Mul(-1, sp.oo, x, evaluate=False), evaluate=False)
    assert not zero(oo_minus_oo)  # oo - oo is not 0
    # symbolic exponents go through SymPy's expand
    n = sp.Symbol("n", integer=True, positive=True)
    assert zero((1 + x) * (1 + x) ** n - (1 + x) ** (n + 1))
