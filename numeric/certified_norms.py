"""Norms of a chain of partial products, each certified to ``LOG10_TOL`` decades.

Every partial product ``P_k = J_T ... J_{T-k+1}`` of a gradient flow starts
at time T, so consecutive products share their *left* singular vectors
almost exactly.  :class:`ChainNorms` tracks a block of them, and once the
products are numerically of low rank, a Frobenius-norm certificate bounds
``||P_k||_2`` to ``LOG10_TOL`` decades at the cost of a small eigenproblem,
without any Lanczos step.  Before that, :func:`coupled_bound` certifies it
from the block's coupling to the rest of the space once the block holds
more of ``||P_k||_F^2`` than the rest; where neither can, Lanczos
(:func:`numeric.spectral.top_singular`) answers.
"""

from __future__ import annotations

import math

import numpy as np

from .spectral import EXACT_BELOW, top_singular

__all__ = ["BLOCK", "EXTEND", "LOG10_TOL", "POWER_STEPS", "ChainNorms", "coupled_bound"]

#: Largest error, in decades, of a ``log10`` norm that :class:`ChainNorms` reports.
LOG10_TOL = 1e-6
#: Columns of the left singular subspace :class:`ChainNorms` tracks.
BLOCK = 16
#: Block power steps :class:`ChainNorms` tries before Lanczos.
POWER_STEPS = 3
#: Residual directions :class:`ChainNorms` adds to its basis before a power step.
EXTEND = 2


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
