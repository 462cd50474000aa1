"""Derivations as ordered lists of checkable steps.

A :class:`Derivation` is what gets rendered and verified: each
:class:`Step` states ``lhs rel rhs`` with a justification in words and,
unless it is a definition, a *claim*: a description of how the step is
checked.  Claims are plain data; this module checks the exact (symbolic)
ones and :mod:`numeric.verify` adds the numeric ones, so SymPy code never
depends on NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from .activations import Activation
from .cells import Cell
from .explicit import elementwise_jacobian, entries, exactly_equal, explicit
from .jacobians import chain

__all__ = [
    "ActivationBoundClaim",
    "BoundClaim",
    "ChainClaim",
    "Claim",
    "Derivation",
    "EqualityClaim",
    "InductionClaim",
    "JacobianClaim",
    "Notation",
    "Outcome",
    "Partial",
    "Step",
    "exact_chain_affordable",
    "horizon_definitions",
    "verify_exact",
]

RELATIONS = ("=", "<=", "<", ":=", "=>")


@dataclass(frozen=True)
class Partial:
    """Notation for the Jacobian ``d out / d wrt`` in a derivation."""

    out: sp.MatrixSymbol
    wrt: sp.MatrixSymbol


@dataclass(frozen=True)
class Notation:
    """A piece of mathematics with no SymPy object behind it (``\\prod``, norms).

    ``latex`` and ``text`` give its two renderings.
    """

    latex: str
    text: str


class Claim:
    """Base class: something a step asserts that can be checked."""

    def check_exact(self) -> Outcome | None:
        """Run the exact check, or return None when this claim has none."""
        return None


@dataclass(frozen=True)
class Outcome:
    """Result of one check of one step."""

    kind: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class JacobianClaim(Claim):
    """``d out / d wrt == expr`` for the vectors of ``cell``.

    Checked exactly against SymPy's elementwise ``Matrix.jacobian`` of the
    explicit cell at every size in ``sizes`` (all size symbols set to it),
    and numerically by :mod:`numeric.verify`.
    """

    cell: Cell
    out: sp.MatrixSymbol
    wrt: sp.MatrixSymbol
    expr: sp.MatrixExpr
    sizes: tuple[int, ...] = (2, 3)

    def check_exact(self) -> Outcome:
        for size in self.sizes:
            subs = {d: size for d in self.cell.dims}
            defs = self.cell.definitions
            reference = elementwise_jacobian(self.out, self.wrt, subs, defs)
            if not exactly_equal(explicit(self.expr, subs, defs), reference):
                return Outcome(
                    "exact", False, f"differs from the elementwise Jacobian at size {size}"
                )
        sizes = ", ".join(map(str, self.sizes))
        return Outcome("exact", True, f"equals the elementwise Jacobian at sizes {sizes}")


def _evaluated(expr: Any) -> Any:
    """``expr.doit()``; a matrix's equal entries (``lim W^N`` of a symmetric ``W``) once."""
    expr = sp.sympify(expr)
    if not isinstance(expr, sp.MatrixBase):
        return _done(expr)
    done = {entry: _done(entry) for entry in set(expr)}
    return expr.applyfunc(done.__getitem__)


def _done(expr: sp.Basic) -> sp.Basic:
    """``expr.doit()``; the limit of ``sum c_i f_i`` as ``sum c_i lim f_i`` where each is a number.

    Sound since sums and constant multiples of convergent sequences converge
    to the sums and multiples of their limits; several times cheaper in
    SymPy, whose limit of a power ``lambda^N`` is quick but of a sum of
    multiples of them is not.  Where a term has no finite limit
    (``sqrt(x + 1) - sqrt(x)``; ``sin N``, whose SymPy "limit" is the interval
    ``AccumBounds(-1, 1)``), the sum is passed to SymPy whole.
    """
    if isinstance(expr, sp.Limit) and isinstance(expr.args[0], sp.Add):
        terms = [term.as_coeff_Mul() for term in expr.args[0].args]
        limits = [expr.func(f, *expr.args[1:]).doit() for _, f in terms]
        if all(v.is_finite and not v.has(sp.AccumBounds, sp.Limit) for v in limits):
            return sp.Add(*(c * v for (c, _), v in zip(terms, limits, strict=True)))
    return expr.doit()


@dataclass(frozen=True)
class EqualityClaim(Claim):
    """``lhs == rhs`` exactly, for scalars or explicit matrices."""

    lhs: Any
    rhs: Any

    def check_exact(self) -> Outcome:
        lhs, rhs = _evaluated(self.lhs), _evaluated(self.rhs)
        if isinstance(lhs, sp.MatrixBase):
            ok = exactly_equal(sp.Matrix(lhs), sp.Matrix(rhs))
        else:
            ok = exactly_equal(sp.Matrix([lhs]), sp.Matrix([rhs]))
        return Outcome("exact", ok, "holds exactly" if ok else f"{lhs} != {rhs}")


@dataclass(frozen=True)
class InductionClaim(Claim):
    """``matrix**N == formula`` for every integer ``N >= 1``, by induction on ``N``.

    Checked exactly: the base case ``formula(1) == matrix`` and the step
    ``matrix * formula(N) == formula(N + 1)`` for symbolic ``N``.
    """

    matrix: sp.ImmutableMatrix
    formula: sp.ImmutableMatrix
    var: sp.Symbol

    def check_exact(self) -> Outcome:
        base = exactly_equal(sp.Matrix(self.formula.subs(self.var, 1)), sp.Matrix(self.matrix))
        step = exactly_equal(
            sp.Matrix(self.matrix * self.formula),
            sp.Matrix(self.formula.subs(self.var, self.var + 1)),
        )
        ok = base and step
        detail = "base case N = 1 and step N -> N + 1 hold exactly"
        return Outcome("exact", ok, detail if ok else f"induction fails (base {base}, step {step})")


