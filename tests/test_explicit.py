import sympy as sp

from symbolic.explicit import exactly_equal, explicit
from symbolic.rnn import elman_rnn


def test_explicit_inlines_named_intermediates():
    rnn = elman_rnn("tanh")
    h = explicit(rnn.new_state_symbols[0], rnn.with_sizes(n=2, m=1), rnn.definitions)
    names = {str(a.parent) for a in h.atoms(sp.matrices.expressions.matexpr.MatrixElement)}
    assert names == {"W", "U", "b", "h_{t-1}", "x_{t}"}


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
