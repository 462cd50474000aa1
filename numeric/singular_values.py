"""Singular values of Jacobian products ``ds_T/ds_{T-k}`` for every k, in log space.

``P_k = ds_T/ds_{T-k} = J_T ... J_{T-k+1}``; its largest
singular values spread apart exponentially in ``k``, so after a few hundred
steps the K-th lies many decades below the first, beyond what one float64
matrix holds (an SVD of the product resolves only ``sigma_i >= 1e-16
sigma_1``).  The transposes grow on the left, ``P_k^T = J_{T-k+1}^T
P_{k-1}^T``, so the QR method applies: ``J^T Q_{k-1} = Q_k R_k`` and
``P_k^T = Q_k R_k ... R_1``, whence ``sigma(P_k) = sigma(Rhat_k)`` for the
triangular product ``Rhat_k = R_k Rhat_{k-1}``.  ``Rhat_k`` is kept as
``diag(10^g) M``: each row's log10 scale ``g_i`` apart from a mantissa
``M`` of unit rows, rescaled at every step, so nothing over- or underflows
over any horizon.  The QR method sorts and grades the rows (row ``i``
grows like ``exp(k lambda_i)``, the Lyapunov exponents of the backward
products) and leaves ``M`` well conditioned.  The singular values of
``diag(10^g) M`` then come from LAPACK's SVD of the row-scaled matrix,
which keeps the small ones to relative accuracy for such graded matrices
(not guaranteed in general: the tests check it against chains whose
singular values are known exactly, 4000 decades apart, and against 700-digit
mpmath).  Rows whose whole weight cannot move the K-th singular value by
1e-20 relative are left out (a certified cut), and blocks more than
:data:`SPAN` decades apart, beyond one float64 matrix, are taken one at a
time, which moves a singular value by about ``10^(-2 gap)`` relative at a
gap of ``gap`` decades (:data:`GAP`, 8, or the widest gap in a block too
wide).  Memory is ``O(N^2)`` besides one chunk of step Jacobians, as in the
norms-only flow; each step costs a QR and an SVD of size up to ``N``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from symbolic.cells import Cell

from .flow import StepModel, backward_step_jacobians
from .lyapunov import _checked, _count, _model, default_chunk

__all__ = ["GAP", "NEGLIGIBLE", "SPAN", "chain_log10_singular_values", "log10_singular_values"]

#: A row's Gram weight, relative to ``sigma_K^2``, below which it is left out
#: (moving ``sigma_1 .. sigma_K`` by at most half of it, relatively).
NEGLIGIBLE = 1e-20
#: Largest spread, in decades, of the rows one SVD takes (float64 spans ~600).
SPAN = 250.0
#: Splitting at a gap of this many decades moves a singular value by at most
#: about ``10**(-2 GAP)`` relative (a second-order effect).
GAP = 8.0


def _rows_normalised(M: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Divide the rows of ``M`` by their norms in place; return their log10 scales ``m + log``."""
    norms = np.linalg.norm(M, axis=1)
    live = norms > 0
    M[live] /= norms[live, None]
    g = np.full(len(M), -math.inf)
    g[live] = m[live] + np.log10(norms[live])
    return g


