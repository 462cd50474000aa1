"""Build your own cell: one declaration per state, input, parameter and equation.

:class:`CellBuilder` is the public way in for any recurrent cell; the
built-in cells use it too.  It hands back the SymPy objects to write
equations with, so a cell reads like its paper::

    cb = CellBuilder("indrnn", "IndRNN (Li et al. 2018)")
    n, m = cb.sizes("n", "m")
    h, x = cb.state("h", n), cb.input("x", m)
    u, W, b = cb.vector("u", n), cb.matrix("W", n, m), cb.vector("b", n)
    a = cb.define("a", hadamard(u, h) + W * x + b)
    cb.update(h, elementwise("relu", a))
    cell = cb.build()

:func:`elementwise` applies any function SymPy can differentiate (a
registered activation by name, an :class:`~symbolic.activations.Activation`,
a ``Lambda`` or a SymPy function class such as ``sympy.atan``) and
:func:`hadamard` multiplies vectors entrywise; ``sympy.OneMatrix`` (the
all-ones vector), ``sympy.Identity``, transposes and scalar parameters enter
as in any SymPy matrix expression.  Text is never parsed: names are names.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from .activations import Activation, activation, z
from .bounds import StepBound
from .cells import Cell, Equation, TimedVector

__all__ = ["CellBuilder", "elementwise", "hadamard"]


def elementwise(f: str | Activation | sp.Lambda | type, v: sp.MatrixExpr) -> sp.MatrixExpr:
    """``f`` applied to every entry of the vector ``v``.

    Examples
    --------
    >>> v = sp.MatrixSymbol("v", 2, 1)
    >>> elementwise("tanh", v).function
    Lambda(z, tanh(z))
    >>> elementwise(sp.atan, v).function
    Lambda(z, atan(z))
    """
    if isinstance(f, type) and issubclass(f, sp.Function):
        f = sp.Lambda(z, f(z))
    return activation(f)(v)


def hadamard(*vectors: sp.MatrixExpr) -> sp.MatrixExpr:
    """The entrywise product ``v_1 ⊙ v_2 ⊙ ...``.

    Examples
    --------
    >>> a, b = sp.MatrixSymbol("a", 2, 1), sp.MatrixSymbol("b", 2, 1)
    >>> hadamard(a, b)
    HadamardProduct(a, b)
    """
    return HadamardProduct(*vectors)


class CellBuilder:
    """Declare a cell's sizes, states, inputs, parameters and equations.

    Parameters
    ----------
    name : str
        Short name, used on the command line and in file names.
    title : str, optional
        Title of renderings; defaults to ``name``.
    notes : sequence of str
        Conventions a rendering should state (inline math in ``$...$``).

    Examples
    --------
    The Elman RNN:

    >>> cb = CellBuilder("elman", "Elman RNN")
    >>> n, m = cb.sizes("n", "m")
    >>> h, x = cb.state("h", n), cb.input("x", m)
    >>> W, U, b = cb.matrix("W", n, n), cb.matrix("U", n, m), cb.vector("b", n)
    >>> a = cb.define("a", W * h + U * x + b)
    >>> h_t = cb.update(h, elementwise("tanh", a))
    >>> cell = cb.build()
    >>> [str(eq.lhs) for eq in cell.equations], [p.name for p in cell.params]
    (['a_{t}', 'h_{t}'], ['W', 'U', 'b'])
    """

    def __init__(self, name: str, title: str | None = None, notes: tuple[str, ...] = ()):
        self.name, self.title, self.notes = name, title or name, tuple(notes)
        self._dims: list[sp.Symbol] = []
        self._state: list[TimedVector] = []
        self._inputs: list[TimedVector] = []
        self._params: list[sp.MatrixSymbol | sp.Symbol] = []
        self._defined: list[TimedVector] = []
        self._equations: dict[str, Equation] = {}

    def _new_name(self, name: str) -> str:
        taken = {str(d) for d in self._dims} | {p.name for p in self._params}
        taken |= {v.base for v in self._state + self._inputs + self._defined}
        if not isinstance(name, str) or not name:
            raise ValueError(f"cell {self.name!r}: a name must be a non-empty string, got {name!r}")
        if name in taken:
            raise ValueError(f"cell {self.name!r}: {name!r} is declared twice")
        return name

    def sizes(self, *names: str) -> tuple[sp.Symbol, ...]:
        """Size symbols (positive integers), e.g. ``n, m = cb.sizes("n", "m")``."""
        new = tuple(sp.Symbol(self._new_name(nm), integer=True, positive=True) for nm in names)
        self._dims.extend(new)
        return new

    def state(self, name: str, rows: sp.Expr) -> sp.MatrixSymbol:
        """A state vector; returns its previous value ``name_{t-1}``."""
        v = TimedVector(self._new_name(name), rows, -1)
        self._state.append(v)
        return v.symbol

    def input(self, name: str, rows: sp.Expr) -> sp.MatrixSymbol:
        """An input vector; returns ``name_{t}``."""
        v = TimedVector(self._new_name(name), rows, 0)
        self._inputs.append(v)
        return v.symbol

    def matrix(self, name: str, rows: sp.Expr, cols: sp.Expr) -> sp.MatrixSymbol:
        """A matrix parameter, shared across time."""
        p = sp.MatrixSymbol(self._new_name(name), rows, cols)
        self._params.append(p)
        return p

    def vector(self, name: str, rows: sp.Expr) -> sp.MatrixSymbol:
        """A vector parameter (a bias, a diagonal weight), shared across time."""
        return self.matrix(name, rows, 1)

    def scalar(self, name: str) -> sp.Symbol:
        """A positive scalar parameter (a step size, a damping constant)."""
        p = sp.Symbol(self._new_name(name), positive=True)
        self._params.append(p)
        return p

    def define(self, name: str, rhs: sp.MatrixExpr) -> sp.MatrixSymbol:
        """A named intermediate vector ``name_{t} := rhs``; returns ``name_{t}``."""
        if not isinstance(rhs, sp.MatrixExpr) or rhs.shape[1] != 1:
            raise ValueError(
                f"cell {self.name!r}: equation for {name}_t must be a column vector, got {rhs}"
            )
        v = TimedVector(self._new_name(name), rhs.shape[0], 0)
        self._defined.append(v)
        self._equations[name] = Equation(v.symbol, rhs)
        return v.symbol

    def update(self, state: str | sp.MatrixSymbol, rhs: sp.MatrixExpr) -> sp.MatrixSymbol:
        """The new value ``state_{t} := rhs`` of a declared state; returns ``state_{t}``."""
        base = {v.symbol: v.base for v in self._state}.get(state, state)
        old = next((v for v in self._state if v.base == base), None)
        if old is None:
            raise ValueError(f"cell {self.name!r}: {state} is not a declared state")
        if base in self._equations:
            raise ValueError(f"cell {self.name!r}: state {base} has two updates")
        new = TimedVector(base, old.rows, 0)
        if not isinstance(rhs, sp.MatrixExpr):
            raise ValueError(f"cell {self.name!r}: update of {new.symbol} is not a vector: {rhs}")
        self._equations[base] = Equation(new.symbol, rhs)
        return new.symbol

    def build(self, bound: StepBound | None = None) -> Cell:
        """The validated :class:`~symbolic.cells.Cell`, with an optional per-step bound."""
        missing = [v.base for v in self._state if v.base not in self._equations]
        if missing:
            raise ValueError(
                f"cell {self.name!r}: state {', '.join(missing)} has no update; "
                "call update(state, rhs)"
            )
        return Cell(
            name=self.name,
            title=self.title,
            state=self._state,
            new_state=[TimedVector(v.base, v.rows, 0) for v in self._state],
            inputs=self._inputs,
            params=self._params,
            equations=list(self._equations.values()),
            intermediates=self._defined,
            dims=self._dims,
            notes=self.notes,
            bound=bound,
        )
