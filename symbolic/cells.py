"""Recurrent cells as frozen, hashable descriptions.

A :class:`Cell` holds the equations of one recurrent step in matrix form:
every left-hand side is a named vector (a pre-activation, a gate, a new
state), every right-hand side a SymPy matrix expression built from
parameters (``MatrixSymbol``), the previous state, the input and the vectors
defined above it, with elementwise activations
(``ElementwiseApplyFunction``), Hadamard products and vertical
concatenation.  A cell may carry several state vectors (LSTM: ``h`` and
``c``); the *full state* is their concatenation in the order given.

Vector names carry their time index (``h_{t-1}``, ``a_{t}``); :meth:`Cell.at`
re-indexes a cell to a concrete step, which is how chains are unrolled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .bounds import StepBound

__all__ = ["Cell", "Equation", "TimedVector", "t"]

#: The symbolic time index used in cell templates.
t = sp.Symbol("t", integer=True)


@dataclass(frozen=True)
class TimedVector:
    """A column vector with a time index: ``base`` at time ``t + offset``.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> v = TimedVector("h", n, -1)
    >>> v.symbol
    h_{t-1}
    >>> v.at(5)
    h_{4}
    """

    base: str
    rows: sp.Expr
    offset: int = 0

    @property
    def symbol(self) -> sp.MatrixSymbol:
        """The template symbol, indexed by the symbolic time ``t``."""
        return self.at(t)

    def at(self, time: int | sp.Expr) -> sp.MatrixSymbol:
        """The symbol for this vector at a given time."""
        index = sp.latex(sp.sympify(time) + self.offset).replace(" ", "")
        return sp.MatrixSymbol(f"{self.base}_{{{index}}}", self.rows, 1)


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``: one named vector of a cell and its definition."""

    lhs: sp.MatrixSymbol
    rhs: sp.MatrixExpr

    def __post_init__(self) -> None:
        if not isinstance(self.rhs, sp.MatrixExpr) or self.lhs.shape != self.rhs.shape:
            shape = getattr(self.rhs, "shape", "a scalar")
            raise ValueError(
                f"equation for {self.lhs} has right-hand side of shape {shape}, "
                f"expected {self.lhs.shape}"
            )


_SEQUENCES = (
    "state",
    "new_state",
    "inputs",
    "params",
    "equations",
    "intermediates",
    "dims",
    "notes",
)


