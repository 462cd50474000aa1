"""The 2D (time x depth) Grid LSTM over sequences, compiled, with its weight files.

A model is one symbolic block (:mod:`symbolic.grid_lstm`) evaluated at every
grid point ``(t, l)``, ``t = 1..T``, ``l = 1..L``: the block at ``(t, l)``
reads the time state of ``(t-1, l)`` and the depth state of ``(t, l-1)``;
the bottom depth state is the projected input (``h^D_{t,0} = P x_t``), the
output is ``h^D_{t,L}``.  The block's step and its 4 x 4 block Jacobian are
compiled once with :func:`numeric.compile.lambdify_matrix`.

Weight files (``.npz``): ``input_projection (d, k)``; per layer
``l = 0..L-1``: ``weight_time_l{l} (4d, 2d)``, ``bias_time_l{l} (4d)``,
``weight_depth_l{l} (4d, 2d)``, ``bias_depth_l{l} (4d)``; tied weights use
the same names without ``_l{l}``.  Gate rows are in PyTorch's order
``i, f, g, o`` (the paper's ``u, f, c, o``), columns ``[h^time; h^depth]``.
The stacked models of the comparison use the ``time`` arrays only (the tanh
RNN with one gate, ``(d, 2d)``); their depth dimension copies ``h`` up.

Two measurements:

* along time, the state carried from step to step is the concatenation over
  layers, bottom first, of ``[h^T_{t,l}; m^T_{t,l}]``; its step Jacobian
  feeds :func:`numeric.flow.gradient_flow`;
* over the grid, :func:`depth_flow_map` gives
  ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2``, where ``h^D_{t,l}`` is the depth
  input of block ``(t, l+1)`` and every other block input is held fixed (a
  partial derivative); its last row ``t = T`` is ``log10_norm_depth``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from symbolic.grid_lstm import (
    GATE_ROLES,
    GridSequenceModel,
    d,
    grid_lstm_2d,
    stacked_lstm_2d,
    stacked_rnn_2d,
)
from symbolic.jacobians import step_jacobian_blocks

from .compile import lambdify_matrix
from .errors import GradproofInputError
from .flow import GradientFlow, gradient_flow
from .weights import load_npz

__all__ = [
    "GRID_MODELS",
    "CompiledGrid",
    "DepthFlow",
    "GridWeights",
    "compile_grid",
    "depth_flow_map",
    "grid_model",
    "grid_weight_shapes",
    "load_grid_weights",
    "random_grid_weights",
    "save_grid_weights",
    "time_flow",
]

#: Models the numeric side runs, by name.
GRID_MODELS = ("gridlstm", "stacked-lstm", "stacked-rnn")
_PREFIX = {"T": "time", "D": "depth"}
#: Largest stack of block Jacobians :func:`depth_flow_map` will allocate.
MAP_BYTES = 2**30


def grid_model(
    name: str = "gridlstm",
    *,
    output_form: str = "paper",
    priority: str = "none",
    variant: str = "paper",
) -> GridSequenceModel:
    """The symbolic model behind a numeric run.

    ``"gridlstm"`` always carries biases (the weight files have them);
    ``"stacked-lstm"`` and ``"stacked-rnn"`` are the comparison models.

    Examples
    --------
    >>> grid_model("stacked-rnn").name
    'stacked-rnn'
    """
    if name == "gridlstm":
        return grid_lstm_2d(variant, output_form, None if variant == "seed" else priority, True)
    if name == "stacked-lstm":
        return stacked_lstm_2d("standard")
    if name == "stacked-rnn":
        return stacked_rnn_2d()
    raise GradproofInputError(
        f"unknown grid model {name!r}; choose one of {', '.join(GRID_MODELS)}"
    )


def _gates(model: GridSequenceModel, label: str) -> int:
    return 4 if model.block.dimension(label).has_memory else 1


def _file_dimensions(model: GridSequenceModel) -> tuple[str, ...]:
    """Dimensions whose weights come from the file (a copy-up dimension has none)."""
    return tuple(
        label
        for label, refs in model.block.reads
        if not (model.block.dimension(label).kind == "identity" and len(refs) == 1)
    )


def grid_weight_shapes(
    model: GridSequenceModel, hidden: int, input_size: int, layers: int, tied: bool = False
) -> dict[str, tuple[int, ...]]:
    """Every key of a weight file and its shape.

    Examples
    --------
    >>> shapes = grid_weight_shapes(grid_model(), hidden=3, input_size=2, layers=2)
    >>> shapes["input_projection"], shapes["weight_time_l1"], shapes["bias_depth_l0"]
    ((3, 2), (12, 6), (12,))
    >>> sorted(grid_weight_shapes(grid_model(), 3, 2, 2, tied=True))
    ['bias_depth', 'bias_time', 'input_projection', 'weight_depth', 'weight_time']
    """
    shapes: dict[str, tuple[int, ...]] = {"input_projection": (hidden, input_size)}
    suffixes = [""] if tied else [f"_l{j}" for j in range(layers)]
    for label in _file_dimensions(model):
        rows = _gates(model, label) * hidden
        reads = len(dict(model.block.reads)[label])
        for suffix in suffixes:
            shapes[f"weight_{_PREFIX[label]}{suffix}"] = (rows, reads * hidden)
            shapes[f"bias_{_PREFIX[label]}{suffix}"] = (rows,)
    return shapes


@dataclass(frozen=True)
class GridWeights:
    """Validated weights of a 2D grid model, by weight-file key."""

    hidden: int
    input_size: int
    layers: int
    tied: bool
    arrays: Mapping[str, np.ndarray] = field(repr=False)

    def layer(self, name: str, j: int) -> np.ndarray:
        """Array ``name`` (``"weight_time"``...) of layer ``j`` (0-based)."""
        return self.arrays[name if self.tied else f"{name}_l{j}"]


def _positive(value: int, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise GradproofInputError(f"{flag} must be a positive integer, got {value!r}")
    return int(value)


def random_grid_weights(
    model: GridSequenceModel,
    hidden: int,
    input_size: int,
    layers: int,
    *,
    tied: bool = False,
    scale: float = 1.0,
    forget_bias: float = 1.0,
    seed: int = 0,
) -> GridWeights:
    """Random weights at a given scale, the same for every model.

    Every weight entry is ``N(0, scale^2 / (2d))`` (fan-in ``2d``), the
    projection ``N(0, 1/k)``; biases are zero except the forget gates',
    ``forget_bias`` (LSTM dimensions).  Models compared at one ``scale`` and
    ``seed`` thus have weights of matched scale.

    Examples
    --------
    >>> w = random_grid_weights(grid_model(), hidden=2, input_size=3, layers=2, seed=1)
    >>> w.layer("weight_depth", 1).shape, float(w.layer("bias_time", 0)[2])
    ((8, 4), 1.0)
    """
    hidden = _positive(hidden, "--hidden")
    input_size = _positive(input_size, "--input")
    layers = _positive(layers, "--layers")
    if not (math.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, shape in grid_weight_shapes(model, hidden, input_size, layers, tied).items():
        if key == "input_projection":
            arrays[key] = rng.standard_normal(shape) / np.sqrt(input_size)
        elif key.startswith("weight"):
            arrays[key] = scale * rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            bias = np.zeros(shape)
            if shape[0] == 4 * hidden:
                bias[hidden : 2 * hidden] = forget_bias
            arrays[key] = bias
    return GridWeights(hidden, input_size, layers, tied, arrays)


def save_grid_weights(path: str | os.PathLike, weights: GridWeights) -> None:
    """Write weights to an ``.npz`` file in the documented format.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.npz"
    >>> w = random_grid_weights(grid_model(), 2, 1, 1)
    >>> save_grid_weights(path, w)
    >>> load_grid_weights(path, grid_model()).layers
    1
    """
    np.savez(os.fspath(path), **{k: np.asarray(v) for k, v in weights.arrays.items()})


def load_grid_weights(
    path_or_arrays: str | os.PathLike | Mapping[str, np.ndarray],
    model: GridSequenceModel,
    *,
    layers: int | None = None,
    hidden: int | None = None,
    input_size: int | None = None,
    tied: bool = False,
) -> GridWeights:
    """Read and validate a weight file; sizes come from the file.

    ``layers`` is required for tied weights; any size given that disagrees
    with the file is an error, as is a missing, unexpected or misshapen key.

    Examples
    --------
    >>> w = random_grid_weights(grid_model(), 2, 1, 2)
    >>> load_grid_weights(dict(w.arrays), grid_model(), layers=3)
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: --layers 3 disagrees with the weights file, which has 2 layers (weight_time_l0..weight_time_l1)
    """
    if isinstance(path_or_arrays, Mapping):
        arrays = {k: np.asarray(v, dtype=float) for k, v in path_or_arrays.items()}
    else:
        arrays = load_npz(path_or_arrays)
    if "input_projection" not in arrays:
        raise GradproofInputError(
            "weights file has no key 'input_projection'; expected shape (d, k) = (hidden, input)"
        )
    proj = arrays["input_projection"]
    if proj.ndim != 2:
        raise GradproofInputError(
            f"key 'input_projection' has shape {proj.shape}, expected (d, k) = (hidden, input)"
        )
    d_file, k_file = proj.shape
    for flag, given, actual in (("--hidden", hidden, d_file), ("--input", input_size, k_file)):
        if given is not None and given != actual:
            raise GradproofInputError(
                f"{flag} {given} disagrees with the weights file: key 'input_projection' "
                f"has shape {proj.shape}"
            )
    first = f"weight_{_PREFIX[_file_dimensions(model)[0]]}"
    if tied:
        if f"{first}_l0" in arrays:
            raise GradproofInputError(
                f"--tied given but the weights file has per-layer key '{first}_l0'; drop --tied"
            )
        if layers is None:
            raise GradproofInputError("tied weights do not say how many layers; pass --layers L")
        layers = _positive(layers, "--layers")
    else:
        if first in arrays:
            raise GradproofInputError(
                f"the weights file has tied key '{first}' (no _l suffix); pass --tied and --layers"
            )
        found = sorted(
            int(m.group(1)) for key in arrays if (m := re.fullmatch(rf"{first}_l(\d+)", key))
        )
        if not found:
            raise GradproofInputError(f"weights file has no key '{first}_l0'")
        if layers is not None and layers != len(found):
            raise GradproofInputError(
                f"--layers {layers} disagrees with the weights file, which has {len(found)} "
                f"layers ({first}_l0..{first}_l{len(found) - 1})"
            )
        layers = len(found)
    expected = grid_weight_shapes(model, d_file, k_file, layers, tied)
    for key, shape in expected.items():
        if key not in arrays:
            raise GradproofInputError(f"weights file has no key {key!r}; expected shape {shape}")
        if arrays[key].shape != shape:
            raise GradproofInputError(
                f"key {key!r} has shape {arrays[key].shape}, expected {shape}"
            )
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise GradproofInputError(
            f"weights file has unexpected key {extra[0]!r}; expected only {', '.join(expected)}"
        )
    return GridWeights(d_file, k_file, layers, tied, arrays)


@dataclass(frozen=True)
class _Parameter:
    """Where one block parameter comes from: a slice of a file array, or fixed."""

    name: str
    array: str | None
    rows: slice
    cols: slice | None


def _parameter_sources(model: GridSequenceModel, hidden: int) -> tuple[_Parameter, ...]:
    """Read each block parameter's file slice off the pre-activation equations."""
    block = model.block
    defs = block.cell.definitions
    files = _file_dimensions(model)
    refs = dict(block.reads)
    by_symbol = dict(block.vectors)
    out = []
    for pre, (label, role) in block.roles:
        r = GATE_ROLES.index(role) if role in GATE_ROLES else 0
        rows = slice(r * hidden, (r + 1) * hidden)
        rhs = defs[pre]
        for term in rhs.args if isinstance(rhs, sp.MatAdd) else (rhs,):
            source = _PREFIX[label] if label in files else None
            if isinstance(term, sp.MatMul):
                weight, vector = term.args
                j = refs[label].index(by_symbol[vector])
                cols = slice(j * hidden, (j + 1) * hidden)
                out.append(_Parameter(weight.name, source and f"weight_{source}", rows, cols))
            else:
                out.append(_Parameter(term.name, source and f"bias_{source}", rows, None))
    return tuple(out)


