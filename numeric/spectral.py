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

Consecutive products share their *left* singular vectors almost exactly
(they live at time T, which every product shares).  :class:`ChainNorms`
exploits that for the engine: it tracks a block of them, and once the
products are numerically of low rank, a Frobenius-norm certificate bounds
``||P_k||_2`` to ``LOG10_TOL`` decades at the cost of a small eigenproblem,
without any Lanczos step.  Before that, :func:`coupled_bound` certifies it
from the block's coupling to the rest of the space once the block holds
more of ``||P_k||_F^2`` than the rest.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .check import RTOL

__all__ = [
    "BLOCK",
    "EXACT_BELOW",
    "LANCZOS_TOL",
    "LOG10_TOL",
    "ChainNorms",
    "TopSingular",
    "coupled_bound",
    "log10_spectral_norm",
    "spectral_norms",
    "top_singular",
]

#: Relative Ritz residual at which Lanczos stops.  A hundredth of the
#: comparison tolerance, so the estimate never dominates a check's error.
LANCZOS_TOL = RTOL * 1e-2
#: Largest error, in decades, of a ``log10`` norm that :class:`ChainNorms` reports.
LOG10_TOL = 1e-6
#: Columns of the left singular subspace :class:`ChainNorms` tracks.
BLOCK = 16
#: Block power steps :class:`ChainNorms` tries before Lanczos.
POWER_STEPS = 3
#: Residual directions :class:`ChainNorms` adds to its basis before a power step.
EXTEND = 2
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


def _two_by_two(a: float, e2: float, c: float) -> float:
    """Largest eigenvalue of ``[[a, e], [e, c]]`` from ``e^2``, without cancellation."""
    half = abs(a - c) / 2
    return max(a, c) + (e2 / (half + math.sqrt(half * half + e2)) if e2 > 0.0 else 0.0)


def coupled_bound(ritz: np.ndarray, coupling2: np.ndarray, tail: float) -> float:
    """Upper bound on ``lambda_max(H)`` from a Ritz basis and its coupling to the rest.

    ``H`` is symmetric; in an orthonormal basis ``[u_1..u_b | U_perp]`` with
    ``u_i^T H u_j = w_i delta_ij`` (Ritz vectors), ``coupling2[i]`` is
    ``||U_perp^T H u_i||^2`` and ``tail`` bounds ``||U_perp^T H U_perp||``.
    For a symmetric block matrix, ``lambda_max([[A, B^T], [B, C]])`` is at
    most that of ``[[||A||, ||B||], [||B||, ||C||]]`` (for a unit
    ``x = (x_1, x_2)``, ``x^T H x`` is at most that 2 x 2 form at
    ``(||x_1||, ||x_2||)``).  Applied twice, with the top ``j`` Ritz vectors
    as ``A`` and the rest of the basis with ``U_perp`` as ``C``, for the best ``j``.

    Parameters
    ----------
    ritz : ndarray, shape (b,)
        Ritz values ``w``, ascending.
    coupling2 : ndarray, shape (b,)
        ``||U_perp^T H u_i||^2`` in the same order.
    tail : float
        Upper bound of ``||U_perp^T H U_perp||``.

    Examples
    --------
    With the basis ``e_2, e_1`` of ``H`` below, the Ritz values are 0.5 and 2,
    ``e_1`` is coupled to the rest by 0.01, and the tail is 0.1: the bound is
    the top eigenvalue itself, 2 + 5.3e-5, while the Ritz value says 2.

    >>> H = np.array([[2.0, 0.0, 0.01], [0.0, 0.5, 0.0], [0.01, 0.0, 0.1]])
    >>> bound = coupled_bound(np.array([0.5, 2.0]), np.array([0.0, 0.01**2]), 0.1)
    >>> round(bound, 10), round(float(np.linalg.eigvalsh(H)[-1]), 10)
    (2.0000526301, 2.0000526301)
    """
    ritz, coupling2 = ritz.tolist(), coupling2.tolist()  # 16 numbers: plain floats are faster
    total, inner = sum(coupling2), 0.0
    # Split i = 0: the whole basis against U_perp, whose norm is at most the tail.
    best = _two_by_two(ritz[-1], total, tail)
    for i in range(1, len(ritz)):
        # The i lowest Ritz vectors with U_perp as the rest, the others on top.
        inner += coupling2[i - 1]
        rest = _two_by_two(ritz[i - 1], inner, tail)
        best = min(best, _two_by_two(ritz[-1], total - inner, rest))
    return best


