import numpy as np
import pytest
import sympy as sp

from numeric.check import RTOL, check_jacobian
from numeric.compile import compile_cell, lambdify_matrix
from symbolic.activations import z
from symbolic.cells import elman_rnn

ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0),
    "identity": lambda a: a,
}


def _params(rng, n=4, m=3):
    return {
        "W": rng.standard_normal((n, n)),
        "U": rng.standard_normal((n, m)),
        "b": rng.standard_normal(n),
    }


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_step_matches_a_plain_numpy_rnn_on_a_batch(act):
    rng = np.random.default_rng(0)
    p = _params(rng)
    s, x = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    got = compile_cell(elman_rnn(act), n=4, m=3).step(s, x, p)
    expected = ACTIVATIONS[act](s @ p["W"].T + x @ p["U"].T + p["b"])
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_step_jacobian_matches_central_differences(act):
    rng = np.random.default_rng(1)
    p = _params(rng)
    cc = compile_cell(elman_rnn(act), n=4, m=3)
    s, x = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    assert check_jacobian(lambda v: cc.step(v, x, p), lambda v: cc.jacobian(v, x, p), s)


def test_sigmoid_is_stable_for_large_preactivations():
    p = {"W": np.zeros((2, 2)), "U": np.array([[1000.0], [-1000.0]]), "b": np.zeros(2)}
    cc = compile_cell(elman_rnn("sigmoid"), n=2, m=1)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        h = cc.step(np.zeros(2), np.array([1.0]), p)
        J = cc.jacobian(np.zeros(2), np.array([1.0]), p)
    np.testing.assert_array_equal(h, [1.0, 0.0])
    assert np.all(np.isfinite(J))


def test_compile_is_cached_per_cell_and_size():
    assert compile_cell(elman_rnn("tanh"), n=3, m=2) is compile_cell(elman_rnn("tanh"), n=3, m=2)
    assert compile_cell(elman_rnn("tanh"), n=3, m=2) is not compile_cell(
        elman_rnn("tanh"), n=4, m=2
    )


def test_common_subexpressions_are_computed_once():
    cc = compile_cell(elman_rnn("tanh"), n=3, m=2)
    source = cc._function.__doc__
    assert source.count("_matvec(arg2, arg0)") == 1  # W h_{t-1}, shared by step and Jacobian


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
