"""Largest singular value by Lanczos: agrees with LAPACK, and cannot be fooled by its start."""

import math

import numpy as np
import pytest
from chains import random_chain

from numeric import spectral
from numeric.check import RTOL
from numeric.spectral import EXACT_BELOW, log10_spectral_norm, spectral_norms, top_singular


@pytest.mark.parametrize("shape", [(60, 60), (80, 50), (50, 90), (128, 128)])
def test_top_singular_matches_svd(shape):
    rng = np.random.default_rng(sum(shape))
    # A clear leading singular value, as in products of step Jacobians.
    A = (
        rng.standard_normal(shape)
        + 4 * np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1])) / 10
    )
    res = top_singular(A)
    U, s, Vt = np.linalg.svd(A)
    assert not res.exact
    assert res.sigma == pytest.approx(s[0], rel=RTOL)
    assert abs(res.left @ U[:, 0]) == pytest.approx(1.0, rel=RTOL)
    assert abs(res.right @ Vt[0]) == pytest.approx(1.0, rel=RTOL)
    assert np.allclose(A @ res.right, res.sigma * res.left, rtol=0, atol=1e-8 * s[0])


def test_warm_start_saves_iterations_along_a_chain():
    stack = random_chain(64, 40, seed=1)
    cold = [top_singular(P.T).iterations for P in stack]
    warm, start = [], None
    for P in stack:
        res = top_singular(P.T, start)
        warm.append(res.iterations)
        start = res.right
    # The saving is modest (the leading gap, not the start, dominates), but
    # an ignored start would give exactly the cold counts.
    assert sum(warm) < sum(cold)


def test_start_orthogonal_to_the_answer_is_rescued_by_the_dither(monkeypatch):
    # Diagonal: a start at e_2 spans an invariant subspace that misses e_1.
    A = np.diag(np.r_[10.0, 5.0, np.linspace(0.0, 1.0, EXACT_BELOW)])
    start = np.zeros(len(A))
    start[1] = 1.0
    assert top_singular(A, start).sigma == pytest.approx(10.0, rel=RTOL)
    monkeypatch.setattr(spectral, "DITHER", 0.0)
    assert top_singular(A, start).sigma == pytest.approx(5.0, rel=RTOL)


def test_no_convergence_takes_sigma_from_the_svd_and_keeps_the_ritz_vectors():
    # Close leading values: Lanczos needs more than two steps.
    A = np.diag(np.linspace(1.0, 1.001, 64))
    res = top_singular(A, max_iter=2)
    assert res.exact and res.iterations == 2
    assert res.sigma == pytest.approx(1.001, rel=RTOL)
    # The vectors are the top Ritz pair: unit, and A maps one onto the other
    # at a value inside the cluster [1, 1.001], good enough as warm starts.
    assert np.linalg.norm(res.left) == pytest.approx(1.0) == np.linalg.norm(res.right)
    assert 1.0 <= res.left @ A @ res.right <= 1.001
    assert np.linalg.norm(A @ res.right - (res.left @ A @ res.right) * res.left) < 1e-3


def test_zero_matrix_and_small_matrices():
    assert top_singular(np.zeros((64, 64))).sigma == 0.0
    small = top_singular(np.array([[3.0, 0.0], [0.0, -4.0]]))
    assert small.exact and small.sigma == pytest.approx(4.0, rel=RTOL)


@pytest.mark.parametrize("n", [5, 64])
def test_spectral_norms_along_a_stack(n):
    stack = random_chain(n, 30, seed=n)
    norms, left = spectral_norms(stack.copy())
    np.testing.assert_allclose(norms, np.linalg.norm(stack, 2, axis=(1, 2)), rtol=RTOL)
    assert (left is None) == (n < EXACT_BELOW)


def test_log10_spectral_norm_far_outside_float_range_of_the_norm_squared():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((60, 60))
    exact = math.log10(np.linalg.norm(A, 2))
    assert log10_spectral_norm(A * 1e-300) == pytest.approx(exact - 300, abs=RTOL)
    assert log10_spectral_norm(A * 1e300) == pytest.approx(exact + 300, abs=RTOL)
    assert log10_spectral_norm(np.zeros((3, 3))) == -math.inf
