"""Matrix expression trees printed to NumPy code.

SymPy's ``NumPyPrinter`` prints ``ElementwiseApplyFunction`` and
``DiagMatrix`` as invalid code, and lambdifying explicit matrices costs
O(n^2) expressions.  :func:`lambdify_matrix` prints the matrix expression
tree itself, once for every size, in single-assignment form: each distinct
subtree becomes one temporary, so repeated subexpressions (a gate used in
several Jacobian blocks) are computed once (common-subexpression
elimination).

Runtime layout: a leading batch axis.  Column vectors are arrays ``(..., r)``,
matrices ``(..., r, c)``; parameters carry no batch axis and broadcast; scalar
parameters are Python floats or 0-d arrays.  Whether a symbol is a vector or a
matrix is read off the *symbolic* shape (a column count of literally 1), so
the trees are printed before sizes are substituted: at ``n = 1`` a ``1 x 1``
weight stays a matrix, and SymPy never gets to evaluate ``Max(0, X)`` on a
``1 x 1`` symbol.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardPower, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter

from symbolic.activations import ACTIVATIONS, z

__all__ = ["lambdify_matrix"]


def _sigmoid(v):
    # exp of a non-positive number only: no overflow for large |v|.  1 / (1 + e)
    # or e / (1 + e), the numerator chosen first: one division, not two.
    e = np.exp(-np.abs(v))
    out = np.where(v >= 0, 1.0, e)
    e += 1.0
    out /= e
    return out


def _sigmoid_slope(v):
    s = _sigmoid(v)
    return s * (1.0 - s)


def _vcat(*parts):
    batch = np.broadcast_shapes(*[np.shape(p)[:-1] for p in parts])
    return np.concatenate([np.broadcast_to(p, batch + np.shape(p)[-1:]) for p in parts], axis=-1)


def _diag(v):
    return v[..., :, None] * np.eye(np.shape(v)[-1])


def _product(m, v):
    return v @ m.T if np.ndim(m) == 2 else np.matmul(m, v[..., None])[..., 0]


def _matvec(m, v):
    # Called inside _QUIET.  Any inf or NaN entry makes the sum inf or NaN: one
    # reduction tells (a finite sum that overflows only costs the slow path).
    out = _product(m, v)
    if math.isfinite(np.add.reduce(out, axis=None)) or not (
        np.isfinite(m).all() and np.isfinite(v).all()
    ):
        return out
    # Partial sums overflowed (entries near 1e308), perhaps meeting as inf - inf:
    # redo those rows scaled by their largest entry, so they come out
    # right, or infinite where the exact value is beyond float64.
    peak = np.max(np.abs(m), axis=-1)
    return np.where(np.isfinite(out), out, _product(m / peak[..., None], v) * peak)


#: Overflow and invalid-operation warnings off, once a call of a compiled
#: function (see :func:`lambdify_matrix`), not once a product.
_QUIET = np.errstate(over="ignore", invalid="ignore")


#: Numerically stable kernels for registered activations and their slopes.
_KERNELS = {
    ACTIVATIONS["sigmoid"].function: "_sigmoid",
    ACTIVATIONS["sigmoid"].derivative: "_sigmoid_slope",
}
_NAMESPACE = {
    "numpy": np,
    "functools": functools,
    "_sigmoid": _sigmoid,
    "_sigmoid_slope": _sigmoid_slope,
    "_vcat": _vcat,
    "_diag": _diag,
    "_matvec": _matvec,
}


class _MatrixCodePrinter:
    """Single-assignment NumPy code for a set of matrix expressions."""

    def __init__(self, names: dict[sp.Basic, str], definitions: dict, sizes: dict):
        self.lines: list[str] = []
        self.memo: dict[sp.Basic, tuple[str, str]] = {}
        self.names = names
        self.definitions = definitions
        self.counter = itertools.count()
        self.scalar = NumPyPrinter({"fully_qualified_modules": True})
        # Scalar parameters print as their argument names, size symbols as integers.
        self.scalar_subs = {
            s: sp.Symbol(code, real=True)
            for s, code in names.items()
            if not isinstance(s, sp.MatrixExpr)
        }
        self.sizes = {d: sp.Integer(v) for d, v in sizes.items()}
        self.scalar_subs.update(self.sizes)

    def emit(self, code: str, kind: str) -> tuple[str, str]:
        name = f"_t{next(self.counter)}"
        self.lines.append(f"    {name} = {code}")
        return name, kind

    def size(self, dim: sp.Expr) -> int:
        """A symbolic dimension as an integer, for code that needs one."""
        value = sp.sympify(dim).xreplace(self.sizes)
        if not value.is_Integer:
            raise ValueError(f"no size given for {dim}")
        return int(value)

    def shape(self, expr: sp.MatrixExpr) -> tuple[int, ...]:
        """Runtime shape (no batch axis): ``(r,)`` for vectors, ``(r, c)`` for matrices."""
        rows, cols = expr.shape
        return (self.size(rows),) if cols == 1 else (self.size(rows), self.size(cols))

    def scalar_code(self, expr: sp.Expr, extra: dict | None = None) -> str:
        """Parenthesised code of a scalar expression in parameters and sizes."""
        subs = {**self.scalar_subs, **(extra or {})}
        return f"({self.scalar.doprint(sp.sympify(expr).xreplace(subs))})"

    def visit(self, expr: sp.Basic) -> tuple[str, str]:
        """Return ``(code, kind)``; kind is 'vec', 'mat', 'diag' or 'zero'."""
        if expr not in self.memo:
            self.memo[expr] = self._visit(expr)
        return self.memo[expr]

    def _visit(self, expr):
        if expr in self.names:
            return self.names[expr], _kind(expr)
        if expr in self.definitions:
            return self.visit(self.definitions[expr])
        if isinstance(expr, sp.MatrixSymbol):
            raise ValueError(f"no value for {expr}")
        if isinstance(expr, sp.ZeroMatrix):
            return "0.0", "zero"
        if isinstance(expr, sp.OneMatrix):
            return self.emit(f"numpy.ones({self.shape(expr)})", _kind(expr))
        if isinstance(expr, sp.Identity):
            return self.emit(f"numpy.eye({self.size(expr.shape[0])})", "mat")
        if isinstance(expr, DiagMatrix):
            code, _ = self.visit(expr.args[0])
            return code, "diag"
        if isinstance(expr, ElementwiseApplyFunction):
            return self._elementwise(expr)
        if isinstance(expr, HadamardProduct):
            factors = [self.dense(arg) for arg in expr.args]
            if any(kind == "zero" for _, kind in factors):
                return "0.0", "zero"
            return self.emit(" * ".join(code for code, _ in factors), _kind(expr))
        if isinstance(expr, HadamardPower):
            base, exp = (
                self.dense(arg)[0] if isinstance(arg, sp.MatrixExpr) else self.scalar_code(arg)
                for arg in expr.args
            )
            return self.emit(f"{base} ** {exp}", _kind(expr))
        if isinstance(expr, sp.MatAdd):
            return self._add(expr)
        if isinstance(expr, sp.MatMul):
            return self._mul(expr)
        if isinstance(expr, sp.BlockMatrix) and expr.blockshape[1] == 1:
            codes = [self.visit(expr.blocks[i, 0])[0] for i in range(expr.blockshape[0])]
            return self.emit(f"_vcat({', '.join(codes)})", "vec")
        if isinstance(expr, sp.Transpose):
            code, _ = self.dense(expr.arg)
            return self.emit(f"numpy.swapaxes({code}, -1, -2)", "mat")
        raise TypeError(f"cannot compile {type(expr).__name__}: {expr}")

    def dense(self, expr) -> tuple[str, str]:
        code, kind = self.visit(expr)
        if kind == "diag":
            return self.emit(f"_diag({code})", "mat")
        return code, kind

    def _elementwise(self, expr):
        arg, _ = self.visit(expr.expr)
        body = expr.function(z)
        fn = sp.Lambda(z, body)
        if fn in _KERNELS:
            return self.emit(f"{_KERNELS[fn]}({arg})", _kind(expr))
        if not body.has(z):
            value = self.scalar_code(body)
            return self.emit(f"numpy.full(numpy.shape({arg}), {value}, dtype=float)", _kind(expr))
        return self.emit(self.scalar_code(body, {z: sp.Symbol(arg, real=True)}), _kind(expr))

    def _add(self, expr):
        terms = [self.dense(arg) for arg in expr.args]
        codes = [code for code, kind in terms if kind != "zero"]
        return self.emit(" + ".join(codes) or "0.0", _kind(expr))

    def _mul(self, expr):
        scalars = [a for a in expr.args if not isinstance(a, sp.MatrixExpr)]
        factors = [self.visit(a) for a in expr.args if isinstance(a, sp.MatrixExpr)]
        if any(kind == "zero" for _, kind in factors):
            return "0.0", "zero"
        if _kind(expr) == "vec":
            acc, _ = factors[-1]
            for code, kind in reversed(factors[:-1]):
                acc = f"({code} * {acc})" if kind == "diag" else f"_matvec({code}, {acc})"
            kind = "vec"
        else:
            acc, kind = factors[0]
            for code, next_kind in factors[1:]:
                if next_kind == "diag" and kind == "diag":
                    acc = f"({acc} * {code})"
                elif next_kind == "diag":
                    acc = f"({acc} * {code}[..., None, :])"
                elif kind == "diag":
                    acc = f"({acc}[..., :, None] * {code})"
                else:
                    acc = f"({acc} @ {code})"
                kind = "diag" if kind == next_kind == "diag" else "mat"
        if scalars:
            acc = f"{self.scalar_code(sp.Mul(*scalars))} * {acc}"
        return self.emit(acc, kind)


def _kind(expr: sp.MatrixExpr) -> str:
    """'vec' when the symbolic column count is literally 1, else 'mat'."""
    return "vec" if expr.shape[1] == 1 else "mat"


def lambdify_matrix(
    args: Sequence[sp.MatrixSymbol | sp.Symbol],
    exprs: Sequence[sp.MatrixExpr],
    definitions: Mapping[sp.MatrixSymbol, sp.MatrixExpr] | None = None,
    sizes: Mapping[sp.Symbol, int] | None = None,
) -> Callable[..., tuple[np.ndarray, ...]]:
    """Compile matrix expressions to one NumPy function.

    The function does not warn about overflow or invalid operations: a
    value beyond float64 comes back as inf or NaN, for the caller to check.

    Parameters
    ----------
    args : sequence of sympy.MatrixSymbol or sympy.Symbol
        Positional arguments, in order.  Vectors (a symbolic column count of
        literally 1) are passed as ``(..., r)`` arrays, matrices as
        ``(..., r, c)``, scalars (``Symbol``) as floats or 0-d arrays.
    exprs : sequence of sympy.MatrixExpr
        What the function returns, as a tuple in the same order.  Zero
        blocks come back as arrays of zeros of the full shape.
    definitions : mapping, optional
        Named intermediate vectors, computed once and reused.
    sizes : mapping, optional
        Values of the size symbols.  Pass symbolic templates with ``sizes``
        rather than substituting the sizes first: at size 1 a substituted
        ``1 x 1`` matrix cannot be told from a vector.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    >>> eps = sp.Symbol("epsilon", positive=True)
    >>> f = lambdify_matrix([W, h, eps], [eps * (W * h).applyfunc(sp.Lambda(z, 2 * z))], sizes={n: 2})
    >>> f(np.eye(2), np.array([1.0, 3.0]), 0.5)[0]
    array([1., 3.])
    >>> lambdify_matrix([W, h], [W * h], sizes={n: 1})(np.array([[2.0]]), np.array([3.0]))[0]
    array([6.])
    """
    names = {arg: f"arg{i}" for i, arg in enumerate(args)}
    printer = _MatrixCodePrinter(names, dict(definitions or {}), dict(sizes or {}))
    outputs = []
    for expr in exprs:
        code, kind = printer.dense(expr)
        if kind == "zero":
            code = f"numpy.zeros({printer.shape(expr)})"
        outputs.append(code)
    signature = ", ".join(names.values())
    source = "\n".join(
        [f"def _compiled({signature}):", *printer.lines, f"    return ({', '.join(outputs)},)"]
    )
    namespace = dict(_NAMESPACE)
    exec(compile(source, "<gradproof>", "exec"), namespace)  # noqa: S102 - source printed from our own trees
    function = _QUIET(namespace["_compiled"])  # as a decorator: a fresh context a call
    function.__doc__ = source
    return function
