"""Largest singular value by Lanczos: agrees with LAPACK, and cannot be fooled by its start."""

import math

import numpy as np
import pytest

from numeric import spectral
from numeric.check import RTOL
from numeric.spectral import (
    EXACT_BELOW,
    LOG10_TOL,
    ChainNorms,
    log10_spectral_norm,
    spectral_norms,
    top_singular,
)


def _random_chain(n: int, steps: int, seed: int) -> np.ndarray:
    """Max-normalised partial products of tanh-RNN-like step Jacobians."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    P = np.eye(n)
    out = []
    for _ in range(steps):
        P = P @ ((1 - np.tanh(rng.standard_normal(n)) ** 2)[:, None] * W)
        P /= np.abs(P).max()
        out.append(P)
    return np.stack(out)


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
    stack = _random_chain(64, 40, seed=1)
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


def test_no_convergence_falls_back_to_the_exact_svd():
    # Close leading values: Lanczos needs more than two steps.
    A = np.diag(np.linspace(1.0, 1.001, 64))
    res = top_singular(A, max_iter=2)
    assert res.exact and res.iterations == 2
    assert res.sigma == pytest.approx(1.001, rel=RTOL)


def test_zero_matrix_and_small_matrices():
    assert top_singular(np.zeros((64, 64))).sigma == 0.0
    small = top_singular(np.array([[3.0, 0.0], [0.0, -4.0]]))
    assert small.exact and small.sigma == pytest.approx(4.0, rel=RTOL)


@pytest.mark.parametrize("n", [5, 64])
def test_spectral_norms_along_a_stack(n):
    stack = _random_chain(n, 30, seed=n)
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


# ChainNorms: the flow engine's norms, to LOG10_TOL decades of the exact SVD.


def _orthogonal(rng, n):
    return np.linalg.qr(rng.standard_normal((n, n)))[0]


def _decades_off(norms, P):
    return abs(math.log10(norms(P) / np.linalg.norm(P, 2)))


def _clustered_errors(tol, n=64, seed=0):
    """Top singular values tied, nearly tied, or apart; fresh singular vectors each time."""
    rng = np.random.default_rng(seed)
    norms = ChainNorms(n, tol)
    errors = []
    for gap in (0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
        s = np.r_[1.0, 1.0 - gap, 1.0 - 2 * gap, np.linspace(0.5, 0.0, n - 3)]
        P = (_orthogonal(rng, n) * s) @ _orthogonal(rng, n).T
        errors.append(_decades_off(norms, P))
    return max(errors)


def test_chain_norms_on_clustered_top_singular_values():
    assert _clustered_errors(LOG10_TOL) <= LOG10_TOL
    # Teeth: a tolerance a hundred times looser shows in the answers.
    assert _clustered_errors(100 * LOG10_TOL) > LOG10_TOL


def test_chain_norms_along_a_chain_use_both_paths_and_match_svd():
    stack = _random_chain(64, 300, seed=4)
    norms = ChainNorms(64)
    errors = [_decades_off(norms, P) for P in stack]
    assert max(errors) <= LOG10_TOL
    # Early products are far from low rank (Lanczos); later ones are certified.
    assert norms.lanczos > 0 and norms.certified > 150


def test_chain_norm_certificate_sees_a_direction_outside_the_basis():
    # A numerically low-rank chain, certified step after step; then the top
    # singular direction jumps to the direction the chain had (almost) killed.
    rng = np.random.default_rng(5)
    n = 64
    Q, V = _orthogonal(rng, n), _orthogonal(rng, n)
    s = 0.3 ** np.arange(n)
    norms = ChainNorms(n)
    errors = []
    for k in range(60):
        c, si = math.cos(0.02 * k), math.sin(0.02 * k)
        U = Q.copy()
        U[:, :2] = Q[:, :2] @ np.array([[c, -si], [si, c]])
        if k == 40:
            certified_before = norms.certified
        if k >= 40:
            U = U[:, ::-1]
        errors.append(_decades_off(norms, (U * s) @ V.T))
    assert max(errors) <= LOG10_TOL
    assert certified_before > 30 and norms.lanczos >= 2


@pytest.mark.parametrize("angle", [0.0, 1e-6, 1e-3, 3e-2, 1.0])
def test_chain_norms_with_a_basis_tilted_off_the_top_subspace(angle):
    # Whatever the basis, the answer is certified to tol or found by Lanczos:
    # a tilt of 1e-3 leaves 1e-6 of sigma_1^2 outside the basis, within the
    # certificate's 10^(2 tol) - 1 = 4.6e-6; a tilt of 3e-2 leaves 9e-4.
    rng = np.random.default_rng(6)
    n, b = 80, 16
    U, V = _orthogonal(rng, n), _orthogonal(rng, n)
    P = (U * 0.5 ** np.arange(n)) @ V.T
    norms = ChainNorms(n, block=b)
    basis = U[:, :b].copy()
    # Rotate the top singular vector out of the basis by `angle`, towards u_{b+1}.
    basis[:, 0] = math.cos(angle) * U[:, 0] + math.sin(angle) * U[:, b]
    norms.basis = basis
    assert _decades_off(norms, P) <= LOG10_TOL
    assert (norms.certified, norms.lanczos) == ((1, 0) if angle <= 1e-3 else (0, 1))