def horizon_definitions(cell: Cell, T: int, k: int) -> dict:
    """Every vector defined at times ``k+1 .. T``, so explicit forms reach ``s_k``."""
    defs = {}
    for time in range(k + 1, T + 1):
        shift = cell.at(time)
        defs.update(
            {lhs.xreplace(shift): rhs.xreplace(shift) for lhs, rhs in cell.definitions.items()}
        )
    return defs


@dataclass(frozen=True)
class ChainClaim(Claim):
    """``ds_T/ds_k`` equals the ordered product of step Jacobians.

    Exactly (where ``exact``): the product equals the elementwise Jacobian
    of the unrolled explicit map at size 2 over ``exact_steps`` steps.
    Numerically (:mod:`numeric.verify`): over ``steps`` steps, against
    central differences of the compiled unrolled map.  Central differences
    resolve a product only down to about ``1e-11``, so ``steps`` stays
    modest.  Unrolling nests every nonlinearity inside the next step's, so
    for gated cells the exact check does not finish in minutes: pass
    ``exact=False`` (see :func:`exact_chain_affordable`) and the step is
    marked as checked numerically only.
    """

    cell: Cell
    steps: int = 8
    exact_steps: int = 2
    size: int = 2
    exact: bool = True

    def check_exact(self) -> Outcome | None:
        if not self.exact:
            return None
        T, k = self.exact_steps, 0
        subs = {d: self.size for d in self.cell.dims}
        defs = horizon_definitions(self.cell, T, k)
        start = [v.at(k) for v in self.cell.new_state]
        end = [v.at(T) for v in self.cell.new_state]
        unrolled = sp.Matrix.vstack(*(explicit(v, subs, defs) for v in end))
        variables = [e for v in start for e in entries(v, subs)]
        product = explicit(chain(self.cell, T, k).product(), subs, defs)
        ok = exactly_equal(product, unrolled.jacobian(variables))
        detail = (
            f"product of {T} step Jacobians equals the elementwise Jacobian "
            f"of the unrolled map at size {self.size}"
        )
        return Outcome("exact", ok, detail if ok else "product differs from the unrolled Jacobian")


#: Largest explicit one-step map (SymPy operations at size 2) whose unrolled
#: chain is checked exactly: the Elman RNN's is about 20, a minimal gated unit's 200.
EXACT_CHAIN_OPS = 60


def exact_chain_affordable(cell: Cell) -> bool:
    """Whether the exact check of an unrolled two-step chain finishes quickly.

    Decided from the size of the explicit one-step map at size 2, so the
    answer (and the output marking it) is the same on every machine.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> from symbolic.lstm import lstm
    >>> exact_chain_affordable(elman_rnn()), exact_chain_affordable(lstm())
    (True, False)
    """
    sizes = {d: 2 for d in cell.dims}
    ops = sum(
        sp.count_ops(entry)
        for v in cell.new_state_symbols
        for entry in explicit(v, sizes, cell.definitions)
    )
    return ops <= EXACT_CHAIN_OPS


@dataclass(frozen=True)
class BoundClaim(Claim):
    """``||ds_T/ds_{T-j}||_2 <= B^j`` for ``j = 1..steps``, ``B`` the cell's step bound.

    ``B`` is ``cell.bound.value`` (:class:`~symbolic.bounds.StepBound`).
    Checked numerically (:mod:`numeric.verify`) at random parameters of
    several scales, inputs and states.
    """

    cell: Cell
    steps: int = 1

    def __post_init__(self) -> None:
        if self.cell.bound is None:
            raise ValueError(f"cell {self.cell.name!r} declares no step bound to check")


@dataclass(frozen=True)
class ActivationBoundClaim(Claim):
    """``|f'(z)| <= gamma`` for all real z, with the supremum approached.

    Exactly: ``gamma`` is the largest absolute value of the range of ``f'``
    SymPy computes, and ``f'`` reaches it.  Numerically: on a dense grid.
    """

    activation: Activation
    gamma: sp.Expr

    def check_exact(self) -> Outcome:
        rng = self.activation.derivative_range
        inside = rng.is_subset(sp.Interval(-self.gamma, self.gamma))
        tight = sp.Max(sp.Abs(rng.inf), sp.Abs(rng.sup)) == self.gamma
        ok = bool(inside) and bool(tight)
        from .printers import text  # here: printers imports this module

        detail = f"range of f' is {text(rng)}, within [-gamma, gamma] and touching it"
        return Outcome(
            "exact",
            ok,
            detail if ok else f"range of f' is {text(rng)}, gamma = {text(self.gamma)} fails",
        )


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs rel rhs``, because ``reason``."""

    lhs: Any
    rel: str
    rhs: Any
    reason: str
    claim: Claim | None = None

    def __post_init__(self) -> None:
        if self.rel not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}, got {self.rel!r}")


@dataclass(frozen=True)
class Derivation:
    """A titled, ordered list of steps with an introduction and notes."""

    title: str
    steps: tuple[Step, ...]
    intro: str = ""
    notes: tuple[str, ...] = field(default=())


def verify_exact(derivation: Derivation) -> list[list[Outcome]]:
    """Run every exact check; one list of outcomes per step.

    Examples
    --------
    >>> x = sp.Symbol("x")
    >>> d = Derivation("t", (Step(x + x, "=", 2 * x, "algebra", EqualityClaim(x + x, 2 * x)),))
    >>> verify_exact(d)[0][0].passed
    True
    """
    results = []
    for step in derivation.steps:
        outcome = step.claim.check_exact() if step.claim else None
        results.append([outcome] if outcome else [])
    return results
