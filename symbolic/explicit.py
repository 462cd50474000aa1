"""Cells at concrete sizes, entry by entry: the exact reference.

The structured Jacobians of :mod:`symbolic.jacobians` are checked against
SymPy's elementwise ``Matrix.jacobian`` of the explicit cell, at small
concrete sizes, with every named intermediate inlined.  Equality is exact:
the difference must simplify to the zero matrix.

Speed comes from three choices, none of which weakens a check:

- expressions are expanded node by node (:func:`explicit`), each operand
  once, instead of through ``MatrixExpr.as_explicit`` of whole products;
- the entries of a matrix symbol are real scalar symbols (:func:`entries`),
  so SymPy answers assumption queries such as "is ``tanh(a)`` real?" at
  once instead of splitting every argument into real and imaginary parts;
  weights, states and inputs are real, so nothing is assumed that is not so;
- elementwise Jacobians are computed once per expression and size
  (:func:`elementwise_jacobian`) and shared by every claim that needs them.
"""

from __future__ import annotations

import functools

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardPower, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.polys.domains import QQ
from sympy.polys.rings import ring

from .cells import Cell
from .jacobians import step_jacobian_blocks

__all__ = [
    "elementwise_jacobian",
    "entries",
    "exactly_equal",
    "explicit",
    "explicit_state",
    "jacobian_mismatches",
]


def entries(v: sp.MatrixSymbol, sizes: dict | None = None) -> sp.ImmutableMatrix:
    """The entries of ``v`` at concrete sizes, as real scalar symbols.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> entries(sp.MatrixSymbol("W", n, n), {n: 2})
    Matrix([
    [W[0, 0], W[0, 1]],
    [W[1, 0], W[1, 1]]])
    """
    v = v.xreplace(sizes or {})
    return _entries(v.name, *(int(d) for d in v.shape))


