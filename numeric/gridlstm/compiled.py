"""A grid model compiled: the block's step and block Jacobian, and the step along time.

A model is one symbolic block (:mod:`symbolic.gridlstm.block`) evaluated at
every grid point ``(t, l)``, ``t = 1..T``, ``l = 1..L``, placed on the
time-by-depth sheet by a :class:`~numeric.gridlstm.sequence_grids.SequenceGrid`
(a 2D model is placed with time along ``t`` and depth along ``l``): the
block at ``(t, l)`` reads the time vectors of ``(t-1, l)`` and the depth
vectors of ``(t, l-1)``; below the first layer the input dimension holds the
projected input (``h_{t,0} = P_h x_t``), the output is its hidden vector at
the top.  The block's step and its block Jacobian are compiled once with
:func:`numeric.matrix_code.lambdify_matrix`, time vectors first; each block
parameter is a slice of a weight-file array, read off the pre-activation
equations.  Along time, the whole column of blocks at one step is a step
model ``s_{t-1} -> s_t`` for :mod:`numeric.flow`, ``s_t`` the concatenation
over layers, bottom first, of the time vectors (``[h^T_{t,l}; m^T_{t,l}]``
in 2D).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from symbolic.gridlstm.block import d
from symbolic.gridlstm.sequence_models import GridSequenceModel
from symbolic.gridlstm.transform import GATE_ROLES
from symbolic.jacobians import step_jacobian_blocks

from ..errors import GradproofInputError
from ..matrix_code import lambdify_matrix
from .sequence_grids import PEEPHOLE_GATES, SequenceGrid, sequence_grid
from .weight_files import GridWeights

__all__ = ["CompiledGrid", "compile_grid"]


@dataclass(frozen=True)
class _Parameter:
    """Where one block parameter comes from: a slice of a file array, or fixed."""

    name: str
    array: str | None
    rows: slice
    cols: slice | None


def _slice(index: int, hidden: int) -> slice:
    return slice(index * hidden, (index + 1) * hidden)


def _parameter_sources(grid: SequenceGrid, hidden: int) -> tuple[_Parameter, ...]:
    """Read each block parameter's file slice off the pre-activation equations.

    A term ``W v`` is a column block of ``weight_*`` (the position of ``v``
    among the vectors the dimension reads), a lone vector a slice of
    ``bias_*``, a product ``w ⊙ m`` a peephole, a slice of ``peephole_*``.
    """
    block = grid.block
    defs = block.cell.definitions
    params = set(block.cell.params)
    refs = dict(block.reads)
    by_symbol = dict(block.vectors)
    out = []
    for pre, (label, role) in block.roles:
        rows = _slice(GATE_ROLES.index(role) if role in GATE_ROLES else 0, hidden)
        name = grid.array_name(label)
        rhs = defs[pre]
        for term in rhs.args if isinstance(rhs, sp.MatAdd) else (rhs,):
            if isinstance(term, sp.MatMul):
                weight, vector = term.args
                cols = _slice(refs[label].index(by_symbol[vector]), hidden)
                out.append(_Parameter(weight.name, name and f"weight_{name}", rows, cols))
            elif isinstance(term, HadamardProduct):
                (peephole,) = (arg for arg in term.args if arg in params)
                rows = _slice(PEEPHOLE_GATES.index(role), hidden)
                out.append(_Parameter(peephole.name, name and f"peephole_{name}", rows, None))
            else:
                out.append(_Parameter(term.name, name and f"bias_{name}", rows, None))
    return tuple(out)


@dataclass(frozen=True)
class CompiledGrid:
    """A grid model compiled at hidden size ``d``; see :func:`compile_grid`.

    ``model`` is a 2D :class:`~symbolic.gridlstm.sequence_models.GridSequenceModel`
    or a :class:`~numeric.gridlstm.sequence_grids.SequenceGrid`; :attr:`grid`
    is where its dimensions run.
    """

    model: GridSequenceModel | SequenceGrid
    hidden: int

    @cached_property
    def grid(self) -> SequenceGrid:
        """The model placed on the time-by-depth sheet."""
        return sequence_grid(self.model)

    @cached_property
    def _symbols(self) -> tuple[list[sp.MatrixSymbol], list[sp.MatrixSymbol]]:
        """Incoming and outgoing vectors, time vectors first, then depth vectors."""
        refs = self.grid.time_vectors + self.grid.depth_vectors
        block = self.grid.block
        return (
            [block.vector(base, label, "in") for base, label in refs],
            [block.vector(base, label, "new") for base, label in refs],
        )

    def _lambdify(self, exprs: list[sp.MatrixExpr]):
        # The templates, with the size given apart: substituting d = 1 first
        # would make SymPy treat 1 x 1 blocks as scalars.
        cell = self.grid.block.cell
        args = [*self._symbols[0], *cell.params]
        return lambdify_matrix(args, exprs, cell.definitions, sizes={d: self.hidden})

    @cached_property
    def _step_function(self):
        # The new vectors alone: a forward run does not pay for Jacobian blocks.
        return self._lambdify(self._symbols[1])

    @cached_property
    def _function(self):
        cell = self.grid.block.cell
        ins, outs = self._symbols
        blocks = step_jacobian_blocks(cell)
        row = {s: i for i, s in enumerate(cell.new_state_symbols)}
        col = {s: j for j, s in enumerate(cell.state_symbols)}
        return self._lambdify([*outs, *(blocks[row[new]][col[old]] for new in outs for old in ins)])

    @cached_property
    def sources(self) -> tuple[_Parameter, ...]:
        """Where each block parameter comes from."""
        return _parameter_sources(self.grid, self.hidden)

    @cached_property
    def time_vectors(self) -> int:
        """Vectors carried along time per layer (``h^T`` and, for an LSTM, ``m^T`` in 2D)."""
        return len(self.grid.time_vectors)

    @cached_property
    def depth_vectors(self) -> int:
        """Vectors carried along depth (``h^D`` and, for an LSTM, ``m^D`` in 2D)."""
        return len(self.grid.depth_vectors)

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
        return [values[p.name] for p in self.grid.block.cell.params]

    def bottom(self, weights: GridWeights, x: np.ndarray) -> list[np.ndarray]:
        """Depth vectors entering layer 1: the input dimension's ``P_h x_t`` and memory, zeros.

        The input dimension's memory is zero, ``P_m x_t`` or ``P_h x_t``
        (:data:`~numeric.gridlstm.sequence_grids.MEMORY_INPUTS`); every other
        depth vector is zero.
        """
        x = np.asarray(x, dtype=float)
        zero = np.zeros(x.shape[:-1] + (self.hidden,))
        out = [zero] * self.depth_vectors
        grid = self.grid
        if grid.input is not None:
            out[0] = x @ weights.arrays["input_projection"].T
            if grid.depth_vectors[1:2] == (("m", grid.input),):
                if grid.memory_input == "projection":
                    out[1] = x @ weights.arrays["memory_projection"].T
                elif grid.memory_input == "shared":
                    out[1] = out[0]
        return out

    def block(
        self,
        time_in: list[np.ndarray],
        depth_in: list[np.ndarray],
        params: list[np.ndarray],
        jacobian: bool = True,
    ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
        """One block: new time vectors, new depth vectors and the block Jacobian.

        The Jacobian is ``(..., n, n)`` with rows and columns ordered as the
        time vectors then the depth vectors (``[h^T; m^T; h^D; m^D]`` in 2D),
        outputs by inputs, numerator layout; None when ``jacobian`` is false.
        """
        function = self._function if jacobian else self._step_function
        result = function(*time_in, *depth_in, *params)
        k = self.time_vectors + self.depth_vectors
        new, blocks = result[:k], result[k:]
        batch = np.broadcast_shapes(*(np.shape(v)[:-1] for v in new))
        new = [np.broadcast_to(v, batch + v.shape[-1:]) for v in new]
        J = None
        if jacobian:
            n = self.hidden * k
            J = np.zeros(batch + (n, n))
            for index, blk in enumerate(blocks):
                i, j = divmod(index, k)
                J[..., _slice(i, self.hidden), _slice(j, self.hidden)] = blk
        return new[: self.time_vectors], new[self.time_vectors :], J

    def time_model(self, weights: GridWeights) -> _TimeStepModel:
        """The full model as a step model along time (for :mod:`numeric.flow`)."""
        if not self.time_vectors:
            raise GradproofInputError(
                "this grid has no dimension along time, so nothing is carried from step to "
                "step; measure its depth flow instead"
            )
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
            time_out, depth, B = g.block(
                self._split(s[..., cols]), depth, self._params[j], jacobian
            )
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
