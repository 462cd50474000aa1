"""Cells at concrete sizes, entry by entry: the exact reference.

The structured Jacobians of :mod:`symbolic.jacobians` are checked against
SymPy's elementwise ``Matrix.jacobian`` of the explicit cell, at small
concrete sizes, with every named intermediate inlined.  Equality is exact:
the difference must simplify to the zero matrix.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions.matexpr import MatrixElement

from .cells import Cell
from .jacobians import step_jacobian_blocks

__all__ = ["explicit", "explicit_state", "exactly_equal", "jacobian_mismatches"]


def explicit(
    expr: sp.MatrixExpr, sizes: dict, definitions: dict | None = None
) -> sp.ImmutableMatrix:
    """Expand a matrix expression entry by entry at concrete sizes.

    Named vectors in ``definitions`` are inlined, recursively, so the result
    depends only on free symbols (states, inputs, parameters).

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rnn = elman_rnn("identity")
    >>> sizes = rnn.with_sizes(n=1, m=1)
    >>> explicit(rnn.new_state_symbols[0], sizes, rnn.definitions)
    Matrix([[U[0, 0]*x_{t}[0, 0] + W[0, 0]*h_{t-1}[0, 0] + b[0, 0]]])
    """
    defs = {k.xreplace(sizes): v.xreplace(sizes) for k, v in (definitions or {}).items()}
    cache: dict = {}

    def expand(e):
        e = e.xreplace(sizes)
        if e in cache:
            return cache[e]
        matrix = sp.Matrix(e.as_explicit())
        entries = {}
        for sym in matrix.atoms(MatrixElement):
            if sym.parent in defs:
                entries[sym] = expand(defs[sym.parent])[sym.i, sym.j]
        result = sp.ImmutableMatrix(matrix.xreplace(entries))
        cache[e] = result
        return result

    return expand(expr)


def explicit_state(cell: Cell, sizes: dict) -> sp.ImmutableMatrix:
    """The new full state as an explicit column of the previous state's entries."""
    parts = [explicit(s, sizes, cell.definitions) for s in cell.new_state_symbols]
    return sp.ImmutableMatrix(sp.Matrix.vstack(*parts))


def exactly_equal(a: sp.MatrixBase, b: sp.MatrixBase) -> bool:
    """Whether two explicit matrices are equal as expressions.

    Tries ``expand`` first; a difference that is clearly non-zero at a fixed
    rational point (50 digits) is rejected at once; the rest must cancel with
    every ``exp(.)`` as a symbol, or else ``simplify`` to zero.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> exactly_equal(sp.Matrix([1 - sp.tanh(x) ** 2]), sp.Matrix([sp.sech(x) ** 2]))
    True
    >>> exactly_equal(sp.Matrix([sp.tanh(x)]), sp.Matrix([x]))
    False
    """
    if a.shape != b.shape:
        return False
    for u, v in zip(a, b, strict=True):
        d = u - v
        if d == 0 or sp.expand(d) == 0:
            continue
        # Reject clear differences numerically before any costly cancellation.
        if _clearly_nonzero(d):
            return False
        if not _cancels_with_exp_as_symbols(d) and sp.simplify(d.rewrite(sp.exp)) != 0:
            return False
    return True


def _cancels_with_exp_as_symbols(d: sp.Expr) -> bool:
    """Whether ``d`` cancels to 0 once every ``exp(.)`` is a fresh symbol.

    Sound (replacing equal subexpressions by one symbol preserves zero) and
    fast where ``simplify`` on nested sigmoids takes tens of seconds; False
    here proves nothing.
    """
    symbols = {e: sp.Dummy() for e in d.atoms(sp.exp)}
    return sp.cancel(d.xreplace(symbols)) == 0


def _clearly_nonzero(expr: sp.Expr) -> bool:
    """Whether ``expr`` is far from zero at a fixed pseudo-random rational point."""
    atoms = sorted(expr.free_symbols | expr.atoms(MatrixElement), key=sp.default_sort_key)
    point = {a: sp.Rational(3 + (7 * i) % 11, 13 + (5 * i) % 7) for i, a in enumerate(atoms)}
    value = expr.xreplace(point).evalf(50)
    return value.is_number and abs(value) > sp.Float(10) ** -30


def jacobian_mismatches(cell: Cell, sizes: dict, blocks=None) -> list[tuple[int, int]]:
    """Blocks ``(i, j)`` of the step Jacobian that differ from the elementwise one.

    Parameters
    ----------
    cell : Cell
    sizes : dict
        Concrete sizes, from ``cell.with_sizes(n=2, m=1)``.
    blocks : nested tuples, optional
        The claimed blocks; defaults to :func:`step_jacobian_blocks`.  Pass a
        deliberately wrong one to see the check fail.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rnn = elman_rnn("tanh")
    >>> jacobian_mismatches(rnn, rnn.with_sizes(n=2, m=1))
    []
    >>> W = rnn.params[0]
    >>> jacobian_mismatches(rnn, rnn.with_sizes(n=2, m=1), blocks=((W,),))
    [(0, 0)]
    """
    blocks = step_jacobian_blocks(cell) if blocks is None else blocks
    defs = cell.definitions
    wrong = []
    for i, new in enumerate(cell.new_state_symbols):
        f = explicit(new, sizes, defs)
        for j, old in enumerate(cell.state_symbols):
            variables = list(sp.Matrix(old.xreplace(sizes).as_explicit()))
            reference = f.jacobian(variables)
            if not exactly_equal(explicit(blocks[i][j], sizes, defs), reference):
                wrong.append((i, j))
    return wrong
