import numpy as np

from numeric.check import FD_RTOL, check_jacobian


def _f(v):
    A = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    return np.tanh(v @ A.T) * v[..., :2]


def _exact(v):
    A = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    t = np.tanh(v @ A.T)
    J = (1 - t**2)[..., :, None] * A * v[..., :2, None]
    J[..., [0, 1], [0, 1]] += t
    return J


def test_exact_jacobian_passes_on_a_batch():
    x = np.random.default_rng(0).standard_normal((4, 3))
    result = check_jacobian(_f, _exact, x)
    assert result.passed and result.max_error < FD_RTOL


def test_a_wrong_jacobian_fails():
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert not check_jacobian(_f, lambda v: _exact(v) * 1.001, x)
    assert not check_jacobian(_f, lambda v: _exact(v)[..., ::-1, :], x)  # rows swapped


def test_rounding_floor_lets_tiny_products_pass_but_not_wrong_ones():
    scale = 1e-9
    x = np.array([0.3, -0.2, 0.1])
    assert check_jacobian(lambda v: 1 + scale * _f(v), lambda v: scale * _exact(v), x)
    assert not check_jacobian(lambda v: 1 + scale * _f(v), lambda v: np.zeros((2, 3)), x)


def test_results_are_reproducible():
    x = np.random.default_rng(0).standard_normal(3)
    assert check_jacobian(_f, _exact, x, seed=3) == check_jacobian(_f, _exact, x, seed=3)
