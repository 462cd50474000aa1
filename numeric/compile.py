"""Compile cell equations and their structured Jacobians to NumPy.

SymPy's ``NumPyPrinter`` prints ``ElementwiseApplyFunction`` and
``DiagMatrix`` as invalid code, and lambdifying explicit matrices costs
O(n^2) expressions.  :func:`lambdify_matrix` prints the matrix expression
tree itself, once for every size, in single-assignment form: each distinct
subtree becomes one temporary, so repeated subexpressions (a gate used in
several Jacobian blocks) are computed once (common-subexpression
elimination).  A compiled cell has three such functions: the step alone (the
forward run pays for nothing else), the Jacobian blocks, and, for cells whose
step Jacobian is ``diag(d) W`` with a constant ``W``, the factors ``d``, ``W``.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardPower, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.numpy import NumPyPrinter

from symbolic.activations import ACTIVATIONS, z
from symbolic.cells import Cell
from symbolic.jacobians import step_jacobian_blocks

__all__ = ["CompiledCell", "compile_cell", "lambdify_matrix"]


def _sigmoid(v):
    # exp of a non-positive number only: no overflow for large |v|.
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


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
    with np.errstate(over="ignore", invalid="ignore"):
        out = _product(m, v)
        bad = ~np.isfinite(out)
        if bad.any() and np.isfinite(m).all() and np.isfinite(v).all():
            # Partial sums overflowed (entries near 1e308), perhaps meeting as inf - inf:
            # redo those rows scaled by their largest entry, so they come out
            # right, or infinite where the exact value is beyond float64.
            peak = np.max(np.abs(m), axis=-1)
            out = np.where(bad, _product(m / peak[..., None], v) * peak, out)
    return out


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
    function = namespace["_compiled"]
    function.__doc__ = source
    return function


@dataclass(frozen=True)
class CompiledCell:
    """A cell's step and full-state step Jacobian as NumPy functions.

    Use :func:`compile_cell` to build one; it is cached per cell and size.
    ``x`` is always the concatenation of the cell's input vectors in
    declaration order, ``(..., input_size)``: ``(..., 0)`` for a cell
    without inputs.
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
        args = [s] if len(self.state_sizes) == 1 else _split(s, self.state_sizes)
        args += [x] if len(self.input_sizes) == 1 else _split(x, self.input_sizes)
        return args + [params[name] for name in self.param_names]

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
        batch = np.broadcast_shapes(np.shape(s)[:-1], *(np.shape(o)[:-1] for o in out))
        return np.concatenate([np.broadcast_to(o, batch + o.shape[-1:]) for o in out], axis=-1)

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


def _split(v: np.ndarray, sizes: tuple[int, ...]) -> list[np.ndarray]:
    return np.split(v, np.cumsum(sizes)[:-1], axis=-1) if sizes else []


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
