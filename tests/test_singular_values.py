"""Singular values of ds_T/ds_{T-k}: exact chains 4000 decades apart, mpmath, the flow's norm."""

import math
import warnings

import mpmath
import numpy as np

from numeric import singular_values
from numeric.certified_norms import LOG10_TOL
from numeric.errors import GradproofInputError
from numeric.flow import gradient_flow
from numeric.singular_values import chain_log10_singular_values, log10_singular_values
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
    monkeypatch.setattr(singular_values, "_rows_normalised", _unrescaled)
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
    assert logs[-1, 0] - logs[-1, -1] > singular_values.SPAN


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
    assert g[0] - g[-1] > singular_values.SPAN
    np.testing.assert_allclose(singular_values._graded_log10(g, M), exact, rtol=0, atol=LOG_ATOL)
