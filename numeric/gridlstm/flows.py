"""Gradient flow through a compiled grid model, along time and over the (t, l) grid.

Two measurements:

* along time, the state carried from step to step is the concatenation over
  layers, bottom first, of the time vectors (``[h^T_{t,l}; m^T_{t,l}]`` in
  2D); its step Jacobian feeds :func:`numeric.flow.gradient_flow`
  (:func:`time_flow`);
* over the grid, :func:`depth_flow_map` gives
  ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2``, where ``h^D`` is the input
  dimension's hidden vector (the first depth vector), ``h^D_{t,l}`` the depth
  input of block ``(t, l+1)`` and every other block input is held fixed (a
  partial derivative); its last row ``t = T`` is ``log10_norm_depth``,
  whose slope against the layer index :func:`depth_decay_phrase` puts in
  words ("decays by 0.137 decades per layer going down from the output").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import GradproofInputError
from ..flow import GradientFlow, gradient_flow
from .compiled import CompiledGrid
from .weight_files import GridWeights

__all__ = ["DECAY_CONVENTION", "DepthFlow", "depth_decay_phrase", "depth_flow_map", "time_flow"]

#: Largest stack of block Jacobians :func:`depth_flow_map` will allocate.
MAP_BYTES = 2**30


def time_flow(
    grid: CompiledGrid, weights: GridWeights, inputs: np.ndarray, s0: np.ndarray | None = None
) -> GradientFlow:
    """``log10 ||ds_T/ds_{T-k}||_2`` along time, ``s`` the time state of every layer.

    Examples
    --------
    >>> from numeric.gridlstm import compile_grid, grid_model, random_grid_weights
    >>> cg = compile_grid(grid_model(), 2)
    >>> w = random_grid_weights(cg.model, 2, 1, layers=2)
    >>> time_flow(cg, w, np.ones((4, 1))).log10_norm.shape
    (4,)
    """
    _check_inputs(inputs, weights)
    return gradient_flow(grid.time_model(weights), {}, inputs, s0)


def _check_inputs(inputs: np.ndarray, weights: GridWeights) -> None:
    shape = np.shape(inputs)
    if len(shape) != 2 or shape[1] != weights.input_size or shape[0] < 1:
        raise GradproofInputError(
            f"inputs have shape {shape}, expected (T, k) = (T, {weights.input_size}) with T >= 1"
        )


@dataclass(frozen=True)
class DepthFlow:
    """Gradient flow of the top output ``h^D_{T,L}`` over the (t, l) grid.

    Attributes
    ----------
    log10_norm : ndarray, shape (T, L)
        Entry ``[t-1, l]`` is ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` for
        ``l = 0..L-1``: the depth input of block ``(t, l+1)``, every other
        block input held fixed.
    """

    log10_norm: np.ndarray

    @property
    def log10_norm_depth(self) -> np.ndarray:
        """Row ``t = T``: ``log10 ||dh^D_{T,L}/dh^D_{T,l}||_2``, l = 0..L-1."""
        return self.log10_norm[-1]

    @property
    def depth_slope(self) -> float:
        """Least-squares slope of ``log10_norm_depth`` against ``l``, per layer.

        The fit includes ``l = L``, where the derivative is the identity (log
        0).  A positive slope means the gradient shrinks going down, by that
        many decades per layer; ``-inf`` once it reaches exactly zero.
        """
        logs = np.append(self.log10_norm_depth, 0.0)
        if np.any(logs == -np.inf):
            return -math.inf
        levels = np.arange(len(logs), dtype=float)
        levels -= levels.mean()
        return float(levels @ (logs - logs.mean()) / (levels @ levels))

    @property
    def depth_decay(self) -> str:
        """:attr:`depth_slope` in words (:func:`depth_decay_phrase`)."""
        return depth_decay_phrase(self.depth_slope)


#: The sign convention of :func:`depth_decay_phrase`, in words.
DECAY_CONVENTION = (
    "a decade is a factor of 10; the gradient of the top output decays going down when it is "
    "smaller at the lower layers, further from the output (a positive slope of its log10 "
    "against the layer index)"
)


def depth_decay_phrase(slope: float | None, digits: int = 3) -> str:
    """How the gradient of the top output changes per layer going down, in words.

    ``slope`` is :attr:`DepthFlow.depth_slope` (decades per layer, positive
    when the gradient shrinks going down; see :data:`DECAY_CONVENTION`);
    ``-inf`` or None (its JSON form) means the gradient reached exactly zero.

    Examples
    --------
    >>> depth_decay_phrase(0.1372)
    'decays by 0.137 decades per layer going down from the output'
    >>> depth_decay_phrase(-0.02)
    'grows by 0.020 decades per layer going down from the output'
    >>> depth_decay_phrase(0.0001)
    'neither decays nor grows going down from the output (0.000 decades per layer)'
    >>> depth_decay_phrase(None)
    'reaches exactly zero going down from the output'
    """
    if slope is None or slope == -math.inf:
        return "reaches exactly zero going down from the output"
    size = f"{abs(slope):.{digits}f}"
    if float(size) == 0:
        return f"neither decays nor grows going down from the output ({size} decades per layer)"
    how = "decays" if slope > 0 else "grows"
    return f"{how} by {size} decades per layer going down from the output"


def depth_flow_map(grid: CompiledGrid, weights: GridWeights, inputs: np.ndarray) -> DepthFlow:
    """``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` over the grid, by a reverse sweep.

    Forward, every block's Jacobian is kept; backward, the derivative of
    ``h^D_{T,L}`` with respect to each block's outputs is propagated right
    to left and top to bottom, rescaled per time step so that long horizons
    stay in float64.

    Examples
    --------
    >>> from numeric.gridlstm import compile_grid, grid_model, random_grid_weights
    >>> cg = compile_grid(grid_model(), 2)
    >>> w = random_grid_weights(cg.model, 2, 1, layers=3)
    >>> flow = depth_flow_map(cg, w, np.ones((5, 1)))
    >>> flow.log10_norm.shape, bool(np.all(np.isfinite(flow.log10_norm_depth)))
    ((5, 3), True)
    """
    _check_inputs(inputs, weights)
    g, n = grid, grid.hidden
    if not g.depth_vectors:
        raise GradproofInputError(
            "this grid has no dimension along depth, so nothing reaches the output from the "
            "layers below; measure its flow along time instead"
        )
    T, L = len(inputs), weights.layers
    nt, nd = g.time_vectors * n, g.depth_vectors * n
    if 8 * T * L * (nt + nd) ** 2 > MAP_BYTES:
        raise GradproofInputError(
            f"the (t, l) map keeps {T * L} block Jacobians of size {nt + nd}; "
            "lower --steps, --layers or --hidden"
        )
    params = [g.block_params(weights, j) for j in range(L)]
    J = np.empty((T, L, nt + nd, nt + nd))
    time_state = [[np.zeros(n) for _ in range(g.time_vectors)] for _ in range(L)]
    for t in range(T):
        depth = g.bottom(weights, inputs[t])
        for j in range(L):
            time_state[j], depth, J[t, j] = g.block(time_state[j], depth, params[j])
    logs = np.empty((T, L))
    # adjoint of each layer's time output at step t+1 (rows: the d outputs of h^D_{T,L})
    right = np.zeros((L, n, nt))
    log_scale = 0.0
    for t in reversed(range(T)):
        above = np.zeros((n, nd))
        if t == T - 1:
            above[:, :n] = np.eye(n)
        column = np.empty((L, n, nt + nd))
        for j in reversed(range(L)):
            out_adjoint = np.concatenate([right[j], above], axis=1)
            column[j] = out_adjoint @ J[t, j]
            above = column[j][:, nt:]
        with np.errstate(divide="ignore"):
            logs[t] = [
                math.log10(s) + log_scale
                if (s := np.linalg.norm(column[j][:, nt : nt + n], 2)) > 0
                else -math.inf
                for j in range(L)
            ]
        right = column[:, :, :nt]
        peak = float(np.max(np.abs(right), initial=0.0))
        if peak > 0:
            right = right / peak
            log_scale += math.log10(peak)
    return DepthFlow(logs)
