"""Largest singular value without a full SVD.

The flow engine needs ``||P_k||_2`` for every partial product
``P_k = J_T ... J_{T-k+1}``: a full SVD per k costs O(N^3) with a large
constant, while the largest singular value alone costs a few matrix-vector
products by Golub-Kahan-Lanczos bidiagonalisation (Lanczos on ``A^T A``
without forming it), :func:`top_singular`.  Convergence is declared when the
Ritz residual ``||A^T u - theta v||`` is at most ``tol * theta``.  A run
that has not converged after ``max_iter`` steps (typically a cluster of top
values) takes sigma from LAPACK's SVD without vectors, a third of the cost
of the full SVD; small matrices go to the full SVD outright, where one
LAPACK call is cheaper than a Python loop.

Along a chain of products most norms need no Lanczos step at all: see
:mod:`numeric.certified_norms`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .check import RTOL

__all__ = [
    "EXACT_BELOW",
    "LANCZOS_TOL",
    "TopSingular",
    "log10_spectral_norm",
    "spectral_norms",
    "top_singular",
]

#: Relative Ritz residual at which Lanczos stops.  A hundredth of the
#: comparison tolerance, so the estimate never dominates a check's error.
LANCZOS_TOL = RTOL * 1e-2
#: Lanczos steps before sigma is taken from the SVD.
MAX_ITER = 48
#: Matrices smaller than this (in both dimensions) go straight to LAPACK.
EXACT_BELOW = 48
#: Weight of a fixed pseudo-random vector added to a warm start, so a start
#: orthogonal to the top singular vector (possible for structured matrices,
#: e.g. diagonal chains whose leading entry changes) still converges to it.
DITHER = 1e-2


class TopSingular(NamedTuple):
    """The largest singular triple ``A v = sigma u`` and how it was found."""

    sigma: float
    left: np.ndarray
    right: np.ndarray
    iterations: int
    exact: bool


@lru_cache(maxsize=32)
def _dither(n: int) -> np.ndarray:
    v = np.random.default_rng(n).standard_normal(n)
    v /= np.linalg.norm(v)
    v.flags.writeable = False
    return v


def _exact(A: np.ndarray, iterations: int = 0) -> TopSingular:
    U, s, Vt = np.linalg.svd(A)
    return TopSingular(float(s[0]), U[:, 0], Vt[0], iterations, True)


def _start_vector(n: int, start: np.ndarray | None) -> np.ndarray:
    v = _dither(n).copy()
    if start is not None:
        start = np.asarray(start, dtype=float)
        size = np.linalg.norm(start)
        if size > 0 and np.isfinite(size):
            v = start / size + DITHER * v
    return v / np.linalg.norm(v)


def top_singular(
    A: np.ndarray,
    start: np.ndarray | None = None,
    *,
    tol: float = LANCZOS_TOL,
    max_iter: int = MAX_ITER,
) -> TopSingular:
    """Largest singular value and vectors of ``A`` by Golub-Kahan-Lanczos.

    Parameters
    ----------
    A : ndarray, shape (m, n)
        A finite matrix.
    start : ndarray, shape (n,), optional
        Guess of the top *right* singular vector (a warm start).
    tol : float
        Stop when the Ritz residual is at most ``tol * sigma``.
    max_iter : int
        Lanczos steps before sigma is taken from ``numpy.linalg.svd``.

    Returns
    -------
    TopSingular
        ``sigma`` with unit vectors ``left`` (m,) and ``right`` (n,); ``exact``
        says whether ``sigma`` came from the SVD.  When Lanczos did not
        converge, the vectors are its top Ritz vectors: near the top singular
        vectors only if the top values are well apart.

    Examples
    --------
    >>> A = np.diag(np.r_[np.linspace(0.0, 50.0, 99), 100.0])
    >>> res = top_singular(A)
    >>> round(res.sigma, 12), res.exact, res.iterations < 20
    (100.0, False, True)
    >>> round(float(abs(res.right[-1])), 12)
    1.0
    """
    A = np.asarray(A, dtype=float)
    m, n = A.shape
    if min(m, n) < EXACT_BELOW:
        return _exact(A)
    steps = min(m, n, max_iter)
    U = np.empty((steps, m))
    V = np.empty((steps + 1, n))
    V[0] = _start_vector(n, start)
    # A V_j = U_j B_j with B_j upper bidiagonal; its SVD gives the Ritz triples.
    B = np.zeros((steps, steps))
    beta, exact = 0.0, False
    for j in range(steps):
        u, w = U[j], V[j + 1]
        np.matmul(A, V[j], out=u)
        if j:
            u -= beta * U[j - 1]
            # Full reorthogonalisation: without it, ghost copies of converged
            # singular values appear and the residual test becomes unreliable.
            u -= U[:j].T @ (U[:j] @ u)
            B[j - 1, j] = beta
        alpha = math.sqrt(u @ u)
        if alpha == 0.0:
            # V[j] lies in the null space: a zero matrix, or a start that
            # Lanczos cannot leave.  Either way the SVD settles it.
            return _exact(A, j + 1)
        B[j, j] = alpha
        u *= 1.0 / alpha
        np.matmul(A.T, u, out=w)
        w -= alpha * V[j]
        w -= V[: j + 1].T @ (V[: j + 1] @ w)
        beta = math.sqrt(w @ w)
        # The check costs an SVD of B, O(j^3): past eight steps, take it every fourth.
        if j < 8 or j % 4 == 3 or j == steps - 1 or beta == 0.0:
            P, s, Qt = np.linalg.svd(B[: j + 1, : j + 1])
            theta = float(s[0])
            # Residual of the top Ritz triple: ||A^T u - theta v|| = beta_j |P[j, 0]|.
            if beta * abs(P[-1, 0]) <= tol * theta:
                break
        w *= 1.0 / beta
    else:
        # Not converged, typically a cluster of top values: the SVD gives
        # sigma; the top Ritz vectors, inside the cluster, stand for its vectors.
        theta, exact = float(np.linalg.svd(A, compute_uv=False)[0]), True
    left = U[: j + 1].T @ P[:, 0]
    right = V[: j + 1].T @ Qt[0]
    return TopSingular(
        theta, left / np.linalg.norm(left), right / np.linalg.norm(right), j + 1, exact
    )


def spectral_norms(
    stack: np.ndarray, start: np.ndarray | None = None, *, tol: float = LANCZOS_TOL
) -> tuple[np.ndarray, np.ndarray | None]:
    """``||A_i||_2`` for a stack of matrices, warm-starting along the stack.

    Parameters
    ----------
    stack : ndarray, shape (C, m, n)
        Finite matrices; consecutive ones should share their top *left*
        singular vector approximately (as partial products do).
    start : ndarray, shape (m,), optional
        Guess of the first matrix's top left singular vector.
    tol : float
        Relative tolerance of the Lanczos estimate.

    Returns
    -------
    norms : ndarray, shape (C,)
    left : ndarray, shape (m,) or None
        The last matrix's top left singular vector, to warm-start the next
        stack; ``None`` when the exact path answered.

    Examples
    --------
    >>> stack = np.stack([np.diag([1.0, -3.0]), np.eye(2) * 0.5])
    >>> spectral_norms(stack)[0]
    array([3. , 0.5])
    """
    stack = np.asarray(stack, dtype=float)
    if len(stack) == 0:
        return np.zeros(0), start
    if min(stack.shape[1:]) < EXACT_BELOW:
        return np.linalg.svd(stack, compute_uv=False)[:, 0], None
    norms = np.empty(len(stack))
    for i, A in enumerate(stack):
        # The left vector of A is the right vector of A^T: run on the transpose view.
        res = top_singular(A.T, start, tol=tol)
        norms[i], start = res.sigma, res.right
    return norms, start


def log10_spectral_norm(A: np.ndarray) -> float:
    """``log10 ||A||_2``, ``-inf`` for a zero matrix, without overflow.

    The matrix is scaled by its largest entry first, so entries near the
    float64 limits still give a finite answer.

    Examples
    --------
    >>> log10_spectral_norm(np.array([[1e300, 0.0], [0.0, 1e300]]) * 100)
    302.0
    >>> log10_spectral_norm(np.zeros((2, 2)))
    -inf
    """
    A = np.asarray(A, dtype=float)
    peak = float(np.max(np.abs(A))) if A.size else 0.0
    if peak == 0.0:
        return -math.inf
    return math.log10(peak) + math.log10(top_singular(A / peak).sigma)