def _graded_log10(g: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``log10`` singular values of ``diag(10^g) M``, ``g`` sorted descending and finite.

    Blocks split at gaps of more than :data:`GAP` decades, or to keep each
    within :data:`SPAN`, are taken one at a time on the lower-triangular
    factor of ``M`` (``M = L Z``, so ``diag(10^g) M`` and ``diag(10^g) L``
    share singular values, and a block of rows of ``L`` lives in its own
    columns).
    """
    if g[0] - g[-1] <= SPAN:
        return g[0] + _log10(np.linalg.svd(10.0 ** (g - g[0])[:, None] * M, compute_uv=False))
    L = np.linalg.qr(M.T, mode="r").T
    cuts, start, i = [], 0, 1
    while i < len(g):
        if g[i - 1] - g[i] > GAP:
            cuts.append(start := i)
        elif g[start] - g[i] > SPAN:
            # Too wide a block and no wide gap: cut at its widest gap, then look again.
            cuts.append(start := start + 1 + int(np.argmax(g[start : i - 1] - g[start + 1 : i])))
            continue
        i += 1
    logs = []
    for a, b in zip([0, *cuts], [*cuts, len(g)], strict=True):
        block = 10.0 ** (g[a:b] - g[a])[:, None] * L[a:b, a:b]
        logs.append(g[a] + _log10(np.linalg.svd(block, compute_uv=False)))
    return np.sort(np.concatenate(logs))[::-1]


def _log10(s: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(s)


def _top_log10(g: np.ndarray, M: np.ndarray, count: int, guess: float) -> np.ndarray:
    """The ``count`` largest ``log10`` singular values of ``diag(10^g) M`` (rows of ``M`` unit).

    Adding rows of Gram weight ``w = sum_i 10^(2 g_i)`` moves each
    ``sigma_j^2`` by at most ``w`` (Weyl), so rows whose weight is below
    :data:`NEGLIGIBLE` ``sigma_K^2`` are left out: those more than 10
    decades below ``guess`` (the last step's ``log10 sigma_K``), certified
    after the fact, or else all rows are taken.
    """
    order = np.argsort(-g, kind="stable")
    g, M = g[order], M[order]
    live = int(np.count_nonzero(g > -math.inf))
    out = np.full(count, -math.inf)
    if live == 0:
        return out
    floor = min(g[min(count, live) - 1], guess) + 0.5 * math.log10(NEGLIGIBLE / live)
    kept = max(min(count, live), int(np.count_nonzero(g[:live] >= floor)))
    while True:
        logs = _graded_log10(g[:kept], M[:kept])[:count]
        if kept == live or logs[-1] == -math.inf:
            break
        with np.errstate(over="ignore"):
            weight = float(np.sum(10.0 ** (2 * (g[kept:live] - logs[-1]))))
        if weight <= NEGLIGIBLE:
            break
        kept = live
    out[: len(logs)] = logs
    return out


class _BackwardSpectrum:
    """``Rhat_k`` of ``P_k^T = Q_k Rhat_k`` as log10 row scales ``g`` and a unit-row mantissa."""

    def __init__(self, n: int) -> None:
        self.Q = np.eye(n)
        self.g = np.zeros(n)
        self.M = np.eye(n)

    def push(self, J: np.ndarray) -> None:
        self.Q, R = np.linalg.qr(J.T @ self.Q)
        # Row i of R Rhat is sum_{j >= i} R_ij 10^g_j M_j: factor out its largest scale.
        used = (R != 0) & (self.g > -math.inf)
        G = np.where(used, self.g, -math.inf)
        m = G.max(axis=1)
        m[m == -math.inf] = 0.0
        with np.errstate(under="ignore"):
            S = R * 10.0 ** (G - m[:, None])  # 10^-inf = 0 where unused
        self.M = S @ self.M
        self.g = _rows_normalised(self.M, m)


def chain_log10_singular_values(chunks: Iterable[np.ndarray], count: int) -> np.ndarray:
    """``log10`` of the ``count`` largest singular values of ``J_T ... J_{T-k+1}`` for every k.

    Parameters
    ----------
    chunks : iterable of ndarray, each (C, N, N)
        Step Jacobians ``J_T, J_{T-1}, ..., J_1`` in chunks, in that order
        (as :func:`numeric.flow.backward_step_jacobians` gives them).
    count : int
        How many singular values, from the largest, ``1 <= count <= N``.

    Returns
    -------
    ndarray, shape (T, count)
        Row ``k-1`` holds ``log10 sigma_i(ds_T/ds_{T-k})``, ``i = 1..count``,
        descending; ``-inf`` for an exactly zero singular value.

    Examples
    --------
    A thousand steps of ``O_t diag(2, 1, 0.5) O_{t-1}^T`` with random
    rotations ``O_t``: the product is ``O_T diag(2, 1, 0.5)^k O_{T-k}^T``,
    so the exact answer is ``k log10 (2, 1, 0.5)``, 602 decades apart at the end.

    >>> rng = np.random.default_rng(0)
    >>> O = [np.linalg.qr(rng.standard_normal((3, 3)))[0] for _ in range(1001)]
    >>> J = np.stack([O[t] @ np.diag([2.0, 1.0, 0.5]) @ O[t - 1].T for t in range(1000, 0, -1)])
    >>> logs = chain_log10_singular_values([J], count=3)
    >>> bool(np.abs(logs[-1] - 1000 * np.log10([2.0, 1.0, 0.5])).max() < 1e-9)
    True
    """
    spectrum: _BackwardSpectrum | None = None
    logs, k, guess = [], 0, 0.0
    for chunk in chunks:
        chunk = _checked(chunk, k)
        if spectrum is None:
            spectrum = _BackwardSpectrum(chunk.shape[-1])
            count = _count(count, chunk.shape[-1], "--spectrum K")
        logs.append(np.empty((len(chunk), count)))
        for i, J in enumerate(chunk):
            spectrum.push(J)
            logs[-1][i] = _top_log10(spectrum.g, spectrum.M, count, guess)
            guess = logs[-1][i, -1]
        k += len(chunk)
        del chunk
    return np.concatenate(logs) if logs else np.zeros((0, count))


def log10_singular_values(
    cell: Cell | StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    count: int,
    chunk: int | None = None,
) -> np.ndarray:
    """The ``count`` largest singular values of ``ds_T/ds_{T-k}``, log10, for k = 1..T.

    Runs the model as :func:`numeric.flow.gradient_flow` does (same
    arguments), with the same memory: one chunk of step Jacobians at a time.
    Column 0 is the flow's ``log10_norm``.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": np.diag([0.9, 0.5]), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> log10_singular_values(elman_rnn("tanh"), params, np.zeros((3, 1)), count=2).round(6)
    array([[-0.045757, -0.30103 ],
           [-0.091515, -0.60206 ],
           [-0.137272, -0.90309 ]])
    """
    model = _model(cell, params)
    chunks = backward_step_jacobians(
        model, params, inputs, s0, chunk=chunk or default_chunk(model.state_size)
    )
    return chain_log10_singular_values(chunks, _count(count, model.state_size, "--spectrum K"))
