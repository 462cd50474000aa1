"""Compile cell equations and their structured Jacobians to NumPy.

A compiled cell has three functions printed by
:func:`numeric.matrix_code.lambdify_matrix` (one temporary per distinct
subtree, so shared subexpressions are computed once): the step alone (the
forward run pays for nothing else), the Jacobian blocks, and, for cells
whose step Jacobian is ``diag(d) W`` with a constant ``W``, the factors
``d``, ``W``.  Arrays carry a leading batch axis: state and input vectors
are ``(..., r)``, parameters carry none and broadcast.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardProduct

from symbolic.cells import Cell
from symbolic.jacobians import step_jacobian_blocks

from .matrix_code import lambdify_matrix

__all__ = ["CompiledCell", "compile_cell"]


@dataclass(frozen=True)
class CompiledCell:
    """A cell's step and full-state step Jacobian as NumPy functions.

    Use :func:`compile_cell` to build one; it is cached per cell and size.
    ``x`` is always the concatenation of the cell's input vectors in
    declaration order, ``(..., input_size)``: ``(..., 0)`` for a cell
    without inputs.  A value beyond float64 comes back as inf or NaN,
    without a warning; the flow engine refuses it in one line.
    """

    cell: Cell
    sizes: tuple[tuple[str, int], ...]

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        """Names of the cell's parameters, the keys of ``params``."""
        return tuple(p.name for p in self.cell.params)

    @cached_property
    def _subs(self) -> dict:
        return self.cell.with_sizes(**dict(self.sizes))

    def _sizes_of(self, vectors) -> tuple[int, ...]:
        sizes = tuple(sp.S(v.rows).subs(self._subs) for v in vectors)
        missing = sorted({str(s) for d in sizes for s in d.free_symbols})
        if missing:
            raise ValueError(f"cell {self.cell.name!r} needs sizes {', '.join(missing)}")
        return tuple(int(d) for d in sizes)

    @cached_property
    def state_sizes(self) -> tuple[int, ...]:
        """Size of each state vector, in full-state order."""
        return self._sizes_of(self.cell.state)

    @property
    def state_size(self) -> int:
        """Size ``N`` of the full state."""
        return sum(self.state_sizes)

    @cached_property
    def input_sizes(self) -> tuple[int, ...]:
        """Size of each input vector, in declaration order (empty without inputs)."""
        return self._sizes_of(self.cell.inputs)

    @property
    def input_size(self) -> int:
        """Size of ``x``: the total over the cell's inputs (0 without inputs)."""
        return sum(self.input_sizes)

    def _lambdify(self, exprs) -> Callable[..., tuple[np.ndarray, ...]]:
        # Print the symbolic templates; sizes enter only where code needs integers.
        cell = self.cell
        symbols = [*cell.state_symbols, *cell.input_symbols, *cell.params]
        return lambdify_matrix(symbols, exprs, cell.definitions, sizes=self._subs)

    @cached_property
    def _step_function(self):
        # The state alone: the forward run must not pay for Jacobian blocks.
        return self._lambdify(self.cell.new_state_symbols)

    @cached_property
    def _jacobian_function(self):
        return self._lambdify([b for row in step_jacobian_blocks(self.cell) for b in row])

    @cached_property
    def _factors_function(self):
        factors = _diagonal_times_constant(self.cell)
        return None if factors is None else self._lambdify(factors)

    def _arguments(self, s, x, params) -> list:
        """The compiled functions' arguments: state vectors, input vectors, parameters."""
        s, x = np.asarray(s, dtype=float), np.asarray(x, dtype=float)
        if x.ndim == 0 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x has shape {x.shape}, expected (..., {self.input_size}): "
                f"the cell's inputs {', '.join(map(str, self.cell.input_symbols)) or '(none)'} "
                "concatenated"
            )
        states, inputs = self._slices
        args = [s] if len(states) == 1 else [s[..., k] for k in states]
        args += [x] if len(inputs) == 1 else [x[..., k] for k in inputs]
        return args + [params[name] for name in self.param_names]

    @cached_property
    def _slices(self) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
        """Where each state vector lies in ``s``, and each input vector in ``x``."""
        return _slices(self.state_sizes), _slices(self.input_sizes)

    def _evaluate(self, function, s, x, params):
        return function(*self._arguments(s, x, params))

    def step(self, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Full state at ``t`` from the full state ``s`` at ``t-1`` and input ``x``.

        ``s`` is ``(..., N)``, ``x`` is ``(..., input_size)``; returns ``(..., N)``,
        a fresh array.
        """
        args = self._arguments(s, x, params)
        out = self._step_function(*args)
        if len(out) == 1 and out[0].shape[:-1] == np.shape(s)[:-1]:
            # One state vector, computed anew (not one of the arguments passed through).
            if not any(out[0] is a for a in args):
                return out[0]
        batch = np.shape(s)[:-1]
        if any(o.shape[:-1] != batch for o in out):
            batch = np.broadcast_shapes(batch, *(o.shape[:-1] for o in out))
            out = [np.broadcast_to(o, batch + o.shape[-1:]) for o in out]
        return np.concatenate(out, axis=-1)

    def jacobian(
        self, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """``ds_t/ds_{t-1}`` at ``(s, x)``, shape ``(..., N, N)``, numerator layout."""
        blocks = self._evaluate(self._jacobian_function, s, x, params)
        batch = np.broadcast_shapes(np.shape(s)[:-1], np.shape(x)[:-1])
        if len(blocks) == 1:
            # One state vector: the block is the Jacobian.  Callers may write into
            # the result, so return a fresh array, never a view of a parameter.
            block, target = blocks[0], batch + blocks[0].shape[-2:]
            fresh = block.shape == target and not any(
                np.may_share_memory(block, v) for v in params.values()
            )
            return block if fresh else np.broadcast_to(block, target).copy()
        offsets = np.concatenate([[0], np.cumsum(self.state_sizes)])
        out = np.zeros(batch + (self.state_size, self.state_size))
        k = len(self.state_sizes)
        for (i, j), block in zip(itertools.product(range(k), range(k)), blocks, strict=True):
            out[..., offsets[i] : offsets[i + 1], offsets[j] : offsets[j + 1]] = block
        return out

    def jacobian_factors(
        self, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(d, W)`` with ``ds_t/ds_{t-1} = diag(d) W`` and ``W`` constant, or None.

        For a cell with one state vector whose step Jacobian is, symbolically,
        diagonal matrices times a product of parameters (the Elman RNN's
        ``diag(f'(a_t)) W``): ``d`` is ``(..., N)``, ``W`` is ``(N, N)``,
        shared by every step and only to be read.  None for any other cell.

        Examples
        --------
        >>> from symbolic.rnn import elman_rnn
        >>> cc = compile_cell(elman_rnn("relu"), n=2, m=1)
        >>> params = {"W": np.eye(2), "U": np.ones((2, 1)), "b": np.array([1.0, -1.0])}
        >>> d, W = cc.jacobian_factors(np.zeros(2), np.array([0.5]), params)
        >>> d, W is params["W"]
        (array([1., 0.]), True)
        """
        if self._factors_function is None:
            return None
        d, W = self._evaluate(self._factors_function, s, x, params)
        batch = np.broadcast_shapes(np.shape(s)[:-1], np.shape(x)[:-1])
        return np.broadcast_to(d, batch + (self.state_size,)), W


def _slices(sizes: tuple[int, ...]) -> tuple[slice, ...]:
    ends = tuple(itertools.accumulate(sizes))
    return tuple(slice(end - size, end) for size, end in zip(sizes, ends, strict=True))


def _diagonal_times_constant(cell: Cell) -> tuple[sp.MatrixExpr, sp.MatrixExpr] | None:
    """``(d, W)`` with the step Jacobian ``diag(d) W`` and ``W`` in parameters only, or None.

    The Jacobian must be, as a matrix expression, a scalar times one or more
    ``DiagMatrix`` factors times a product of parameters (a chain rule that
    ends in one weight matrix).
    """
    blocks = step_jacobian_blocks(cell)
    if len(blocks) != 1:
        return None
    (block,) = blocks[0]
    args = block.args if isinstance(block, sp.MatMul) else (block,)
    scalars = [a for a in args if not isinstance(a, sp.MatrixExpr)]
    matrices = [a for a in args if isinstance(a, sp.MatrixExpr)]
    lead = list(itertools.takewhile(lambda a: isinstance(a, DiagMatrix), matrices))
    rest = matrices[len(lead) :]
    constants = {*cell.params, *cell.dims}
    if not lead or not rest or not sp.MatMul(*rest).free_symbols <= constants:
        return None
    diagonal = lead[0].args[0] if len(lead) == 1 else HadamardProduct(*(a.args[0] for a in lead))
    if scalars:
        diagonal = sp.MatMul(*scalars, diagonal)
    return diagonal, rest[0] if len(rest) == 1 else sp.MatMul(*rest)


@lru_cache(maxsize=64)
def _compile(cell: Cell, sizes: tuple[tuple[str, int], ...]) -> CompiledCell:
    return CompiledCell(cell, sizes)


def compile_cell(cell: Cell, **sizes: int) -> CompiledCell:
    """Compile ``cell`` at the given sizes (``n=..., m=...``); cached.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cc = compile_cell(elman_rnn("tanh"), n=2, m=1)
    >>> params = {"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    >>> cc.step(np.zeros(2), np.array([0.5]), params).round(4)
    array([0.4621, 0.4621])
    >>> cc.jacobian(np.zeros(2), np.array([0.0]), params)
    array([[1., 0.],
           [0., 1.]])

    At hidden size 1 the weight ``W`` is still a matrix, passed as ``(1, 1)``:

    >>> cc = compile_cell(elman_rnn("relu"), n=1, m=2)
    >>> params = {"W": np.array([[2.0]]), "U": np.ones((1, 2)), "b": np.zeros(1)}
    >>> cc.input_size, cc.step(np.array([1.0]), np.array([0.5, -1.0]), params)
    (2, array([1.5]))
    """
    return _compile(cell, tuple(sorted(sizes.items())))
