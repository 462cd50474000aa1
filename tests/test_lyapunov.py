"""QR Lyapunov exponents: exact chains, autograd through torch stacks, the bound ln B."""

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from test_singular_values import D, _conjugated_chain, _rotations

from numeric.bounds import EvaluatedBound, evaluate_bound
from numeric.check import RTOL
from numeric.errors import GradproofInputError
from numeric.lyapunov import check_lyapunov_bound, lyapunov_exponents, qr_lyapunov_exponents
from numeric.singular_values import chain_log10_singular_values, log10_singular_values
from symbolic.rnn import elman_rnn


def test_exponents_of_an_exact_chain_and_a_wrong_sign_fails():
    chain = _conjugated_chain(D, 5000, seed=3, first=np.eye(len(D)))
    chunks = [chain[i : i + 999] for i in range(0, len(chain), 999)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exponents = qr_lyapunov_exponents(chunks)
    np.testing.assert_allclose(exponents, np.log(D), rtol=0, atol=1e-12)
    np.testing.assert_allclose(qr_lyapunov_exponents(chunks, count=2), exponents[:2], atol=1e-15)
    assert not np.allclose(-exponents, np.log(D), atol=1e-3)


def _qr_of_the_product(P, steps):
    """The independent computation: ``J_T ... J_1 = Q (R_T ... R_1)``, whose diagonal is unique
    up to signs, so ``lambda_i = ln |R[i, i]| / T`` from one QR of the explicit product."""
    return np.log(np.abs(np.diagonal(np.linalg.qr(P)[1]))) / steps


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_spectra_of_stacks_equal_autograd_products(kind):
    pytest.importorskip("torch")
    from test_stack import TorchStack

    from numeric.stack import torch_stack

    ref = TorchStack(kind, layers=2, seed=5)
    stack = torch_stack(ref.state, kind)
    inputs = np.random.default_rng(6).standard_normal((6, 2))
    T, N = len(inputs), stack.state_size
    products = ref.products(inputs)
    logs = log10_singular_values(stack, {}, inputs, count=N)
    for k, P in enumerate(products, start=1):
        s = np.linalg.svd(P, compute_uv=False)
        resolved = s >= 1e-6 * s[0]  # where the SVD of the explicit product is exact to 1e-10
        np.testing.assert_allclose(10.0 ** logs[k - 1][resolved] / s[resolved], 1.0, rtol=RTOL)
    exponents = lyapunov_exponents(stack, {}, inputs)
    expected = _qr_of_the_product(products[-1], T)
    R = np.abs(np.diagonal(np.linalg.qr(products[-1])[1]))
    resolved = R >= 1e-3 * np.linalg.norm(products[-1], 2)  # exact to 1e-12 in the QR
    np.testing.assert_allclose(T * exponents[resolved], T * expected[resolved], rtol=0, atol=RTOL)
    # The volume: the exponents sum to the mean log-determinant of the step Jacobians.
    volume = np.mean([np.linalg.slogdet(J)[1] for J in ref.step_jacobians(inputs)])
    assert exponents.sum() == pytest.approx(volume, rel=RTOL)
    np.testing.assert_allclose(
        lyapunov_exponents(stack, {}, inputs, count=3), exponents[:3], rtol=0, atol=1e-12
    )


def test_long_horizon_spectra_of_a_stacked_lstm_are_finite_and_warning_free():
    pytest.importorskip("torch")
    from test_stack import TorchStack

    from numeric.stack import torch_stack

    stack = torch_stack(TorchStack("lstm", layers=2, seed=7).state, "lstm")
    inputs = np.random.default_rng(8).standard_normal((5000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = log10_singular_values(stack, {}, inputs, count=4)
        exponents = lyapunov_exponents(stack, {}, inputs)
    assert np.all(np.isfinite(logs)) and np.all(np.isfinite(exponents))
    assert logs[-1, -1] < -400  # far below float64: the row scales carried it
    assert np.all(np.diff(exponents) <= 1e-12)


def _fixed_point_rnn(activation, sigma, n=4, seed=9):
    """Zero inputs and a bias that keeps the pre-activation at 0: every J_t = f'(0) W."""
    W = sigma * _rotations(n, 1, seed)[0]
    h = {"tanh": 0.0, "sigmoid": 0.5}[activation]
    params = {"W": W, "U": np.zeros((n, 1)), "b": -W @ np.full(n, h)}
    return elman_rnn(activation), params, np.full(n, h)


@pytest.mark.parametrize(("activation", "slope"), [("tanh", 1.0), ("sigmoid", 0.25)])
def test_the_largest_exponent_meets_ln_gamma_sigma_max_and_a_smaller_bound_fails(activation, slope):
    cell, params, h = _fixed_point_rnn(activation, sigma=1.3)
    exponents = lyapunov_exponents(cell, params, np.zeros((200, 1)), h)
    np.testing.assert_allclose(exponents, math.log(slope * 1.3), rtol=0, atol=1e-12)
    bound = evaluate_bound(cell, params)
    assert bound.gamma == slope
    result = check_lyapunov_bound(exponents, bound)
    assert result.passed, result.detail
    tighter = EvaluatedBound(bound.value * (1 - 1e-6), bound.formula, None, None, None)
    assert not check_lyapunov_bound(exponents, tighter).passed


def test_random_rnn_exponents_stay_below_the_bound():
    rng = np.random.default_rng(10)
    W = rng.standard_normal((5, 5))
    params = {
        "W": 1.4 * W / np.linalg.norm(W, 2),
        "U": rng.standard_normal((5, 2)),
        "b": np.zeros(5),
    }
    exponents = lyapunov_exponents(elman_rnn("tanh"), params, rng.standard_normal((500, 2)))
    assert check_lyapunov_bound(exponents, evaluate_bound(elman_rnn("tanh"), params)).passed


def test_a_zero_product_gives_minus_infinity_without_warnings():
    params = {"W": np.eye(2), "U": np.zeros((2, 1)), "b": -np.ones(2)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = log10_singular_values(elman_rnn("relu"), params, np.zeros((4, 1)), count=2)
        exponents = lyapunov_exponents(elman_rnn("relu"), params, np.zeros((4, 1)))
    assert np.all(logs == -np.inf) and np.all(exponents == -np.inf)
    assert check_lyapunov_bound(exponents, evaluate_bound(elman_rnn("relu"), params)).passed


def test_memory_does_not_grow_with_the_horizon():
    rng = np.random.default_rng(11)
    n = 32  # the products would take 8 T n^2 bytes: 4 MB at T = 500
    params = {"W": 0.9 * np.eye(n), "U": rng.standard_normal((n, 2)), "b": np.zeros(n)}
    cell, peaks = elman_rnn("tanh"), []
    for steps in (50, 500):
        inputs = rng.standard_normal((steps, 2))
        log10_singular_values(cell, params, inputs[:2], count=2, chunk=16)
        tracemalloc.start()
        log10_singular_values(cell, params, inputs, count=2, chunk=16)
        lyapunov_exponents(cell, params, inputs, chunk=16)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # Ten times the horizon: only the checkpoints and the T x count logs grow.
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_bad_requests_are_refused_in_one_line():
    params = {"W": np.eye(2), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    cell = elman_rnn("tanh")
    with pytest.raises(GradproofInputError, match="from 1 to N = 2, got 3"):
        log10_singular_values(cell, params, np.zeros((3, 1)), count=3)
    with pytest.raises(GradproofInputError, match="got 0"):
        lyapunov_exponents(cell, params, np.zeros((3, 1)), count=0)
    with pytest.raises(GradproofInputError, match="not finite"):
        chain_log10_singular_values([np.full((1, 2, 2), np.inf)], count=1)
    with pytest.raises(GradproofInputError, match="NaN or inf"):
        lyapunov_exponents(cell, params, np.full((3, 1), np.nan))
