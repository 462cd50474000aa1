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

:func:`peephole_runs` measures both, and the memories' own Jacobian blocks,
for the 2D Grid LSTM without and with peepholes on the same weights.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GradproofInputError
from ..flow import GradientFlow, decay_rate, gradient_flow
from ..weights import random_inputs
from .compiled import CompiledGrid, compile_grid
from .models import grid_nd
from .weight_files import GridWeights, random_grid_weights

__all__ = [
    "DECAY_CONVENTION",
    "DepthFlow",
    "PeepholeRun",
    "block_jacobians",
    "depth_decay_phrase",
    "depth_flow_map",
    "peephole_runs",
    "time_flow",
]

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
    if not grid.depth_vectors:
        raise GradproofInputError(
            "this grid has no dimension along depth, so nothing reaches the output from the "
            "layers below; measure its flow along time instead"
        )
    return DepthFlow(_reverse_sweep(grid, block_jacobians(grid, weights, inputs)))


def block_jacobians(grid: CompiledGrid, weights: GridWeights, inputs: np.ndarray) -> np.ndarray:
    """The Jacobian of every block of a forward run, shape ``(T, L, n, n)``.

    Rows and columns of each are ordered as :meth:`CompiledGrid.block`'s:
    the time vectors, then the depth vectors (``[h^T; m^T; h^D; m^D]`` in
    2D); every time vector enters the first step at zero.

    Examples
    --------
    >>> from numeric.gridlstm import compile_grid, grid_model, random_grid_weights
    >>> cg = compile_grid(grid_model(), 2)
    >>> block_jacobians(cg, random_grid_weights(cg.model, 2, 1, 3), np.ones((5, 1))).shape
    (5, 3, 8, 8)
    """
    _check_inputs(inputs, weights)
    g, n = grid, grid.hidden
    T, L = len(inputs), weights.layers
    size = (g.time_vectors + g.depth_vectors) * n
    if 8 * T * L * size**2 > MAP_BYTES:
        raise GradproofInputError(
            f"the (t, l) map keeps {T * L} block Jacobians of size {size}; "
            "lower --steps, --layers or --hidden"
        )
    params = [g.block_params(weights, j) for j in range(L)]
    J = np.empty((T, L, size, size))
    time_state = [[np.zeros(n) for _ in range(g.time_vectors)] for _ in range(L)]
    for t in range(T):
        depth = g.bottom(weights, inputs[t])
        for j in range(L):
            time_state[j], depth, J[t, j] = g.block(time_state[j], depth, params[j])
    return J


def _reverse_sweep(grid: CompiledGrid, J: np.ndarray) -> np.ndarray:
    """``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` from the block Jacobians, shape ``(T, L)``."""
    n, (T, L) = grid.hidden, J.shape[:2]
    nt, nd = grid.time_vectors * n, grid.depth_vectors * n
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
    return logs


@dataclass(frozen=True)
class PeepholeRun:
    """One run of :func:`peephole_runs`: the flows and the memories' own blocks.

    Attributes
    ----------
    time : GradientFlow
        ``log10 ||ds_T/ds_{T-k}||_2`` along time (:func:`time_flow`).
    depth : DepthFlow
        The top output's flow over the (t, l) grid (:func:`depth_flow_map`).
    carousel : dict of str to ndarray
        For ``"time"`` and ``"depth"``, the diagonal of the memory's own
        block ``dm'/dm`` of every block of the run, shape ``(T, L, d)``:
        the forget gate without peepholes, plus the two peephole terms with.
    """

    time: GradientFlow
    depth: DepthFlow
    carousel: dict[str, np.ndarray]

    @property
    def time_rate(self) -> float:
        """Decay rate along time in decades per step (:func:`numeric.flow.decay_rate`)."""
        return decay_rate(self.time.log10_norm)


def peephole_runs(
    hidden: int = 16,
    input_size: int = 4,
    layers: int = 8,
    steps: int = 20,
    *,
    scales: Sequence[float] = (0.0, 1.0, 4.0),
    seed: int = 0,
) -> dict[float, PeepholeRun]:
    """The paper's 2D Grid LSTM without and with peepholes, on the same weights and inputs.

    The weights are :func:`~numeric.gridlstm.weight_files.random_grid_weights`
    at scale 1 of the grid without peepholes; peephole scale ``s > 0`` adds,
    to every LSTM dimension and layer, ``s`` times one draw of peephole
    vectors with ``N(0, 1/d)`` entries (their own random stream, so every
    other weight stays the same; ``s = 1`` is the scale
    ``random_grid_weights`` draws peepholes at), and ``s = 0`` is the grid
    without peepholes.

    Examples
    --------
    >>> runs = peephole_runs(hidden=2, input_size=1, layers=2, steps=3, scales=(0.0, 1.0))
    >>> runs[0.0].carousel["time"].shape, runs[1.0].depth.log10_norm.shape
    ((3, 2, 2), (3, 2))
    """
    plain = grid_nd()
    weights = random_grid_weights(plain, hidden, input_size, layers, seed=seed)
    rng = np.random.default_rng([seed, 1])
    unit = {
        f"peephole_{name}_l{j}": rng.standard_normal(3 * hidden) / np.sqrt(hidden)
        for name in ("time", "depth")
        for j in range(layers)
    }
    inputs = random_inputs(steps, input_size, seed)
    runs = {}
    for scale in scales:
        grid, run_weights = plain, weights
        if scale:
            grid = grid_nd(peepholes=True)
            arrays = {**weights.arrays, **{k: scale * v for k, v in unit.items()}}
            run_weights = dataclasses.replace(weights, arrays=arrays)
        compiled = compile_grid(grid, hidden)
        J = block_jacobians(compiled, run_weights, inputs)
        refs = grid.time_vectors + grid.depth_vectors
        carousel = {}
        for name, label in (("time", "T"), ("depth", "D")):
            start = refs.index(("m", label)) * hidden
            rows = slice(start, start + hidden)
            carousel[name] = np.diagonal(J[:, :, rows, rows], axis1=2, axis2=3)
        runs[scale] = PeepholeRun(
            time_flow(compiled, run_weights, inputs),
            DepthFlow(_reverse_sweep(compiled, J)),
            carousel,
        )
    return runs
