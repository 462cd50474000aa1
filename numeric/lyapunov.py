"""Lyapunov exponents of a run's forward step Jacobians, by the QR method.

The exponents of the forward sequence ``J_1, J_2, ...`` by the standard QR
method (Benettin, Galgani, Giorgilli and Strelcyn 1980; for RNNs, Vogt et
al. 2022): ``Q_0 = I``, ``J_t Q_{t-1} = Q_t R_t``,
``lambda_i = (1/T) sum_t ln |R_t[i, i]|``, natural log per step.  Since
``|R_t[1, 1]| = ||J_t q|| <= ||J_t||_2`` for a unit vector ``q``, a cell
whose step Jacobian obeys ``||J_t||_2 <= B`` at every state has
``lambda_1 <= ln B`` at every horizon (:func:`check_lyapunov_bound`), e.g.
``ln(gamma sigma_max(W))`` for the Elman RNN.

The step Jacobians are built in chunks, one at a time, as in the
norms-only flow; the chunk rule and input checks are shared with the
singular values of :mod:`numeric.singular_values`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from symbolic.cells import Cell

from .bounds import EvaluatedBound
from .check import RTOL, CheckResult
from .compile import compile_cell
from .errors import GradproofInputError
from .flow import CHUNK_BYTES, StepModel, _forward_step, _validated
from .weights import cell_sizes

__all__ = [
    "ForwardQR",
    "check_lyapunov_bound",
    "default_chunk",
    "forward_states",
    "forward_step_jacobians",
    "lyapunov_exponents",
    "qr_lyapunov_exponents",
]


def _count(count: int | None, n: int, what: str) -> int:
    if count is None:
        return n
    if int(count) != count or not 1 <= count <= n:
        raise GradproofInputError(f"{what} must be an integer from 1 to N = {n}, got {count}")
    return int(count)


def _checked(chunk, k: int) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=float)
    if not np.all(np.isfinite(chunk)):
        raise GradproofInputError(
            f"a step Jacobian is not finite near k = {k + 1}; "
            "the weights or inputs are too large for float64"
        )
    return chunk


def _model(cell: Cell | StepModel, params: Mapping[str, np.ndarray]) -> StepModel:
    return compile_cell(cell, **cell_sizes(cell, params)) if isinstance(cell, Cell) else cell


def default_chunk(n: int) -> int:
    """Step Jacobians of size ``n x n`` built at once: about 16 MiB of them, at most 1024.

    The same rule as :func:`numeric.flow.gradient_flow`'s default.

    Examples
    --------
    >>> default_chunk(2), default_chunk(256), default_chunk(4096)
    (1024, 32, 1)
    """
    return int(min(1024, max(1, CHUNK_BYTES // (8 * n * n))))


def forward_states(
    model: StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    chunk: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """States ``s_0, ..., s_{T-1}`` with their inputs ``x_1, ..., x_T``, in chunks, earliest first.

    Each chunk is ``(states, inputs)``, ``(C, N)`` and ``(C, in)``: the
    points at which ``J_t = ds_t/ds_{t-1}`` is taken; only the current
    chunk's states are held.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cc = compile_cell(elman_rnn("tanh"), n=2, m=1)
    >>> params = {"W": 0.5 * np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    >>> [s.shape for s, _ in forward_states(cc, params, np.ones((5, 1)), chunk=2)]
    [(2, 2), (2, 2), (1, 2)]
    """
    inputs, s = _validated(model, inputs, s0)
    T = len(inputs)
    for first in range(0, T, chunk):
        last = min(first + chunk, T)
        states = np.empty((last - first, len(s)))
        for t in range(first, last):
            states[t - first] = s
            s = _forward_step(model, s, inputs[t], params, t + 1)
        yield states, inputs[first:last]
        del states


def forward_step_jacobians(
    model: StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    chunk: int,
) -> Iterator[np.ndarray]:
    """Step Jacobians ``J_1, ..., J_T`` in chunks of ``chunk``, earliest first.

    ``J_t = ds_t/ds_{t-1}`` at ``(s_{t-1}, x_t)``; only the current chunk's
    states and Jacobians are held.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cc = compile_cell(elman_rnn("tanh"), n=2, m=1)
    >>> params = {"W": 0.5 * np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    >>> [c.shape for c in forward_step_jacobians(cc, params, np.ones((5, 1)), chunk=2)]
    [(2, 2, 2), (2, 2, 2), (1, 2, 2)]
    """
    for states, xs in forward_states(model, params, inputs, s0, chunk=chunk):
        with np.errstate(over="ignore", invalid="ignore"):
            jacobians = model.jacobian(states, xs, params)
        yield jacobians
        del jacobians


class ForwardQR:
    """The QR method's running state: ``J_t Q_{t-1} = Q_t R_t``, ``sum_t ln |R_t[i, i]|``.

    Examples
    --------
    >>> qr = ForwardQR(2)
    >>> qr.push(np.stack([np.diag([2.0, 0.5])] * 3))
    >>> (qr.exponents() / np.log(2)).round(9)
    array([ 1., -1.])
    """

    def __init__(self, n: int, count: int | None = None) -> None:
        self.Q = np.eye(n, _count(count, n, "the number of exponents"))
        self.total = np.zeros(self.Q.shape[1])
        self.steps = 0

    def push(self, chunk: np.ndarray) -> None:
        """Take in a chunk ``(C, N, N)`` of the next step Jacobians, earliest first."""
        chunk = _checked(chunk, self.steps)
        for J in chunk:
            self.Q, R = np.linalg.qr(J @ self.Q)
            with np.errstate(divide="ignore"):
                self.total += np.log(np.abs(np.diagonal(R)))
        self.steps += len(chunk)

    def exponents(self) -> np.ndarray:
        """``lambda_i`` so far, natural log per step."""
        if not self.steps:
            raise GradproofInputError("no step Jacobians: the horizon T must be at least 1")
        return self.total / self.steps


def qr_lyapunov_exponents(chunks: Iterable[np.ndarray], count: int | None = None) -> np.ndarray:
    """Lyapunov exponents of ``J_1, J_2, ...`` by the QR method, natural log per step.

    Parameters
    ----------
    chunks : iterable of ndarray, each (C, N, N)
        Step Jacobians ``J_1, ..., J_T`` in chunks, earliest first.
    count : int, optional
        How many exponents, from the largest (all ``N`` by default); the QR
        method then carries an ``N x count`` basis.

    Returns
    -------
    ndarray, shape (count,)
        ``lambda_i = (1/T) sum_t ln |R_t[i, i]|`` with ``J_t Q_{t-1} = Q_t R_t``,
        ``Q_0`` the first ``count`` columns of ``I``; ``-inf`` where an
        ``R_t[i, i]`` is exactly zero.

    Examples
    --------
    ``J_t = O_t diag(2, 0.5) O_{t-1}^T`` with ``O_0 = I``: the product is
    ``O_T diag(2^T, 0.5^T)``, the exponents ``ln 2, ln 0.5``.

    >>> rng = np.random.default_rng(0)
    >>> O = [np.eye(2)] + [np.linalg.qr(rng.standard_normal((2, 2)))[0] for _ in range(100)]
    >>> J = np.stack([O[t] @ np.diag([2.0, 0.5]) @ O[t - 1].T for t in range(1, 101)])
    >>> (qr_lyapunov_exponents([J]) / np.log(2)).round(9)
    array([ 1., -1.])
    """
    qr = None
    for chunk in chunks:
        if qr is None:
            qr = ForwardQR(np.shape(chunk)[-1], count)
        qr.push(chunk)
        del chunk
    if qr is None:
        raise GradproofInputError("no step Jacobians: the horizon T must be at least 1")
    return qr.exponents()


def lyapunov_exponents(
    cell: Cell | StepModel,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    count: int | None = None,
    chunk: int | None = None,
) -> np.ndarray:
    """Lyapunov exponents along the run over ``inputs`` from ``s0``, natural log per step.

    Same arguments as :func:`numeric.flow.gradient_flow`; see
    :func:`qr_lyapunov_exponents`.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": np.diag([0.9, 0.5]), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> lyapunov_exponents(elman_rnn("tanh"), params, np.zeros((50, 1))).round(6)
    array([-0.105361, -0.693147])
    """
    model = _model(cell, params)
    chunks = forward_step_jacobians(
        model, params, inputs, s0, chunk=chunk or default_chunk(model.state_size)
    )
    return qr_lyapunov_exponents(chunks, count)


def check_lyapunov_bound(
    exponents: np.ndarray, bound: EvaluatedBound, *, rtol: float = RTOL
) -> CheckResult:
    """Is the largest Lyapunov exponent at most ``ln B``, the cell's step bound?

    Each ``|R_t[1, 1]|`` is at most ``||J_t||_2 <= B``, so the relation holds
    at every horizon; each step may carry a relative rounding error
    ``rtol``, an allowance of ``ln(1 + rtol)``.

    Examples
    --------
    >>> b = EvaluatedBound(0.9, "gamma sigma_max(W)", 1.0, 0.9, None)
    >>> check_lyapunov_bound(np.array([-0.2, -0.7]), b).passed
    True
    >>> print(check_lyapunov_bound(np.array([-0.1, -0.7]), b).detail)
    largest Lyapunov exponent -0.1 per step > ln B = -0.1054 (B = gamma sigma_max(W) = 0.9)
    """
    top = float(np.max(exponents))
    limit = bound.log10_value * math.log(10)  # finite even where B is beyond float64
    excess = top - limit - math.log1p(rtol) if top > -math.inf else -math.inf
    passed = bool(excess <= 0.0)
    relation = "<=" if passed else ">"
    detail = (
        f"largest Lyapunov exponent {top:.4g} per step {relation} ln B = {limit:.4g} "
        f"(B = {bound.formula} = {bound.shown('value', 4)})"
    )
    return CheckResult(passed, max(excess, 0.0), rtol, detail)
