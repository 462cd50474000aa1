import numpy as np
import pytest
import sympy as sp

from numeric.check import RTOL
from numeric.matrix_code import lambdify_matrix
from symbolic.activations import z
from symbolic.builder import hadamard


def test_lambdify_matrix_handles_hadamard_diag_and_blocks():
    u, v = sp.MatrixSymbol("u", 2, 1), sp.MatrixSymbol("v", 2, 1)
    W = sp.MatrixSymbol("W", 2, 2)
    tanh = sp.Lambda(z, sp.tanh(z))
    exprs = [
        sp.HadamardProduct(u, v),
        sp.DiagMatrix(u) * W,
        sp.BlockMatrix([[u], [v.applyfunc(tanh)]]),
        sp.OneMatrix(2, 1) - u,
        sp.ZeroMatrix(2, 2),
    ]
    f = lambdify_matrix([u, v, W], exprs)
    uu, vv, WW = np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.arange(4.0).reshape(2, 2)
    had, dw, block, one, zero = f(uu, vv, WW)
    np.testing.assert_array_equal(had, uu * vv)
    np.testing.assert_array_equal(dw, np.diag(uu) @ WW)
    np.testing.assert_allclose(block, np.concatenate([uu, np.tanh(vv)]))
    np.testing.assert_array_equal(one, 1 - uu)
    np.testing.assert_array_equal(zero, np.zeros((2, 2)))


@pytest.mark.parametrize("n", [1, 3])
def test_lambdify_matrix_handles_hadamard_power(n):
    size = sp.Symbol("n", integer=True, positive=True)
    v, W = sp.MatrixSymbol("v", size, 1), sp.MatrixSymbol("W", size, size)
    eps = sp.Symbol("epsilon", positive=True)
    square = hadamard(v, v) + v  # SymPy folds v ⊙ v into HadamardPower(v, 2) inside the sum
    assert square.has(sp.HadamardPower)
    exprs = [square, sp.HadamardPower(W * v, 3), sp.HadamardPower(v, eps)]
    f = lambdify_matrix([v, W, eps], exprs, sizes={size: n})
    rng = np.random.default_rng(18)
    vv, WW = rng.uniform(0.5, 2.0, n), rng.standard_normal((n, n))
    got = f(vv, WW, 0.5)
    np.testing.assert_allclose(got[0], vv**2 + vv, rtol=RTOL)
    np.testing.assert_allclose(got[1], (WW @ vv) ** 3, rtol=RTOL)
    np.testing.assert_allclose(got[2], np.sqrt(vv), rtol=RTOL)
