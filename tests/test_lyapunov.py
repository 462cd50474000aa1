"""Singular values of ds_T/ds_{T-k} and QR Lyapunov exponents: exact chains, mpmath, autograd."""

import math
import tracemalloc
import warnings

import mpmath
import numpy as np
import pytest

from numeric import lyapunov
from numeric.bounds import EvaluatedBound, evaluate_bound
from numeric.check import RTOL
from numeric.errors import GradproofInputError
from numeric.flow import gradient_flow
from numeric.lyapunov import (
    chain_log10_singular_values,
    check_lyapunov_bound,
    log10_singular_values,
    lyapunov_exponents,
    qr_lyapunov_exponents,
)
from numeric.spectral import LOG10_TOL
from symbolic.rnn import elman_rnn

#: Decades: float64 rounding over thousands of steps stays far below this.
LOG_ATOL = 1e-9


def _rotations(n, count, seed):
    rng = np.random.default_rng(seed)
    return [np.linalg.qr(rng.standard_normal((n, n)))[0] for _ in range(count)]


def _conjugated_chain(d, steps, seed, first=None):
    """``J_t = O_t diag(d) O_{t-1}^T`` for t = 1..steps: ``J_t ... J_{s+1} = O_t D^(t-s) O_s^T``."""
    rotations = _rotations(len(d), steps + 1, seed)
    if first is not None:
        rotations[0] = first
    return np.stack([rotations[t] @ np.diag(d) @ rotations[t - 1].T for t in range(1, steps + 1)])


D = np.array([1.5, 1.1, 0.9, 0.5, 0.2])


def _exact_logs(steps):
    return np.arange(1, steps + 1)[:, None] * np.log10(D)


def _matches_the_exact_chain(singular_values) -> bool:
    logs = np.asarray(singular_values)
    expected = _exact_logs(len(logs))
    return bool(np.all(np.isfinite(logs)) and np.abs(logs - expected).max() <= LOG_ATOL)


def _backward(chain, chunk=700):
    reverse = chain[::-1]
    return [reverse[i : i + chunk] for i in range(0, len(reverse), chunk)]


def test_singular_values_of_a_long_exact_chain_4000_decades_apart():
    chain = _conjugated_chain(D, 5000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        logs = chain_log10_singular_values(_backward(chain), count=len(D))
    assert _matches_the_exact_chain(logs)
    assert logs[-1, 0] - logs[-1, -1] > 4000
    top = chain_log10_singular_values(_backward(chain), count=2)
    np.testing.assert_allclose(top, logs[:, :2], rtol=0, atol=1e-12)


def _unrescaled(M, m):
    """The row rescaling left out: the mantissa keeps the whole scale."""
    return np.where(np.linalg.norm(M, axis=1) > 0, m, -np.inf)


def _plain_product_svd(chain, count):
    """The naive method: SVD of the running product, rescaled as a whole."""
    P, scale, rows = np.eye(chain.shape[-1]), 0.0, []
    for J in chain[::-1]:
        P = P @ J
        peak = np.abs(P).max()
        P, scale = P / peak, scale + math.log10(peak)
        with np.errstate(divide="ignore"):
            rows.append(scale + np.log10(np.linalg.svd(P, compute_uv=False)[:count]))
    return np.array(rows)


def test_skipping_the_rescale_or_a_plain_svd_of_the_product_fails(monkeypatch):
    chain = _conjugated_chain(D, 5000, seed=0)
    assert not _matches_the_exact_chain(_plain_product_svd(chain, len(D)))
    monkeypatch.setattr(lyapunov, "_rows_normalised", _unrescaled)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            logs = chain_log10_singular_values(_backward(chain), count=len(D))
        except (GradproofInputError, np.linalg.LinAlgError, ValueError):
            logs = None
    assert logs is None or not _matches_the_exact_chain(logs)


def test_singular_values_equal_mpmath_on_a_random_chain_past_the_span():
    rng = np.random.default_rng(1)
    n, steps = 6, 400
    grading = np.diag([2.0, 1.3, 1.0, 0.7, 0.3, 0.05])
    chain = np.stack([grading + 0.3 * rng.standard_normal((n, n)) for _ in range(steps)])
    logs = chain_log10_singular_values(_backward(chain, chunk=64), count=n)
    with mpmath.workdps(700):
        P = mpmath.eye(n)
        for k, J in enumerate(chain[::-1], start=1):
            P = P * mpmath.matrix(J.tolist())
            if k in (1, 2, 30, 200, 400):
                s = sorted((abs(v) for v in mpmath.svd_r(P, compute_uv=False)), reverse=True)
                exact = np.array([float(mpmath.log10(v)) for v in s])
                np.testing.assert_allclose(logs[k - 1], exact, rtol=0, atol=LOG_ATOL)
    assert logs[-1, 0] - logs[-1, -1] > lyapunov.SPAN


def test_the_top_singular_value_is_the_flow_norm():
    n, steps = 64, 300
    rng = np.random.default_rng(2)
    W = rng.standard_normal((n, n))
    params = {
        "W": 1.2 * W / np.linalg.norm(W, 2),
        "U": rng.standard_normal((n, 2)),
        "b": 0.1 * rng.standard_normal(n),
    }
    inputs = rng.standard_normal((steps, 2))
    logs = log10_singular_values(elman_rnn("tanh"), params, inputs, count=4, chunk=50)
    flow = gradient_flow(elman_rnn("tanh"), params, inputs)
    np.testing.assert_allclose(logs[:, 0], flow.log10_norm, rtol=0, atol=2 * LOG10_TOL)
    assert np.all(np.diff(logs, axis=1) <= 0)


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


def test_a_block_wider_than_float64_without_a_wide_gap_is_split_accurately():
    # 60 rows 5 decades apart: 300 decades, more than one SVD takes, and no gap
    # wide enough to split at for free; mpmath at 400 digits is the reference.
    rng = np.random.default_rng(12)
    n = 60
    g = -5.0 * np.arange(n) + 0.3 * rng.random(n)
    M = np.triu(rng.standard_normal((n, n))) + 3 * np.eye(n)
    M /= np.linalg.norm(M, axis=1)[:, None]
    with mpmath.workdps(400):
        A = mpmath.matrix([[mpmath.mpf(10) ** g[i] * M[i, j] for j in range(n)] for i in range(n)])
        s = sorted((abs(v) for v in mpmath.svd_r(A, compute_uv=False)), reverse=True)
        exact = [float(mpmath.log10(v)) for v in s]
    assert g[0] - g[-1] > lyapunov.SPAN
    np.testing.assert_allclose(lyapunov._graded_log10(g, M), exact, rtol=0, atol=LOG_ATOL)
