"""The running product ``P_k = J_T J_{T-1} ... J_{T-k+1}`` in log space.

The one ``N x N`` product per step is the floor of the cost of a gradient
flow; everything else is kept to a small fraction of it:

- Products of thousands of factors leave float64 (0.9^10000 is 1e-458), so
  the chain is a mantissa times ``10**scale``.  The Frobenius norm, taken
  every step anyway, says when to rescale: only when it leaves
  ``1e-50..1e50``, not every step.
- The norms come from :class:`numeric.certified_norms.ChainNorms`, which tracks the
  products' shared top left singular subspace ``U``.  Its projection
  ``U^T P_k`` rides along as extra rows of the running product, so a norm
  costs a few percent of a step; it is certified to ``tol`` decades by the
  Frobenius norm, or early in the chain by a bound from ``U``'s coupling to
  the rest, with Lanczos as the fallback.  Once the products are
  numerically of low rank, the norms of ``GROUP`` steps are certified
  together, in one batched eigensolve from the carried rows alone; a group
  that is not certified whole is redone step by step.
- The products go into two preallocated buffers, in turn.
- Step Jacobians of the form ``diag(d_t) W`` (the Elman RNN's) come as
  :class:`RowScaled` factors: the step is a column scaling of ``P_{k-1}``
  in place, then one product with ``W``, and no Jacobian is ever formed.
- Factors near the ends of float64 (entries near 1e308, or subnormal) are
  divided by their largest entry first, so the log norms stay right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .certified_norms import LOG10_TOL, ChainNorms
from .errors import GradproofInputError

__all__ = ["RowScaled", "chain_log10_norms"]

#: The norms-only mode rescales the running product when ``||P||_F^2`` leaves
#: ``(RESCALE_BELOW, 1 / RESCALE_BELOW)``.
RESCALE_BELOW = 1e-100
#: ``||P||_F^2`` below this may have lost digits to subnormals.
TINY = 1e-290
#: ``diag(d) W`` is multiplied in directly while ``max |d|`` and ``max |W|`` lie
#: in ``(SAFE, 1 / SAFE)``: with ``||P||_F < 1e50`` the product then neither
#: overflows nor (short of cancellation) sinks below float64.  Outside, the
#: factors are normalised first.
SAFE = 1e-30
#: Up to this size, the column-scaled product takes ``W`` in Fortran order: at
#: N = 128 and 256 OpenBLAS multiplies so 8% and 6% faster, to the same bits;
#: at 192 and from 320 up it makes no difference (one-off measurements), and
#: the copy would only cost memory.
FORTRAN_UP_TO = 256
#: Steps whose norms :meth:`_Chain._group` certifies together.
GROUP = 16
#: Products of this size or larger are certified step by step: their product
#: dwarfs the per-step cost, and a group's saved copy would add a third buffer.
GROUP_BELOW = 1024


@dataclass(frozen=True)
class RowScaled:
    """A chunk of step Jacobians ``diag(d[i]) W`` sharing one matrix ``W``.

    ``d`` is ``(C, N)``, ``W`` is ``(N, N)``; both are only read.

    Examples
    --------
    >>> chunk = RowScaled(np.array([[0.5, 0.5], [1.0, 0.0]]), 0.9 * np.eye(2))
    >>> len(chunk), chain_log10_norms([chunk]).round(6)
    (2, array([-0.346787, -0.392545]))
    """

    d: np.ndarray
    W: np.ndarray

    def __len__(self) -> int:
        return len(self.d)


class _Chain:
    """Running product ``P_k`` as a mantissa times ``10**scale``.

    Two buffers take the products in turn; each holds ``[P; Y]``, the ``N``
    rows of the mantissa and below them the norm tracker's ``Y = U^T P``,
    which the same product carries along.
    """

    def __init__(self, n: int, tol: float) -> None:
        self.n = n
        self.norms = ChainNorms(n, tol)
        self.head: np.ndarray | None = None
        self.spare = np.empty((n + self.norms.rows, n))
        self.scale = 0.0
        self.vanished = False
        self.k = 0
        # For _group: the product before the group, and each step's Y.
        self._saved: np.ndarray | None = None
        self._ys: np.ndarray | None = None

    def push(self, chunk: np.ndarray | RowScaled, mantissa: np.ndarray | None) -> np.ndarray:
        """Multiply in ``chunk`` (step Jacobians, latest time first).

        Returns the log10 norms of ``P_{k+1}, P_{k+2}, ...``; their unit-norm
        mantissas go to ``mantissa[k], ...`` if given.
        """
        logs = np.full(len(chunk), -math.inf)
        if self.head is not None:
            # Re-project once a chunk, so rounding in the carried rows cannot build up.
            self.norms.project(self.head[: self.n], out=self.head[self.n :])
        in_range = None
        if isinstance(chunk, RowScaled):
            if self.n <= FORTRAN_UP_TO:
                chunk = RowScaled(chunk.d, np.asfortranarray(chunk.W))
            d_peaks, w_peak = np.max(np.abs(chunk.d), axis=1), float(np.max(np.abs(chunk.W)))
            in_range = (SAFE < d_peaks) & (d_peaks < 1.0 / SAFE) & (SAFE < w_peak < 1.0 / SAFE)
        # A non-finite Jacobian shows as a non-finite product, reported by _step.
        with np.errstate(over="ignore", invalid="ignore"):
            i, eager_until = 0, 0
            grouped = mantissa is None and self.n < GROUP_BELOW
            while i < len(chunk):
                if self.vanished:
                    if mantissa is not None:
                        mantissa[self.k + i : self.k + len(chunk)] = 0.0
                    break
                if grouped and i >= eager_until and self.norms.low_rank:
                    stop = min(i + GROUP, len(chunk))
                    group = self._group(chunk, i, stop, in_range)
                    if group is not None:
                        logs[i:stop] = group
                        i = stop
                        continue
                    eager_until = stop
                J = self._multiply_in(chunk, i, in_range)
                logs[i] = self._step(J, self.k + i, mantissa)
                i += 1
        self.k += len(chunk)
        return logs

    def _multiply_in(self, chunk, i: int, in_range) -> np.ndarray | None:
        """``spare = [P; Y] J_i``; returns ``J_i`` as a matrix, or None if it was never formed."""
        if not isinstance(chunk, RowScaled):
            J = chunk[i]
        elif in_range[i]:
            self._scale_and_multiply(chunk.d[i], chunk.W)
            return None
        else:
            J = self._extreme(chunk.d[i], chunk.W, self.k + i)
        self._multiply(J)
        return J

    def _group(self, chunk, start: int, stop: int, in_range) -> np.ndarray | None:
        """Steps ``start..stop-1`` with their norms certified together afterwards.

        In the low-rank regime bound 1 of :class:`ChainNorms` certifies step
        after step, and it needs only ``Y = U^T P`` and ``||P||_F^2``: those
        are kept, and all the group's bounds are taken in one batched
        eigensolve.  If any step needs more (a product out of the normal
        range, a norm bound 1 cannot certify), the chain is put back as it
        was before the group and None returned.
        """
        n, head = self.n, self.head
        if self._saved is None:
            self._saved = np.empty_like(head)
            self._ys = np.empty((GROUP, self.norms.rows, n))
        np.copyto(self._saved, head)
        scale, count = self.scale, stop - start
        f2s, scales = np.empty(count), np.empty(count)
        for i in range(count):
            out = self.spare
            self._multiply_in(chunk, start + i, in_range)
            f2 = float(np.vdot(out[:n], out[:n]))
            if not TINY <= f2 < math.inf:
                break
            self._ys[i] = out[n:]
            f2s[i], scales[i] = f2, self.scale
            self._swap(f2)
        else:
            sigma = self.norms.certify_all(self._ys[:count], f2s, self.head)
            if sigma is not None:
                return scales + np.log10(sigma)
        np.copyto(self.head, self._saved)
        self.scale = scale
        return None

    def _swap(self, f2: float) -> None:
        """Rescale the norms-only product if ``f2`` left the safe range; swap the buffers."""
        out = self.spare
        if not RESCALE_BELOW < f2 < 1.0 / RESCALE_BELOW:
            # Rescaled only now and then: in between, the products can neither
            # overflow nor sink into subnormals.
            out *= 1.0 / math.sqrt(f2)
            self.scale += 0.5 * math.log10(f2)
        self.spare = self.head if self.head is not None else np.empty_like(out)
        self.head = out

    def _extreme(self, d: np.ndarray, W: np.ndarray, k: int) -> np.ndarray:
        """``diag(d) W`` with a factor outside the safe range, divided by its peaks.

        Formed without overflow; zero if a factor is, and ``10**scale`` takes the peaks.
        """
        peaks = [float(np.max(np.abs(v))) for v in (d, W)]
        if not all(math.isfinite(p) for p in peaks):
            raise GradproofInputError(
                f"ds_T/ds_(T-k) is not finite at k = {k + 1}: a step Jacobian is not finite; "
                "the weights or inputs are too large for float64"
            )
        if min(peaks) == 0.0:
            return np.zeros((self.n, self.n))
        self.scale += math.log10(peaks[0]) + math.log10(peaks[1])
        return (d / peaks[0])[:, None] * (W / peaks[1])

    def _scale_and_multiply(self, d: np.ndarray, W: np.ndarray) -> None:
        """``spare = [P; Y] diag(d) W``: columns scaled in place (the head is spent), one GEMM."""
        if self.head is None:
            np.multiply(d[:, None], W, out=self.spare[: self.n])
            self.norms.project(self.spare[: self.n], out=self.spare[self.n :])
        else:
            self.head *= d
            np.matmul(self.head, W, out=self.spare)

    def _multiply(self, J: np.ndarray) -> None:
        """``spare = [P; Y] J``."""
        n, out = self.n, self.spare
        if self.head is None:
            np.copyto(out[:n], J)
            self.norms.project(out[:n], out=out[n:])
        else:
            np.matmul(self.head, J, out=out)

    def _rescue(self, J: np.ndarray, k: int) -> float:
        """Redo the product with ``J`` divided by its largest entry; return ``||P||_F^2``.

        For Jacobians whose plain product overflows or sinks into subnormals
        (entries near 1e308 or 1e-308); ``P`` is exactly zero if ``J`` is.
        """
        peak = float(np.max(np.abs(J)))
        if not math.isfinite(peak):
            raise GradproofInputError(
                f"ds_T/ds_(T-k) is not finite at k = {k + 1}: a step Jacobian is not finite; "
                "the weights or inputs are too large for float64"
            )
        P = self.spare[: self.n]
        if peak == 0.0:
            P[...] = 0.0
            return 0.0
        self._multiply(J / peak)
        self.scale += math.log10(peak)
        return float(np.vdot(P, P))

    def _step(self, J: np.ndarray | None, k: int, mantissa: np.ndarray | None) -> float:
        """Norm, rescaling and buffer swap of the product just formed in ``spare``.

        ``J`` is the step Jacobian as a matrix, for :meth:`_rescue`; None when
        its factors were in the safe range, where the product cannot leave float64.
        """
        n, out = self.n, self.spare
        P = out[:n]
        f2 = float(np.vdot(P, P))
        if J is not None and not TINY <= f2 < math.inf:
            f2 = self._rescue(J, k)
        if not math.isfinite(f2):
            raise GradproofInputError(
                f"ds_T/ds_(T-k) is not finite at k = {k + 1}: the product left float64"
            )
        if f2 < TINY:
            # Exactly zero (a ReLU layer all off), or squares below float64:
            # then divide by the largest entry, exactly as far as the exponent goes.
            peak = float(np.max(np.abs(P)))
            if peak == 0.0:
                self.vanished = True
                if mantissa is not None:
                    mantissa[k] = 0.0
                return -math.inf
            out /= peak  # not times 1 / peak: that overflows for a subnormal peak
            self.scale += math.log10(peak)
            f2 = float(np.vdot(P, P))
        sigma = self.norms(P, out[n:], f2)
        log = self.scale + math.log10(sigma)
        if mantissa is not None:
            out *= 1.0 / sigma
            mantissa[k] = P
            self.scale = log
            f2 = 1.0
        self._swap(f2)
        return log


def chain_log10_norms(
    chunks: Iterable[np.ndarray | RowScaled],
    *,
    mantissa: np.ndarray | None = None,
    tol: float = LOG10_TOL,
) -> np.ndarray:
    """``log10 ||J_T ... J_{T-k+1}||_2`` for every k, from backward chunks.

    Parameters
    ----------
    chunks : iterable of ndarray, each (C, N, N), or of RowScaled
        Step Jacobians ``J_T, J_{T-1}, ..., J_1`` cut into chunks, in that
        order, as matrices or as ``diag(d) W`` factors.  They are only read.
    mantissa : ndarray, shape (T, N, N), optional
        Filled with unit-norm mantissas of the products, if given.
    tol : float
        Largest error of each log10 norm, in decades.

    Returns
    -------
    ndarray, shape (T,)

    Examples
    --------
    Ten thousand steps of ``0.9 I``: the exact answer is ``k log10(0.9)``.

    >>> chunks = (np.tile(0.9 * np.eye(2), (100, 1, 1)) for _ in range(100))
    >>> logs = chain_log10_norms(chunks)
    >>> round(float(logs[-1]), 6), round(10000 * math.log10(0.9), 6)
    (-457.574906, -457.574906)
    """
    chain: _Chain | None = None
    logs = []
    for chunk in chunks:
        if not isinstance(chunk, RowScaled):
            chunk = np.asarray(chunk, dtype=float)
        if chain is None:
            chain = _Chain(len(chunk.W) if isinstance(chunk, RowScaled) else chunk.shape[-1], tol)
        logs.append(chain.push(chunk, mantissa))
        # Drop the chunk before the producer builds the next one.
        del chunk
    return np.concatenate(logs) if logs else np.zeros(0)
