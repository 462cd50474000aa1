"""Gradient flow through a recurrent network: ``ds_T/ds_{T-k}`` for every k.

Forward, the cell runs from ``s_0`` over ``x_1..x_T``.  Backward, the chain
``P_k = ds_T/ds_{T-k} = J_T J_{T-1} ... J_{T-k+1}`` grows by one right
factor per k, ``P_k = P_{k-1} J_{T-k+1}``, and its spectral norm is taken
at every k.  The one ``N x N`` product per step is the floor of the cost;
everything else is kept to a small fraction of it:

- Products of thousands of factors leave float64 (0.9^10000 is 1e-458), so
  the chain is a mantissa times ``10**scale``.  The Frobenius norm, taken
  every step anyway, says when to rescale: only when it leaves
  ``1e-50..1e50``, not every step.
- The norms come from :class:`numeric.spectral.ChainNorms`, which tracks the
  products' shared top left singular subspace ``U``.  Its projection
  ``U^T P_k`` rides along as extra rows of the running product, so a norm
  costs a few percent of a step; it is certified to ``tol`` decades by the
  Frobenius norm, or early in the chain by a bound from ``U``'s coupling to
  the rest, with Lanczos as the fallback.
- The products go into two preallocated buffers, in turn.
- For a cell whose step Jacobian is ``diag(d_t) W`` (the Elman RNN), the
  model's ``jacobian_factors`` gives ``d_t`` and ``W``, and the step is a
  column scaling of ``P_{k-1}`` in place, then one product with ``W``:
  no Jacobian is ever formed.

Memory: step Jacobians (or their factors ``d_t``) are built ``chunk`` at a
time, backward, and only one chunk is alive at a time.  The forward run
keeps all states if they take no more than a chunk, else one per chunk,
and the states in between are recomputed on the way back.  So the norms-only mode holds
``O(chunk N^2 + T N / chunk)`` numbers; the matrices mode adds the
``T N^2`` mantissas it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from symbolic.cells import Cell

from .compile import compile_cell
from .errors import GradproofInputError
from .spectral import LOG10_TOL, ChainNorms
from .weights import cell_sizes

__all__ = [
    "GradientFlow",
    "RowScaled",
    "StepModel",
    "backward_step_jacobians",
    "chain_log10_norms",
    "decay_rate",
    "gradient_flow",
    "json_floats",
    "measured_trend",
]

#: Bytes of step Jacobians built at once (sets the default chunk length).
#: Below glibc's largest mmap threshold (32 MiB), so successive chunks reuse
#: heap memory instead of page-faulting fresh pages in.
CHUNK_BYTES = 16 * 2**20
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
#: Largest mantissa stack the matrices mode will allocate.
MATRIX_BYTES = 2**30


class StepModel(Protocol):
    """What the engine needs of a compiled cell (see ``numeric.compile``).

    A model may also offer ``jacobian_factors(s, x, params)``, returning
    ``(d, W)`` with every step Jacobian ``diag(d) W`` (``d`` batched like
    ``s``, one constant ``W``) or None; the engine then multiplies the
    running product by ``W`` after scaling its columns by ``d``, and never
    forms a step Jacobian.
    """

    @property
    def state_size(self) -> int: ...

    def step(
        self, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray: ...

    def jacobian(
        self, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray: ...


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


@dataclass(frozen=True)
class GradientFlow:
    """``ds_T/ds_{T-k}`` for ``k = 1..T`` in log-scaled form.

    Attributes
    ----------
    log10_norm : ndarray, shape (T,)
        Entry ``k-1`` is ``log10 ||ds_T/ds_{T-k}||_2``; ``-inf`` once the
        product is exactly zero (every unit of a ReLU layer off).
    mantissa : ndarray, shape (T, N, N), or None
        Entry ``k-1`` has unit spectral norm, to the tolerance of the norms
        (or is zero), and
        ``ds_T/ds_{T-k} = mantissa[k-1] * 10**log10_norm[k-1]``.  Only in
        the matrices mode.
    final_state : ndarray, shape (N,)
        ``s_T``.
    """

    log10_norm: np.ndarray
    mantissa: np.ndarray | None
    final_state: np.ndarray

    @property
    def steps(self) -> int:
        """The horizon ``T``."""
        return len(self.log10_norm)

    def product(self, k: int) -> np.ndarray:
        """``ds_T/ds_{T-k}`` in plain float64 (may under- or overflow for large k)."""
        if self.mantissa is None:
            raise ValueError("run gradient_flow(..., matrices=True) to keep the products")
        if not 1 <= k <= self.steps:
            raise ValueError(f"k must be in 1..{self.steps}, got {k}")
        if self.log10_norm[k - 1] == -math.inf:
            return np.zeros_like(self.mantissa[k - 1])
        return self.mantissa[k - 1] * 10.0 ** self.log10_norm[k - 1]


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

    def push(self, chunk: np.ndarray | RowScaled, mantissa: np.ndarray | None) -> np.ndarray:
        """Multiply in ``chunk`` (step Jacobians, latest time first).

        Returns the log10 norms of ``P_{k+1}, P_{k+2}, ...``; their unit-norm
        mantissas go to ``mantissa[k], ...`` if given.
        """
        logs = np.full(len(chunk), -math.inf)
        if self.head is not None:
            # Re-project once a chunk, so rounding in the carried rows cannot build up.
            self.norms.project(self.head[: self.n], out=self.head[self.n :])
        if isinstance(chunk, RowScaled):
            d_peaks, w_peak = np.max(np.abs(chunk.d), axis=1), float(np.max(np.abs(chunk.W)))
            in_range = (SAFE < d_peaks) & (d_peaks < 1.0 / SAFE) & (SAFE < w_peak < 1.0 / SAFE)
        # A non-finite Jacobian shows as a non-finite product, reported by _step.
        with np.errstate(over="ignore", invalid="ignore"):
            for i in range(len(chunk)):
                if self.vanished:
                    if mantissa is not None:
                        mantissa[self.k + i : self.k + len(chunk)] = 0.0
                    break
                if not isinstance(chunk, RowScaled):
                    J = chunk[i]
                elif in_range[i]:
                    J = None
                    self._scale_and_multiply(chunk.d[i], chunk.W)
                else:
                    J = self._extreme(chunk.d[i], chunk.W, self.k + i)
                if J is not None:
                    self._multiply(J)
                logs[i] = self._step(J, self.k + i, mantissa)
        self.k += len(chunk)
        return logs

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
        """``spare = [P; Y] diag(d) W``: the columns scaled in place (the head is spent), one GEMM."""
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
        elif not RESCALE_BELOW < f2 < 1.0 / RESCALE_BELOW:
            # Rescaled only now and then: in between, the products can neither
            # overflow nor sink into subnormals.
            out *= 1.0 / math.sqrt(f2)
            self.scale += 0.5 * math.log10(f2)
        self.spare = self.head if self.head is not None else np.empty_like(out)
        self.head = out
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


def _forward_step(model: StepModel, s, x, params, t: int) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        s = model.step(s, x, params)
    if not np.all(np.isfinite(s)):
        raise GradproofInputError(
            f"the forward run left float64 at step t = {t}; lower --scale or --steps"
        )
    return s


def _checkpoints(
    model: StepModel, params, inputs: np.ndarray, s0: np.ndarray, every: int
) -> tuple[list[np.ndarray], np.ndarray]:
    """Forward run keeping ``s_0, s_every, s_2every, ...``; also returns ``s_T``."""
    T = len(inputs)
    checkpoints = [s0]
    s = s0
    for t in range(1, T + 1):
        s = _forward_step(model, s, inputs[t - 1], params, t)
        if t % every == 0 and t < T:
            checkpoints.append(s)
    return checkpoints, s


def _backward(
    model: StepModel,
    params,
    inputs: np.ndarray,
    checkpoints: list[np.ndarray],
    chunk: int,
    every: int,
    factored: bool = True,
) -> Iterator[np.ndarray | RowScaled]:
    """Chunks of ``J_T, ..., J_1``; states between checkpoints are recomputed.

    If ``factored``, a model with ``jacobian_factors`` gives :class:`RowScaled` chunks.
    """
    T, N = len(inputs), len(checkpoints[0])
    factors_of = getattr(model, "jacobian_factors", None) if factored else None
    for first in reversed(range(0, T, chunk)):
        last = min(first + chunk, T)
        states = np.empty((last - first, N))
        for t in range(first, last):
            if t % every == 0:
                states[t - first] = checkpoints[t // every]
            else:
                states[t - first] = _forward_step(
                    model, states[t - first - 1], inputs[t - 1], params, t
                )
        with np.errstate(over="ignore", invalid="ignore"):
            factors = None if factors_of is None else factors_of(states, inputs[first:last], params)
            if factors is None:
                jacobians = model.jacobian(states, inputs[first:last], params)[::-1]
            else:
                jacobians = RowScaled(factors[0][::-1], factors[1])
        del states, factors
        yield jacobians
        # Drop this chunk before the next is built, so only one is ever alive.
        del jacobians


def backward_step_jacobians(
    model: StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray,
    *,
    chunk: int,
) -> Iterator[np.ndarray]:
    """Step Jacobians ``J_T, ..., J_1`` in chunks of ``chunk``, latest first.

    ``J_t = ds_t/ds_{t-1}`` at ``(s_{t-1}, x_t)``.  The forward run keeps
    only every ``chunk``-th state; each chunk's states are recomputed from
    its checkpoint, and its Jacobians evaluated in one batched call.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cc = compile_cell(elman_rnn("tanh"), n=2, m=1)
    >>> params = {"W": 0.5 * np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    >>> chunks = backward_step_jacobians(cc, params, np.ones((5, 1)), np.zeros(2), chunk=2)
    >>> [c.shape for c in chunks]
    [(1, 2, 2), (2, 2, 2), (2, 2, 2)]
    """
    inputs, s0 = _validated(model, inputs, s0)
    checkpoints, _ = _checkpoints(model, params, inputs, s0, chunk)
    yield from _backward(model, params, inputs, checkpoints, chunk, chunk, factored=False)


def _validated(model: StepModel, inputs, s0) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.asarray(inputs, dtype=float)
    if inputs.ndim != 2 or len(inputs) < 1:
        raise GradproofInputError(
            f"inputs have shape {inputs.shape}, expected (T, in) with T >= 1 steps"
        )
    N = model.state_size
    s0 = np.zeros(N) if s0 is None else np.asarray(s0, dtype=float)
    if s0.shape != (N,):
        raise GradproofInputError(f"initial state has shape {s0.shape}, expected (N,) = ({N},)")
    for what, arr in (("inputs", inputs), ("initial state", s0)):
        if not np.all(np.isfinite(arr)):
            raise GradproofInputError(f"{what} contain NaN or inf; fix or regenerate them")
    return inputs, s0


def gradient_flow(
    cell: Cell | StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    matrices: bool = False,
    chunk: int | None = None,
    tol: float = LOG10_TOL,
) -> GradientFlow:
    """Run forward over ``inputs``, then measure ``ds_T/ds_{T-k}`` for k = 1..T.

    Parameters
    ----------
    cell : Cell or compiled cell
        A symbolic cell (compiled at the sizes ``params`` imply) or an
        object from ``numeric.compile.compile_cell``.
    params : mapping of str to ndarray
        The cell's parameters by symbolic name.
    inputs : ndarray, shape (T, in)
        ``x_1..x_T``.
    s0 : ndarray, shape (N,), optional
        Initial full state; zeros by default.
    matrices : bool
        Keep the ``T`` product mantissas (needs ``8 T N^2`` bytes).
    chunk : int, optional
        Step Jacobians built at once; by default about 16 MiB of them.
    tol : float
        Largest error of each log10 norm, in decades.

    Examples
    --------
    At the origin ``tanh' = 1``, so every step Jacobian is ``W = 0.9 I``:

    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": 0.9 * np.eye(3), "U": np.zeros((3, 1)), "b": np.zeros(3)}
    >>> flow = gradient_flow(elman_rnn("tanh"), params, np.zeros((10000, 1)))
    >>> round(float(flow.log10_norm[-1]), 6)
    -457.574906
    """
    model = compile_cell(cell, **cell_sizes(cell, params)) if isinstance(cell, Cell) else cell
    inputs, s0 = _validated(model, inputs, s0)
    T, N = len(inputs), model.state_size
    if chunk is None:
        chunk = int(min(1024, max(1, CHUNK_BYTES // (8 * N * N))))
    mantissa = None
    if matrices:
        if 8 * T * N * N > MATRIX_BYTES:
            raise GradproofInputError(
                f"keeping {T} products of size {N}x{N} needs {8 * T * N * N / 2**30:.1f} GiB; "
                "use the norms-only mode"
            )
        mantissa = np.empty((T, N, N))
    # All T states are kept if they take no more memory than one chunk of
    # Jacobians; otherwise every chunk-th, and the rest are recomputed.
    every = 1 if T <= chunk * N else chunk
    checkpoints, final = _checkpoints(model, params, inputs, s0, every)
    chunks = _backward(model, params, inputs, checkpoints, chunk, every)
    logs = chain_log10_norms(chunks, mantissa=mantissa, tol=tol)
    return GradientFlow(logs, mantissa, final)


def decay_rate(log10_norm: np.ndarray) -> float:
    """Least-squares slope of ``log10 ||ds_T/ds_{T-k}||`` per step k.

    The fit includes ``k = 0``, where the product is the identity (log 0), so
    it is defined for any ``T >= 1``.  ``-inf`` if the product reached zero.

    Examples
    --------
    >>> round(decay_rate(np.log10(0.5) * np.arange(1, 11)), 6)
    -0.30103
    """
    logs = np.concatenate([[0.0], np.asarray(log10_norm, dtype=float)])
    if np.any(logs == -np.inf):
        return -math.inf
    k = np.arange(len(logs), dtype=float)
    k -= k.mean()
    return float(k @ (logs - logs.mean()) / (k @ k))


def json_floats(values) -> list[float | None]:
    """Floats for JSON: ``-inf`` (an exactly vanished chain) and NaN become None.

    Examples
    --------
    >>> json_floats([-1.5, -np.inf])
    [-1.5, None]
    """
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def measured_trend(rate: float, steps: int) -> str:
    """``"vanishing"``, ``"exploding"`` or ``"neutral"``: whether the fitted rate
    moves the norm by at least one decade over the horizon.

    Examples
    --------
    >>> measured_trend(-0.05, 100), measured_trend(0.001, 100)
    ('vanishing', 'neutral')
    """
    if rate * steps <= -1.0:
        return "vanishing"
    if rate * steps >= 1.0:
        return "exploding"
    return "neutral"
