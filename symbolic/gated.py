"""What the gated cells' derivations share: closed-form claims, gate slopes, displays.

The LSTM and GRU derivations (:mod:`symbolic.lstm.proof`,
:mod:`symbolic.gru.proof`) show each block of a step Jacobian twice: as the
output of gradproof's chain rule, checked against the elementwise Jacobian,
then as the closed form an author writes by hand (``s(v) = diag(v ⊙ (1 - v))``
for a sigmoid output ``v``), checked equal to it by :class:`ClosedFormClaim`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from .activations import activation, z
from .cells import Cell
from .derivation import Claim, EqualityClaim, Notation, Outcome, Partial, Step
from .explicit import exactly_equal, explicit
from .printers import latex, text
from .ranges import real_range

__all__ = [
    "ClosedFormClaim",
    "RangeClaim",
    "display_sum",
    "gate_vector",
    "named_block",
    "one_minus_square",
    "sigmoid_slope",
    "slope_identities",
]

#: ``sigma' = sigma (1 - sigma)`` and ``tanh' = 1 - tanh^2``, as functions of the output.
_GATE_SLOPE = sp.Lambda(z, z * (1 - z))
_TANH_SLOPE = sp.Lambda(z, 1 - z**2)


@dataclass(frozen=True)
class ClosedFormClaim(Claim):
    """Two matrix expressions in a cell's vectors are equal entry by entry.

    Both sides are expanded with :func:`~symbolic.explicit.explicit` at every
    size in ``sizes`` (named vectors inlined) and compared exactly.  Used to
    show that the chain rule's output equals a closed form written by hand.

    Examples
    --------
    >>> from symbolic.jacobians import step_jacobian_blocks
    >>> from symbolic.lstm import lstm
    >>> cell = lstm()
    >>> f = sp.MatrixSymbol("f_{t}", cell.dims[0], 1)
    >>> cc = step_jacobian_blocks(cell)[1][1]
    >>> ClosedFormClaim(cell, cc, DiagMatrix(f), sizes=(2,)).check_exact().passed
    True
    >>> ClosedFormClaim(cell, cc, sp.Identity(cell.dims[0]), sizes=(2,)).check_exact().passed
    False
    """

    cell: Cell
    lhs: sp.MatrixExpr
    rhs: sp.MatrixExpr
    sizes: tuple[int, ...] = (2, 3)

    def check_exact(self) -> Outcome:
        defs = self.cell.definitions
        for size in self.sizes:
            subs = {d: size for d in self.cell.dims}
            a, b = explicit(self.lhs, subs, defs), explicit(self.rhs, subs, defs)
            if not exactly_equal(a, b):
                return Outcome("exact", False, f"the two forms differ at size {size}")
        sizes = ", ".join(map(str, self.sizes))
        return Outcome("exact", True, f"equal entry by entry at sizes {sizes}")


@dataclass(frozen=True)
class RangeClaim(Claim):
    """The range of a scalar function over the reals is ``interval``, exactly.

    Examples
    --------
    >>> sigmoid = activation("sigmoid").function
    >>> RangeClaim(sigmoid, sp.Interval.open(0, 1)).check_exact().passed
    True
    >>> wrong = RangeClaim(sigmoid, sp.Interval(0, 1)).check_exact()
    >>> wrong.passed, wrong.detail
    (False, 'SymPy finds the range (0, 1)')
    """

    function: sp.Lambda
    interval: sp.Interval

    def check_exact(self) -> Outcome:
        rng = real_range(self.function(z), z)
        ok = rng == self.interval
        return Outcome("exact", bool(ok), f"SymPy finds the range {text(rng)}")


def sigmoid_slope(v: sp.MatrixExpr) -> sp.MatrixExpr:
    """``s(v) = diag(v ⊙ (1 - v))``: the slope of a sigmoid whose output is ``v``.

    Written as one elementwise function of ``v``, so it prints as an author
    writes it and compiles to one NumPy expression.

    Examples
    --------
    >>> v = sp.MatrixSymbol("v", 3, 1)
    >>> text(sigmoid_slope(v))
    'diag(v (1 - v))'
    """
    return DiagMatrix(v.applyfunc(_GATE_SLOPE))


def one_minus_square(v: sp.MatrixExpr) -> sp.MatrixExpr:
    """``1 - v^2`` elementwise: the slope of tanh at a point where tanh is ``v``."""
    return v.applyfunc(_TANH_SLOPE)


def display_sum(*terms: tuple) -> Notation:
    """A displayed sum of products whose factors may be :class:`Partial`."""

    def product(factors, show):
        return " ".join(show(f) for f in factors)

    return Notation(
        " + ".join(product(t, latex) for t in terms), " + ".join(product(t, text) for t in terms)
    )


def _substitute(expr: sp.Basic, block: sp.MatrixExpr, new: sp.MatrixExpr) -> sp.Basic:
    """Replace ``block`` by ``new``, also where a flattened product ends in ``block``'s factors."""
    if expr == block:
        return new
    if isinstance(expr, sp.MatMul) and isinstance(block, sp.MatMul):
        k = len(block.args)
        if len(expr.args) > k and expr.args[-k:] == block.args:
            return sp.MatMul(*expr.args[:-k], new)
    args = [_substitute(arg, block, new) for arg in expr.args]
    return expr.func(*args) if args != list(expr.args) else expr


def named_block(expr: sp.MatrixExpr, block: sp.MatrixExpr, partial: Partial) -> Notation:
    """``expr`` displayed with the sub-expression ``block`` written as ``partial``.

    The display is printed from ``expr`` itself, so it cannot drift from the
    expression the step's claim checks.
    """
    placeholder = sp.MatrixSymbol("GRADPROOFBLOCK", *block.shape)
    named = _substitute(expr, block, placeholder)
    if not named.has(placeholder):
        raise ValueError(f"{partial.out} block not found in the expression it should name")
    return Notation(
        latex(named).replace(placeholder.name, latex(partial)),
        text(named).replace(placeholder.name, text(partial)),
    )


def slope_identities() -> tuple[Step, ...]:
    """``sigma' = sigma (1 - sigma)`` and ``tanh' = 1 - tanh^2``, each checked exactly."""
    sigmoid, tanh = activation("sigmoid"), activation("tanh")
    return (
        Step(
            Notation(r"\sigma'(z)", "sigmoid'(z)"),
            "=",
            Notation(r"\sigma(z)\,\bigl(1 - \sigma(z)\bigr)", "sigmoid(z) (1 - sigmoid(z))"),
            r"so $\operatorname{diag}(\sigma'(a)) = s(v) := \operatorname{diag}(v \odot (1 - v))$ "
            r"for a gate $v = \sigma(a)$",
            EqualityClaim(sigmoid.derivative(z), sigmoid.function(z) * (1 - sigmoid.function(z))),
        ),
        Step(
            Notation(r"\tanh'(z)", "tanh'(z)"),
            "=",
            Notation(r"1 - \tanh^2(z)", "1 - tanh(z)^2"),
            r"so $\operatorname{diag}(\tanh'(a)) = \operatorname{diag}(1 - v \odot v)$ "
            r"for $v = \tanh(a)$",
            EqualityClaim(tanh.derivative(z), 1 - tanh.function(z) ** 2),
        ),
    )


def gate_vector(cell: Cell, name: str) -> sp.MatrixSymbol:
    """The cell's named vector ``name_t`` (a gate, a candidate), of the hidden size."""
    return sp.MatrixSymbol(f"{name}_{{t}}", cell.dims[0], 1)