@dataclass(frozen=True)
class Cell:
    """A recurrent cell: ``s_t = F(s_{t-1}, x_t; theta)`` in matrix form.

    Parameters
    ----------
    name : str
        Short name (``"rnn"``, ``"lstm"``...).
    title : str
        Human-readable title used in renderings.
    state : tuple of TimedVector
        The state vectors at time ``t - 1`` (offset -1), in full-state order.
    new_state : tuple of TimedVector
        The same vectors at time ``t`` (offset 0), defined by ``equations``.
    inputs : tuple of TimedVector
        The inputs at time ``t`` (zero or more).
    params : tuple of sympy.MatrixSymbol or sympy.Symbol
        Weights, biases (``MatrixSymbol``) and scalar parameters
        (``Symbol``), shared across time.
    equations : tuple of Equation
        Definitions in evaluation order; every ``new_state`` vector is the
        left-hand side of one of them.
    intermediates : tuple of TimedVector
        Named vectors defined on the way (pre-activations, gates).
    dims : tuple of sympy.Symbol
        The size symbols the shapes use.
    notes : tuple of str
        Conventions a rendering must state (output form, bias placement).
    bound : StepBound, optional
        ``||ds_t/ds_{t-1}||_2 <= bound.value`` (see :mod:`symbolic.bounds`),
        or None where the cell declares none.

    Lists are accepted wherever a tuple is expected.  Every mistake (an
    undefined symbol, a state without an update, a name used with two
    shapes, a shape mismatch) raises one ``ValueError`` naming the equation.
    """

    name: str
    title: str
    state: tuple[TimedVector, ...]
    new_state: tuple[TimedVector, ...]
    inputs: tuple[TimedVector, ...]
    params: tuple[sp.MatrixSymbol | sp.Symbol, ...]
    equations: tuple[Equation, ...]
    intermediates: tuple[TimedVector, ...] = ()
    dims: tuple[sp.Symbol, ...] = ()
    notes: tuple[str, ...] = field(default=())
    bound: StepBound | None = None

    def __post_init__(self) -> None:
        for name in _SEQUENCES:
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if len(self.state) != len(self.new_state):
            raise ValueError(f"cell {self.name!r}: state and new_state must list the same vectors")
        for old, new in zip(self.state, self.new_state, strict=True):
            if old.symbol.shape != new.symbol.shape:
                raise ValueError(
                    f"cell {self.name!r}: state {old.symbol} has shape {old.symbol.shape} "
                    f"but its update {new.symbol} has shape {new.symbol.shape}"
                )
        defined = {eq.lhs for eq in self.equations}
        missing = [str(v.symbol) for v in self.new_state if v.symbol not in defined]
        if missing:
            raise ValueError(
                f"cell {self.name!r} has no equation for {', '.join(missing)}: "
                "every state needs an update"
            )
        bad = [p for p in self.params if not isinstance(p, (sp.MatrixSymbol, sp.Symbol))]
        if bad:
            raise ValueError(
                f"cell {self.name!r}: parameter {bad[0]} is neither a MatrixSymbol nor a Symbol"
            )
        self._check_names()
        known = {v.symbol for v in self.state + self.inputs} | set(self.params) | set(self.dims)
        for eq in self.equations:
            unknown = {
                s
                for s in eq.rhs.free_symbols - known
                if isinstance(s, sp.MatrixSymbol) or not s.is_integer
            }
            if unknown:
                names = ", ".join(sorted(map(str, unknown)))
                raise ValueError(
                    f"cell {self.name!r}: equation for {eq.lhs} uses undefined {names}; "
                    "declare it as a state, input, parameter or an earlier equation"
                )
            known.add(eq.lhs)
        if self.bound is not None:
            unknown = self.bound.value.free_symbols - set(self.params) - set(self.dims)
            unknown = {s for s in unknown if isinstance(s, sp.MatrixSymbol) or not s.is_integer}
            if unknown:
                names = ", ".join(sorted(map(str, unknown)))
                raise ValueError(f"cell {self.name!r}: its bound uses {names}, not a parameter")

    def _check_names(self) -> None:
        """One shape per name across parameters, states, inputs and equations."""
        shapes: dict[str, tuple] = {}
        for v in self.state + self.new_state + self.inputs:
            shapes[v.symbol.name] = v.symbol.shape
        for p in self.params:
            shapes.setdefault(p.name, getattr(p, "shape", ()))
        for eq in self.equations:
            symbols = [eq.lhs, *eq.rhs.atoms(sp.MatrixSymbol)]
            for sym in symbols:
                seen = shapes.setdefault(sym.name, sym.shape)
                if seen != sym.shape:
                    raise ValueError(
                        f"cell {self.name!r}: equation for {eq.lhs} uses {sym.name} with "
                        f"shape {sym.shape}, elsewhere {seen}; give each name one shape"
                    )

    @property
    def definitions(self) -> dict[sp.MatrixSymbol, sp.MatrixExpr]:
        """Map from each defined vector to its right-hand side."""
        return {eq.lhs: eq.rhs for eq in self.equations}

    @property
    def state_symbols(self) -> tuple[sp.MatrixSymbol, ...]:
        """Previous-state symbols (``h_{t-1}``, ...)."""
        return tuple(v.symbol for v in self.state)

    @property
    def new_state_symbols(self) -> tuple[sp.MatrixSymbol, ...]:
        """New-state symbols (``h_{t}``, ...)."""
        return tuple(v.symbol for v in self.new_state)

    @property
    def input_symbols(self) -> tuple[sp.MatrixSymbol, ...]:
        """Input symbols (``x_{t}``, ...)."""
        return tuple(v.symbol for v in self.inputs)

    def at(self, time: int | sp.Expr) -> dict[sp.MatrixSymbol, sp.MatrixSymbol]:
        """Substitution that moves every timed vector from ``t`` to ``time``.

        Examples
        --------
        >>> from symbolic.rnn import elman_rnn
        >>> rnn = elman_rnn()
        >>> sorted(map(str, rnn.at(3).values()))
        ['a_{3}', 'h_{2}', 'h_{3}', 'x_{3}']
        """
        timed = self.state + self.new_state + self.inputs + self.intermediates
        return {v.symbol: v.at(time) for v in timed}

    def with_sizes(self, **sizes: int) -> dict[sp.Symbol, int]:
        """Substitution for the size symbols, e.g. ``n=2, m=1``."""
        by_name = {str(d): d for d in self.dims}
        unknown = set(sizes) - set(by_name)
        if unknown:
            raise ValueError(
                f"cell {self.name!r} has no size {sorted(unknown)}; sizes: {sorted(by_name)}"
            )
        return {by_name[k]: v for k, v in sizes.items()}