@functools.cache
def _entries(name: str, rows: int, cols: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(rows, cols, lambda i, j: sp.Symbol(f"{name}[{i}, {j}]", real=True))


def explicit(
    expr: sp.MatrixExpr, sizes: dict, definitions: dict | None = None
) -> sp.ImmutableMatrix:
    """Expand a matrix expression entry by entry at concrete sizes.

    Named vectors in ``definitions`` are inlined, recursively, so the result
    depends only on the :func:`entries` of free matrix symbols (states,
    inputs, parameters) and on scalar parameters.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rnn = elman_rnn("identity")
    >>> sizes = rnn.with_sizes(n=1, m=1)
    >>> explicit(rnn.new_state_symbols[0], sizes, rnn.definitions)
    Matrix([[U[0, 0]*x_{t}[0, 0] + W[0, 0]*h_{t-1}[0, 0] + b[0, 0]]])
    """
    key = tuple(sorted(sizes.items(), key=str))
    return _expander(key, tuple((definitions or {}).items()))(expr.xreplace(sizes))


@functools.lru_cache(maxsize=64)
def _expander(sizes: tuple, definitions: tuple) -> _Expander:
    """The expansion context of one cell at one size, shared by every claim about it."""
    sizes = dict(sizes)
    return _Expander({k.xreplace(sizes): v.xreplace(sizes) for k, v in definitions})


class _Expander:
    """Expansion at concrete sizes: the definitions to inline, a cache per node."""

    def __init__(self, definitions: dict):
        self.definitions, self.cache = definitions, {}

    def __call__(self, expr: sp.Basic) -> sp.ImmutableMatrix:
        if expr not in self.cache:
            self.cache[expr] = sp.ImmutableMatrix(self._expand(expr))
        return self.cache[expr]

    def _expand(self, expr: sp.Basic) -> sp.MatrixBase:
        if isinstance(expr, sp.MatrixSymbol):
            if expr in self.definitions:
                return self(self.definitions[expr])
            return entries(expr)
        if isinstance(expr, sp.BlockMatrix):
            rows = expr.blocks.tolist()
            return sp.Matrix.vstack(*(sp.Matrix.hstack(*(self(b) for b in row)) for row in rows))
        args = [self(a) for a in expr.args if isinstance(a, sp.MatrixExpr)]
        if isinstance(expr, sp.MatMul):
            scalar = sp.Mul(*(a for a in expr.args if not isinstance(a, sp.MatrixExpr)))
            return functools.reduce(lambda x, y: x * y, args) * scalar
        if isinstance(expr, sp.MatAdd):
            return functools.reduce(lambda x, y: x + y, args)
        if isinstance(expr, HadamardProduct):
            return functools.reduce(lambda x, y: x.multiply_elementwise(y), args)
        if isinstance(expr, HadamardPower):
            return args[0].applyfunc(lambda e: e**expr.exp)
        if isinstance(expr, DiagMatrix):
            return sp.diag(*args[0])
        if isinstance(expr, ElementwiseApplyFunction):
            return args[0].applyfunc(expr.function)
        if isinstance(expr, sp.Transpose):
            return args[0].T
        if isinstance(expr, (sp.Identity, sp.ZeroMatrix, sp.OneMatrix)):
            return expr.as_explicit()
        if isinstance(expr, sp.MatPow):
            return args[0] ** expr.exp
        raise TypeError(f"no entrywise rule for {type(expr).__name__}: {expr}")


def explicit_state(cell: Cell, sizes: dict) -> sp.ImmutableMatrix:
    """The new full state as an explicit column of the previous state's entries."""
    parts = [explicit(s, sizes, cell.definitions) for s in cell.new_state_symbols]
    return sp.ImmutableMatrix(sp.Matrix.vstack(*parts))


def elementwise_jacobian(
    out: sp.MatrixExpr, wrt: sp.MatrixSymbol, sizes: dict, definitions: dict | None = None
) -> sp.ImmutableMatrix:
    """SymPy's ``Matrix.jacobian`` of ``explicit(out)`` by the entries of ``wrt``.

    The reference every structured Jacobian is checked against; cached, so
    claims about one cell at one size differentiate it once.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rnn = elman_rnn("identity")
    >>> h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    >>> elementwise_jacobian(h, h_prev, rnn.with_sizes(n=1, m=1), rnn.definitions)
    Matrix([[W[0, 0]]])
    """
    return _elementwise_jacobian(
        out, wrt, tuple(sorted(sizes.items(), key=str)), tuple((definitions or {}).items())
    )


@functools.lru_cache(maxsize=256)
def _elementwise_jacobian(out, wrt, sizes, definitions) -> sp.ImmutableMatrix:
    sizes = dict(sizes)
    f = explicit(out, sizes, dict(definitions))
    return sp.ImmutableMatrix(f.jacobian(list(entries(wrt, sizes))))


def exactly_equal(a: sp.MatrixBase, b: sp.MatrixBase) -> bool:
    """Whether two explicit matrices are equal as expressions.

    Each entry of the difference goes down a ladder until a rung decides:
    structurally zero (equal); zero as a rational function once every
    sigmoid, ``exp(.)`` and ``tanh(.)`` is a symbol
    (:func:`_zero_as_rational_function`), which proves equality and is where
    most true claims end; clearly non-zero at a fixed rational point (50
    digits), which rejects at once; ``simplify`` to zero.  The rational rung
    comes before the numeric one because it is the cheaper of the two on
    the large entries of gated cells, and a true claim never passes the
    numeric rung.

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
        if d == 0 or _zero_as_rational_function(d):
            continue
        if _clearly_nonzero(d):
            return False
        if sp.simplify(d.rewrite(sp.exp)) != 0:
            return False
    return True


def _zero_as_rational_function(expr: sp.Expr) -> bool:
    """Whether ``expr`` is 0 as a rational function once its transcendentals are symbols.

    Each sigmoid ``S = 1/(1 + exp(u))`` becomes a symbol, and ``exp(u)``
    its value ``(1 - S)/S``; any other ``exp(.)``, ``tanh(.)`` or other
    non-rational part becomes a symbol of its own.  A replacement is equal
    to what it replaces, or is one symbol standing for one subexpression
    wherever it occurs, so what is zero afterwards was zero before.  This
    makes SymPy's sigmoid slope ``exp(-a)/(1 + exp(-a))**2`` and the
    hand-written ``S (1 - S)`` the same.

    The expression is then rebuilt, each distinct subexpression once, as a
    numerator and a denominator in SymPy's sparse polynomials over the
    rationals (no cancellation on the way); it is zero exactly when the
    numerator is.  Parts other than ``exp`` and ``tanh`` (symbolic
    exponents, radicals) get a second chance through ``together`` and
    ``expand``.  False means "not shown", never "non-zero".

    Examples
    --------
    >>> a = sp.Symbol("a", real=True)
    >>> sigmoid = 1 / (1 + sp.exp(-a))
    >>> _zero_as_rational_function(sp.diff(sigmoid, a) - sigmoid * (1 - sigmoid))
    True
    >>> _zero_as_rational_function(sp.diff(sigmoid, a) - sigmoid)
    False
    """
    symbols, opaque, sigmoid = _parts(expr)
    if any(part.is_Number and not part.is_finite for part in opaque):
        return False  # nan, zoo and the infinities do not cancel like symbols
    count = len(symbols) + len(opaque) + len(sigmoid)
    if count == 0:
        return sp.expand(expr) == 0
    R, *gens = ring([f"x{i}" for i in range(count)], QQ)
    value = {s: (g, R.one) for s, g in zip(symbols + opaque, gens, strict=False)}
    for e, S in zip(sigmoid, gens[len(symbols) + len(opaque) :], strict=True):
        value[e] = (R.one - S, S)  # exp(u) = (1 - S)/S where S = 1/(1 + exp(u))
    fraction = _fraction(expr, value, R)
    if fraction is not None and fraction[0] == 0:
        return True
    if all(isinstance(part, (sp.exp, sp.tanh)) for part in opaque):
        return False
    # Symbolic exponents, radicals, other functions: SymPy's own expansion.
    return sp.expand(sp.fraction(sp.together(expr))[0]) == 0


def _parts(expr: sp.Expr) -> tuple[list, list, list]:
    """Symbols, opaque parts and sigmoid exponentials of ``expr``, each sorted.

    The walk enters sums, products and integer powers only, and visits each
    distinct subexpression once (gated cells' entries share subtrees, which
    ``atoms`` would walk wherever they occur).  An ``exp(u)`` is a sigmoid's
    when ``1 + exp(u)`` is raised to an integer power somewhere.
    """
    symbols, opaque, sigmoid = set(), set(), set()
    seen, stack = set(), [expr]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.is_Symbol:
            symbols.add(node)
        elif node.is_Add or node.is_Mul:
            stack.extend(node.args)
        elif node.is_Pow and node.exp.is_Integer:
            stack.append(node.base)
            base = node.base
            if base.is_Add and len(base.args) == 2 and sp.S.One in base.args:
                sigmoid.update(t for t in base.args if isinstance(t, sp.exp))
        elif not node.is_Rational:
            opaque.add(node)
    return _sorted(symbols), _sorted(opaque - sigmoid), _sorted(sigmoid)


def _sorted(items: set) -> list:
    return sorted(items, key=sp.default_sort_key)


def _fraction(expr: sp.Expr, value: dict, R) -> tuple | None:
    """``expr`` as (numerator, denominator) in ``R``; None for a division by zero."""
    memo = dict(value)

    def build(node):
        if node in memo:
            return memo[node]
        if node.is_Rational:
            out = (R(QQ(node.p, node.q)), R.one)
        elif node.is_Add or node.is_Mul:
            out = None
            for part in map(build, node.args):
                if part is None:
                    return None
                out = part if out is None else _combine(out, part, node.is_Add)
        else:  # an integer power
            out, k = build(node.base), int(node.exp)
            if out is not None and k < 0:
                out = None if out[0] == 0 else (out[1], out[0])
            if out is not None:
                out = (out[0] ** abs(k), out[1] ** abs(k))
        memo[node] = out
        return out

    return build(expr)


def _combine(a: tuple, b: tuple, add: bool) -> tuple:
    """The sum or product of two fractions, without cancelling."""
    (p, q), (r, s) = a, b
    if not add:
        return p * r, q * s
    return (p + r, q) if q == s else (p * s + r * q, q * s)


def _clearly_nonzero(expr: sp.Expr) -> bool:
    """Whether ``expr`` is far from zero at a fixed pseudo-random point, in 50 digits.

    The point's coordinates are 50-digit floats, so SymPy evaluates every
    node as it rebuilds the expression; what it leaves unevaluated goes
    through ``evalf``.
    """
    atoms = sorted(expr.free_symbols, key=sp.default_sort_key)
    point = {
        a: sp.Float(sp.Rational(3 + (7 * i) % 11, 13 + (5 * i) % 7), 50)
        for i, a in enumerate(atoms)
    }
    value = expr.xreplace(point)
    if not value.is_Number:
        value = value.evalf(50)
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
    return [
        (i, j)
        for i, new in enumerate(cell.new_state_symbols)
        for j, old in enumerate(cell.state_symbols)
        if not exactly_equal(
            explicit(blocks[i][j], sizes, defs), elementwise_jacobian(new, old, sizes, defs)
        )
    ]