@dataclass(frozen=True)
class CompiledGrid:
    """A 2D grid model compiled at hidden size ``d``; see :func:`compile_grid`."""

    model: GridSequenceModel
    hidden: int

    @cached_property
    def _function(self):
        cell, subs = self.model.cell, {d: self.hidden}
        args = [s.xreplace(subs) for s in cell.state_symbols + cell.params]
        defs = {k.xreplace(subs): v.xreplace(subs) for k, v in cell.definitions.items()}
        new = [s.xreplace(subs) for s in cell.new_state_symbols]
        blocks = [b.xreplace(subs) for row in step_jacobian_blocks(cell) for b in row]
        return lambdify_matrix(args, new + blocks, defs)

    @cached_property
    def sources(self) -> tuple[_Parameter, ...]:
        """Where each block parameter comes from."""
        return _parameter_sources(self.model, self.hidden)

    @cached_property
    def time_vectors(self) -> int:
        """Vectors carried along time per layer (``h^T`` and, for an LSTM, ``m^T``)."""
        return 2 if self.model.block.dimension("T").has_memory else 1

    @cached_property
    def depth_vectors(self) -> int:
        """Vectors carried along depth (``h^D`` and, for an LSTM, ``m^D``)."""
        return 2 if self.model.block.dimension("D").has_memory else 1

    def block_params(self, weights: GridWeights, j: int) -> list[np.ndarray]:
        """The block's parameters at layer ``j`` (0-based), in ``cell.params`` order."""
        values = {}
        for p in self.sources:
            if p.array is None:
                # A copy-up dimension: V = I, no bias.
                values[p.name] = (
                    np.eye(self.hidden) if p.cols is not None else np.zeros(self.hidden)
                )
            elif p.cols is None:
                values[p.name] = weights.layer(p.array, j)[p.rows]
            else:
                values[p.name] = weights.layer(p.array, j)[p.rows, p.cols]
        return [values[p.name] for p in self.model.cell.params]

    def bottom(self, weights: GridWeights, x: np.ndarray) -> list[np.ndarray]:
        """Depth vectors entering layer 1: ``h^D_{t,0} = P x_t`` and ``m^D_{t,0}``."""
        h0 = np.asarray(x, dtype=float) @ weights.arrays["input_projection"].T
        if self.depth_vectors == 1:
            return [h0]
        rhs = self.model.boundary[1].rhs
        return [h0, h0 if not isinstance(rhs, sp.ZeroMatrix) else np.zeros_like(h0)]

    def block(
        self, time_in: list[np.ndarray], depth_in: list[np.ndarray], params: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
        """One block: new time vectors, new depth vectors and the block Jacobian.

        The Jacobian is ``(..., n, n)`` with rows and columns ordered
        ``[h^T; m^T; h^D; m^D]`` (outputs by inputs), numerator layout.
        """
        result = self._function(*time_in, *depth_in, *params)
        k = self.time_vectors + self.depth_vectors
        new, blocks = result[:k], result[k:]
        batch = np.broadcast_shapes(*(np.shape(v)[:-1] for v in new))
        new = [np.broadcast_to(v, batch + v.shape[-1:]) for v in new]
        n = self.hidden * k
        J = np.zeros(batch + (n, n))
        for index, blk in enumerate(blocks):
            i, j = divmod(index, k)
            rows = slice(i * self.hidden, (i + 1) * self.hidden)
            cols = slice(j * self.hidden, (j + 1) * self.hidden)
            J[..., rows, cols] = blk
        return new[: self.time_vectors], new[self.time_vectors :], J

    def time_model(self, weights: GridWeights) -> _TimeStepModel:
        """The full model as a step model along time (for :mod:`numeric.flow`)."""
        return _TimeStepModel(self, weights)


@lru_cache(maxsize=16)
def _compile(model: GridSequenceModel, hidden: int) -> CompiledGrid:
    return CompiledGrid(model, hidden)


def compile_grid(model: GridSequenceModel, hidden: int) -> CompiledGrid:
    """Compile a 2D grid model at hidden size ``hidden``; cached.

    Examples
    --------
    >>> cg = compile_grid(grid_model(), 2)
    >>> w = random_grid_weights(cg.model, 2, 1, layers=1)
    >>> z = np.zeros(2)
    >>> time_out, depth_out, J = cg.block([z, z], cg.bottom(w, np.ones(1)), cg.block_params(w, 0))
    >>> J.shape
    (8, 8)
    """
    return _compile(model, hidden)


@dataclass(frozen=True)
class _TimeStepModel:
    """The whole column of blocks at one time step as a map ``s_{t-1} -> s_t``.

    ``s_t`` is the concatenation over layers, bottom first, of the time
    vectors ``[h^T_{t,l}; m^T_{t,l}]``.  Batched over a leading axis.
    """

    grid: CompiledGrid
    weights: GridWeights

    @property
    def width(self) -> int:
        return self.grid.time_vectors * self.grid.hidden

    @property
    def state_size(self) -> int:
        return self.weights.layers * self.width

    @cached_property
    def _params(self) -> list[list[np.ndarray]]:
        return [self.grid.block_params(self.weights, j) for j in range(self.weights.layers)]

    def _split(self, v: np.ndarray) -> list[np.ndarray]:
        return np.split(v, self.grid.time_vectors, axis=-1)

    def _run(self, s, x, jacobian: bool):
        g, n, w = self.grid, self.grid.hidden, self.width
        s = np.asarray(s, dtype=float)
        depth = g.bottom(self.weights, x)
        batch = np.broadcast_shapes(s.shape[:-1], np.shape(x)[:-1])
        out = np.empty(batch + (self.state_size,))
        nd = g.depth_vectors * n
        D = np.zeros(batch + (nd, self.state_size))  # d(depth state)/d s_{t-1}
        J = np.zeros(batch + (self.state_size, self.state_size)) if jacobian else None
        for j in range(self.weights.layers):
            cols = slice(j * w, (j + 1) * w)
            time_out, depth, B = g.block(self._split(s[..., cols]), depth, self._params[j])
            out[..., cols] = np.concatenate(time_out, axis=-1)
            if jacobian:
                J[..., cols, :] = B[..., :w, w:] @ D
                J[..., cols, cols] += B[..., :w, :w]
                D_new = B[..., w:, w:] @ D
                D_new[..., :, cols] += B[..., w:, :w]
                D = D_new
        return out, J

    def step(self, s: np.ndarray, x: np.ndarray, params=None) -> np.ndarray:
        return self._run(s, x, jacobian=False)[0]

    def jacobian(self, s: np.ndarray, x: np.ndarray, params=None) -> np.ndarray:
        return self._run(s, x, jacobian=True)[1]


def time_flow(
    grid: CompiledGrid, weights: GridWeights, inputs: np.ndarray, s0: np.ndarray | None = None
) -> GradientFlow:
    """``log10 ||ds_T/ds_{T-k}||_2`` along time, ``s`` the time state of every layer.

    Examples
    --------
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


def depth_flow_map(grid: CompiledGrid, weights: GridWeights, inputs: np.ndarray) -> DepthFlow:
    """``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` over the grid, by a reverse sweep.

    Forward, every block's Jacobian is kept; backward, the derivative of
    ``h^D_{T,L}`` with respect to each block's outputs is propagated right
    to left and top to bottom, rescaled per time step so that long horizons
    stay in float64.

    Examples
    --------
    >>> cg = compile_grid(grid_model(), 2)
    >>> w = random_grid_weights(cg.model, 2, 1, layers=3)
    >>> flow = depth_flow_map(cg, w, np.ones((5, 1)))
    >>> flow.log10_norm.shape, bool(np.all(np.isfinite(flow.log10_norm_depth)))
    ((5, 3), True)
    """
    _check_inputs(inputs, weights)
    g, n = grid, grid.hidden
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
        peak = float(np.max(np.abs(right)))
        if peak > 0:
            right = right / peak
            log_scale += math.log10(peak)
    return DepthFlow(logs)
