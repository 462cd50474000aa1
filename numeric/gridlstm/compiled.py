"""A 2D grid model compiled: the block's step and block Jacobian, and the step along time.

A model is one symbolic block (:mod:`symbolic.gridlstm.block`) evaluated at
every grid point ``(t, l)``, ``t = 1..T``, ``l = 1..L``: the block at
``(t, l)`` reads the time state of ``(t-1, l)`` and the depth state of
``(t, l-1)``; the bottom depth state is the projected input
(``h^D_{t,0} = P x_t``), the output is ``h^D_{t,L}``.  The block's step and
its 4 x 4 block Jacobian are compiled once with
:func:`numeric.compile.lambdify_matrix`; each block parameter is a slice of
a weight-file array, read off the pre-activation equations.  Along time, the
whole column of blocks at one step is a step model ``s_{t-1} -> s_t`` for
:mod:`numeric.flow`, ``s_t`` the concatenation over layers, bottom first, of
``[h^T_{t,l}; m^T_{t,l}]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp

from symbolic.gridlstm.block import d
from symbolic.gridlstm.sequence_models import GridSequenceModel
from symbolic.gridlstm.transform import GATE_ROLES
from symbolic.jacobians import step_jacobian_blocks

from ..compile import lambdify_matrix
from .weight_files import _PREFIX, GridWeights, _file_dimensions

__all__ = ["CompiledGrid", "compile_grid"]


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
        # The templates, with the size given apart: substituting d = 1 first
        # would make SymPy treat 1 x 1 blocks as scalars.
        cell = self.model.cell
        args = [*cell.state_symbols, *cell.params]
        blocks = [b for row in step_jacobian_blocks(cell) for b in row]
        return lambdify_matrix(
            args, [*cell.new_state_symbols, *blocks], cell.definitions, sizes={d: self.hidden}
        )

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
    >>> from numeric.gridlstm import grid_model, random_grid_weights
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
