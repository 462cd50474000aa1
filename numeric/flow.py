"""Gradient flow through a recurrent network: ``ds_T/ds_{T-k}`` for every k.

Forward, the cell runs from ``s_0`` over ``x_1..x_T``.  Backward, the chain
``P_k = ds_T/ds_{T-k} = J_T J_{T-1} ... J_{T-k+1}`` grows by one right
factor per k, ``P_k = P_{k-1} J_{T-k+1}``, and its spectral norm is taken
at every k.  The running product, kept in log space, and its norms live
in :mod:`numeric.chain`.  For a cell
whose step Jacobian is ``diag(d_t) W`` (the Elman RNN), the model's
``jacobian_factors`` gives ``d_t`` and ``W``, so no Jacobian is ever formed.

Memory: step Jacobians (or their factors ``d_t``) are built ``chunk`` at a
time, backward, and only one chunk is alive at a time.  The forward run
keeps all states if they take no more than a chunk, else one per chunk,
and the states in between are recomputed on the way back.  So the
norms-only mode holds ``O(chunk N^2 + T N / chunk)`` numbers; the matrices mode adds the
``T N^2`` mantissas it returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from symbolic.cells import Cell

from .certified_norms import LOG10_TOL
from .chain import RowScaled, chain_log10_norms
from .compile import compile_cell
from .errors import GradproofInputError
from .weights import cell_sizes

__all__ = [
    "GradientFlow",
    "StepModel",
    "backward_step_jacobians",
    "decay_rate",
    "gradient_flow",
    "json_floats",
    "measured_trend",
]

#: Bytes of step Jacobians built at once (sets the default chunk length).
#: Below glibc's largest mmap threshold (32 MiB), so successive chunks reuse
#: heap memory instead of page-faulting fresh pages in.
CHUNK_BYTES = 16 * 2**20
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


def _forward_step(model: StepModel, s, x, params, t: int) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        s = model.step(s, x, params)
    if not np.isfinite(s).all():
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