class ChainNorms:
    """``||P||_2`` of successive partial products ``P_k = J_T ... J_{T-k+1}``.

    Every ``P_k`` starts at time T, so consecutive products share their top
    *left* singular subspace almost exactly; the tracker keeps an orthonormal
    basis ``U`` of ``rows`` columns of it.  With ``Y = U^T P``, the
    eigenvalues ``w_1 >= ... >= w_b`` of ``Y Y^T`` are Ritz values of
    ``H = P P^T``, so by Cauchy interlacing ``w_1 <= sigma_1^2``, and three
    upper bounds in turn, each tried only where the one before fails:

    1. ``sigma_1^2 = ||P||_F^2 - sum_{i>1} sigma_i^2 <= ||P||_F^2 - sum_{i>1} w_i``,
       at the cost of a ``b x b`` eigenproblem.  Tight once the product is
       numerically of rank below ``b``, which long chains reach.  A chain
       carries ``Y`` along as ``rows`` extra rows of its running product,
       since ``U^T P_k = (U^T P_{k-1}) J``.
    2. :func:`coupled_bound`, from ``E = (I - U U^T) H U = P Y^T - U Y Y^T``
       (two ``N x N x b`` products) and ``||(I - U U^T) P||_F^2`` as the tail:
       tight once ``U`` holds the top singular vector, to within a small
       coupling, and the tail is below ``w_1``.  Where it fails, the basis
       is first extended by the residual of its top Ritz vector, up to
       ``EXTEND`` times (Rayleigh-Ritz on the larger basis, as in Davidson's
       1975 method without a preconditioner: two matrix-vector products a
       vector), and the bound taken on the extended basis; once it
       certifies, the basis keeps the top ``rows`` Ritz vectors.  Failing
       that, up to ``POWER_STEPS`` block power steps ``U <- orth(H U)``
       improve the basis until it certifies.
    3. Lanczos (:func:`top_singular`), warm-started from the top Ritz vector,
       stopping at a Ritz residual ``r`` of at most ``ln(10) tol theta``; as
       some singular value lies within ``r / sqrt(2)`` of ``theta <= sigma_1``,
       that one being ``sigma_1`` puts ``log10 theta`` within ``tol / sqrt(2)``
       decades.  The basis is then refreshed by one block power step, with
       the Lanczos vector in it.

    Bounds 1 and 2 hold for any orthonormal ``U`` (up to rounding, some
    1e-12 relative): when one is within ``tol`` decades of ``sqrt(w_1)``,
    that is certified, whatever the basis.

    Parameters
    ----------
    n : int
        Rows of the products.
    tol : float
        Largest error of ``log10 ||P||_2``, in decades.
    block : int
        Columns of the tracked basis (fewer if ``n`` is smaller); none below
        ``EXACT_BELOW``, where the SVD answers.

    Examples
    --------
    Products of ``Q_k diag(1, 0.5, 0.25, ...)`` quickly become numerically
    low rank, and from then on every norm is certified without Lanczos:

    >>> rng = np.random.default_rng(0)
    >>> norms, P = ChainNorms(64), np.eye(64)
    >>> for _ in range(30):
    ...     Q = np.linalg.qr(rng.standard_normal((64, 64)))[0]
    ...     P = P @ (Q * 0.5 ** np.arange(64))
    ...     sigma = norms(P)
    >>> abs(math.log10(sigma / np.linalg.norm(P, 2))) < 1e-6, norms.certified > 20
    (True, True)
    """

    def __init__(self, n: int, tol: float = LOG10_TOL, block: int = BLOCK) -> None:
        self.tol = tol
        self.rows = 0 if n < EXACT_BELOW else min(block, n)
        start = np.random.default_rng(n).standard_normal((n, self.rows))
        self.basis = np.linalg.qr(start)[0]
        #: How many norms each bound certified (Frobenius, coupled) and Lanczos gave.
        self.certified = 0
        self.coupled = 0
        self.lanczos = 0
        #: Whether bound 1 certified the last norm (the products are numerically low rank).
        self.low_rank = False

    def project(self, P: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``Y = U^T P``, shape ``(rows, N)``."""
        # As (P^T U)^T: OpenBLAS takes a third less time for the tall product
        # than for the wide one (one-off measurement at N = 256).
        Y = np.matmul(P.T, self.basis).T
        if out is None:
            return Y
        np.copyto(out, Y)
        return out

    def __call__(
        self, P: np.ndarray, Y: np.ndarray | None = None, frobenius2: float | None = None
    ) -> float:
        """``||P||_2`` to ``tol`` decades.

        ``Y`` is ``U^T P`` if the caller carries it (it is then overwritten
        with the new projection whenever the basis changes); ``frobenius2``
        is ``||P||_F^2`` if known.
        """
        if not self.rows:
            return float(np.linalg.svd(P, compute_uv=False)[0])
        f2 = float(np.vdot(P, P)) if frobenius2 is None else frobenius2
        if f2 == 0.0:
            return 0.0
        if Y is None:
            Y = self.project(P)
        w, A = np.linalg.eigh(Y @ Y.T)
        sigma = self._frobenius(w[-1:], w.sum(keepdims=True), np.array([f2]), P, Y)
        if sigma is not None:
            return float(sigma[0])
        for power in range(POWER_STEPS + 1):
            if power:
                w, A = np.linalg.eigh(Y @ Y.T)
            top, tail = float(w[-1]), f2 - float(w.sum())
            if not (0.0 < top and tail < top):
                break  # more outside the basis than in it: only Lanczos can tell
            sigma, Z = self._coupled(P, Y, f2, w, A)
            if sigma is not None:
                return sigma
            if power == POWER_STEPS:
                break
            self._power_step(P, Y, Z)
        res = top_singular(P.T, self.basis @ A[:, -1], tol=math.log(10) * self.tol)
        self.lanczos += 1
        Z = P @ (Y.T @ A)
        Z[:, 0] = res.right  # the Lanczos vector replaces the weakest Ritz vector
        self._power_step(P, Y, Z)
        return res.sigma

    def _coupled(
        self, P: np.ndarray, Y: np.ndarray, f2: float, w: np.ndarray, A: np.ndarray
    ) -> tuple[float | None, np.ndarray]:
        """Bound 2 on the Ritz basis ``R = U A``, extended up to ``EXTEND`` times.

        ``w, A`` are the eigenpairs of ``Y Y^T``.  Returns ``sqrt(w_1)`` if
        certified, else None; and ``H`` times the top ``rows`` Ritz vectors,
        for a power step.  Each extension appends the top Ritz vector's
        residual ``q`` (orthogonal to ``R``), whose ``P^T q`` and ``H q`` take
        two matrix-vector products; the rest is ``R^T H q = (H R)^T q`` and
        an eigenproblem one size larger.  The projection ``R^T P`` grows
        with it, ``(P^T q)^T`` being its new row, so a certified extended
        basis is adopted without another product with ``P``.
        """
        certain, half = 10.0 ** (2 * self.tol), 10.0**self.tol
        R, Z, RtP = self.basis @ A, P @ (Y.T @ A), None  # Z = H R
        for extended in range(EXTEND + 1):
            top, tail = float(w[-1]), f2 - float(w.sum())
            E = Z - R * w
            upper = coupled_bound(w, np.einsum("ij,ij->j", E, E), tail)
            if upper <= top * certain:
                self.coupled += 1
                if extended:
                    self.basis = np.ascontiguousarray(R[:, -self.rows :])
                    np.copyto(Y, RtP[-self.rows :])
                elif upper > top * half:
                    self._power_step(P, Y, Z)  # as for bound 1: ready for the next product
                return math.sqrt(top), Z
            q = None if extended == EXTEND else _unit_residual(E[:, -1], R)
            if q is None:
                break
            Ptq = P.T @ q
            M = np.zeros((len(w) + 1, len(w) + 1))
            M[np.diag_indices(len(w))] = w
            M[-1, :-1] = M[:-1, -1] = Z.T @ q
            M[-1, -1] = Ptq @ Ptq
            w, B = np.linalg.eigh(M)  # Ritz pairs of the extended basis [R, q]
            R, Z = np.column_stack([R, q]) @ B, np.column_stack([Z, P @ Ptq]) @ B
            RtP = B.T @ np.vstack([A.T @ Y if RtP is None else RtP, Ptq])
        return None, Z[:, -self.rows :]

    def certify_all(
        self, Y: np.ndarray, frobenius2: np.ndarray, head: np.ndarray
    ) -> np.ndarray | None:
        """``||P_i||_2`` of several products from ``Y_i = U^T P_i`` alone, or None.

        Bound 1 for each product in one batched eigensolve: ``Y`` is
        ``(g, rows, N)``, ``frobenius2`` the ``||P_i||_F^2``.  None unless
        every norm is certified, and then nothing changes.  ``head`` is
        ``[P; Y]`` of the last product: if any margin was less than half
        left, the basis is improved from it.
        """
        G = Y @ Y.transpose(0, 2, 1)
        return self._frobenius(
            np.linalg.eigvalsh(G)[:, -1],
            np.trace(G, axis1=1, axis2=2),
            frobenius2,
            head[: -self.rows],
            head[-self.rows :],
        )

    def _frobenius(
        self, top: np.ndarray, trace: np.ndarray, f2: np.ndarray, P: np.ndarray, Y: np.ndarray
    ) -> np.ndarray | None:
        """Bound 1 from the top Ritz values, the traces of ``Y_i Y_i^T`` and ``||P_i||_F^2``.

        The square roots of the top Ritz values if every one is certified,
        else None; sets :attr:`low_rank` to whether they were.  ``[P; Y]``
        are the last product and its projection, for the power step.
        """
        upper = top + (f2 - trace)
        self.low_rank = bool(np.all((0.0 < top) & (upper <= top * 10.0 ** (2 * self.tol))))
        if not self.low_rank:
            return None
        self.certified += len(top)
        if np.any(upper > top * 10.0**self.tol):
            # Less than half the margin left: improve the basis now.
            self._power_step(P, Y, P @ Y.T)
        return np.sqrt(top)

    def _power_step(self, P: np.ndarray, Y: np.ndarray, Z: np.ndarray) -> None:
        """``U <- orth(Z)`` for ``Z`` spanning ``P P^T U``; then ``Y <- U^T P``."""
        self.basis = np.linalg.qr(Z)[0]
        self.project(P, out=Y)


def _unit_residual(e: np.ndarray, R: np.ndarray) -> np.ndarray | None:
    """``e`` made orthogonal to the orthonormal columns of ``R`` and of unit norm.

    Orthogonalised twice: when ``e`` is tiny, one pass leaves components
    along ``R`` of the size of rounding in ``e``'s computation.  None if
    nothing is left.
    """
    peak = float(np.max(np.abs(e)))
    if not 0.0 < peak < math.inf:
        return None
    e = e / peak
    for _ in range(2):
        e = e - R @ (R.T @ e)
    size = math.sqrt(float(e @ e))
    return e / size if size > 0.0 else None


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
