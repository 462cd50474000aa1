"""Structured Jacobians by the project's own chain rule, numerator layout.

For ``y = F(x)`` with ``y`` in R^p and ``x`` in R^q, ``dy/dx`` is p x q.
SymPy's ``MatrixExpr.diff`` returns the transpose and fails on nested
elementwise functions, so :func:`derivative` walks the expression tree
itself.  Named vectors defined by a cell's equations are differentiated
through their definitions but stay named in the result, so the LSTM's
memory path reads ``diag(f_t)`` rather than an inlined sigmoid.

Cost: one visit per node of the cell's equations, so the step Jacobian is
independent of the horizon and a chain over ``T`` steps is ``T`` factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardPower, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .activations import z
from .cells import Cell

__all__ = ["derivative", "step_jacobian", "Chain", "chain"]


def _is_zero(expr: sp.MatrixExpr) -> bool:
    return isinstance(expr, sp.ZeroMatrix)


def _mul(*factors: sp.MatrixExpr) -> sp.MatrixExpr:
    """Matrix product that drops identities, absorbs zero factors and puts
    scalar coefficients in front (``-diag(n) W``, not ``diag(n) (-1) W``)."""
    matrices = [f for f in factors if isinstance(f, sp.MatrixExpr)]
    rows, cols = matrices[0].shape[0], matrices[-1].shape[1]
    if any(_is_zero(f) for f in factors):
        return sp.ZeroMatrix(rows, cols)
    flat = [g for f in factors for g in (f.args if isinstance(f, sp.MatMul) else (f,))]
    coefficient = sp.Mul(*(f for f in flat if not isinstance(f, sp.MatrixExpr)))
    kept = [f for f in flat if isinstance(f, sp.MatrixExpr) and not isinstance(f, sp.Identity)]
    if not kept:
        kept = [sp.Identity(rows)]
    if coefficient == 1:
        return kept[0] if len(kept) == 1 else sp.MatMul(*kept)
    return sp.MatMul(coefficient, *kept)


def _add(*terms: sp.MatrixExpr, shape: tuple) -> sp.MatrixExpr:
    flat = [t for term in terms for t in (term.args if isinstance(term, sp.MatAdd) else (term,))]
    kept = [term for term in flat if not _is_zero(term)]
    if not kept:
        return sp.ZeroMatrix(*shape)
    return kept[0] if len(kept) == 1 else sp.MatAdd(*kept)


def _depends(expr: sp.Basic, wrt: sp.MatrixSymbol, definitions: dict) -> bool:
    if expr == wrt:
        return True
    if expr in definitions:
        return _depends(definitions[expr], wrt, definitions)
    if isinstance(expr, sp.MatrixSymbol):
        return False
    return any(_depends(arg, wrt, definitions) for arg in expr.args)


def derivative(
    expr: sp.MatrixExpr,
    wrt: sp.MatrixSymbol,
    definitions: dict[sp.MatrixSymbol, sp.MatrixExpr] | None = None,
) -> sp.MatrixExpr:
    """Jacobian ``d expr / d wrt`` of a column-vector expression, numerator layout.

    Parameters
    ----------
    expr : sympy.MatrixExpr
        A column vector built from matrix products (constant factors on the
        left), sums, elementwise functions, Hadamard products and vertical
        block concatenation.
    wrt : sympy.MatrixSymbol
        The column vector to differentiate with respect to.
    definitions : dict, optional
        Named vectors and their definitions; they are differentiated through
        but kept by name in the result.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    >>> derivative(W * h, h)
    W
    >>> derivative((W * h).applyfunc(sp.Lambda(sp.Symbol("z"), sp.tanh(sp.Symbol("z")))), h)
    DiagMatrix(Lambda(z, 1 - tanh(z)**2).(W*h))*W
    """
    definitions = definitions or {}
    return _derivative(expr, wrt, tuple(definitions.items()))


@lru_cache(maxsize=4096)
def _derivative(expr, wrt, definitions):
    defs = dict(definitions)
    shape = (expr.shape[0], wrt.shape[0])
    if expr.shape[1] != 1:
        raise ValueError(
            f"can only differentiate column vectors, got shape {expr.shape} for {expr}"
        )
    if expr == wrt:
        return sp.Identity(wrt.shape[0])
    if not _depends(expr, wrt, defs):
        return sp.ZeroMatrix(*shape)
    if expr in defs:
        return _derivative(defs[expr], wrt, definitions)
    if isinstance(expr, sp.MatAdd):
        return _add(*(_derivative(arg, wrt, definitions) for arg in expr.args), shape=shape)
    if isinstance(expr, sp.MatMul):
        *coefficients, vector = expr.args
        if any(_depends(c, wrt, defs) for c in coefficients):
            raise ValueError(f"only the right-most factor of {expr} may depend on {wrt}")
        return _mul(*coefficients, _derivative(vector, wrt, definitions))
    if isinstance(expr, ElementwiseApplyFunction):
        fn = expr.function
        slope = sp.Lambda(z, sp.diff(fn(z), z))
        return _mul(
            DiagMatrix(expr.expr.applyfunc(slope)), _derivative(expr.expr, wrt, definitions)
        )
    if isinstance(expr, HadamardProduct):
        terms = []
        for i, factor in enumerate(expr.args):
            others = expr.args[:i] + expr.args[i + 1 :]
            scale = others[0] if len(others) == 1 else HadamardProduct(*others)
            terms.append(_mul(DiagMatrix(scale), _derivative(factor, wrt, definitions)))
        return _add(*terms, shape=shape)
    if isinstance(expr, HadamardPower):
        # d(v^p)/dv = diag(p v^(p-1)), elementwise; p is a constant.
        base, power = expr.args
        slope = base.applyfunc(sp.Lambda(z, power * z ** (power - 1)))
        return _mul(DiagMatrix(slope), _derivative(base, wrt, definitions))
    if isinstance(expr, sp.BlockMatrix) and expr.blockshape[1] == 1:
        blocks = [
            _derivative(expr.blocks[i, 0], wrt, definitions) for i in range(expr.blockshape[0])
        ]
        return sp.BlockMatrix([[blk] for blk in blocks])
    raise TypeError(f"no chain rule for {type(expr).__name__}: {expr}")


def step_jacobian(cell: Cell) -> sp.BlockMatrix | sp.MatrixExpr:
    """``ds_t / ds_{t-1}`` over the full state, in closed matrix form.

    Returns the single block for one-vector states, else a ``BlockMatrix``
    whose block ``(i, j)`` is ``d new_state[i] / d state[j]``.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> step_jacobian(elman_rnn("tanh"))
    DiagMatrix(Lambda(z, 1 - tanh(z)**2).(a_{t}))*W
    """
    blocks = step_jacobian_blocks(cell)
    if len(cell.state) == 1:
        return blocks[0][0]
    return sp.BlockMatrix([list(row) for row in blocks])


def step_jacobian_blocks(cell: Cell) -> tuple[tuple[sp.MatrixExpr, ...], ...]:
    """The blocks ``d new_state[i] / d state[j]`` as nested tuples."""
    defs = cell.definitions
    return tuple(
        tuple(derivative(new, old, defs) for old in cell.state_symbols)
        for new in cell.new_state_symbols
    )


@dataclass(frozen=True)
class Chain:
    """``ds_T/ds_k`` as the ordered product ``J_T J_{T-1} ... J_{k+1}``.

    ``factors[0]`` is the step Jacobian at time ``T`` (left-most).
    """

    cell: Cell
    T: int
    k: int
    factors: tuple[sp.MatrixExpr, ...]

    def product(self) -> sp.MatrixExpr:
        """The factors multiplied in order, as one matrix expression."""
        return _mul(*self.factors)


def chain(cell: Cell, T: int, k: int = 0) -> Chain:
    """Unroll ``ds_T/ds_k`` into ``T - k`` re-indexed step Jacobians.

    Linear in ``T - k``: the step Jacobian is derived once and each factor
    is one substitution of the time index.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> c = chain(elman_rnn("identity"), T=3, k=1)
    >>> [str(f) for f in c.factors]
    ['DiagMatrix(Lambda(z, 1).(a_{3}))*W', 'DiagMatrix(Lambda(z, 1).(a_{2}))*W']
    """
    if not 0 <= k < T:
        raise ValueError(f"need 0 <= k < T, got k={k}, T={T}")
    template = step_jacobian(cell)
    factors = tuple(template.xreplace(cell.at(time)) for time in range(T, k, -1))
    return Chain(cell, T, k, factors)
