"""Verify a derivation: every exact check, then every numeric check.

The numeric checks evaluate the compiled expressions at random points:
Jacobian claims against central differences (:func:`numeric.check.check_jacobian`),
chains against central differences of the unrolled map, bounds at sampled
parameters of several scales (against the cell's declared step bound ``B``),
activation bounds on a dense grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch

import numpy as np
import sympy as sp

from symbolic.bounds import MaxAbs, SigmaMax
from symbolic.derivation import (
    ActivationBoundClaim,
    BoundClaim,
    ChainClaim,
    Claim,
    Derivation,
    JacobianClaim,
    Outcome,
)
from symbolic.printers import text

from .bounds import evaluate_bound
from .check import RTOL, check_jacobian
from .compile import compile_cell, lambdify_matrix

__all__ = ["StepReport", "VerificationReport", "verify", "check_numeric"]

#: Size every size symbol takes in numeric checks (larger than the exact ones).
NUMERIC_SIZE = 5
#: Values of the step bound B at which bounds are sampled: below, near and above 1.
BOUND_SCALES = (0.5, 1.0, 1.5, 3.0)


@dataclass(frozen=True)
class StepReport:
    """The outcomes of every check of one step."""

    outcomes: tuple[Outcome, ...]

    @property
    def checked(self) -> bool:
        """Whether the step carries any check (definitions carry none)."""
        return bool(self.outcomes)

    @property
    def passed(self) -> bool:
        """Whether every check of the step passed."""
        return all(o.passed for o in self.outcomes)

    @property
    def mark(self) -> str:
        """A short verification mark for renderings, e.g. ``"exact, numeric"``."""
        if not self.outcomes:
            return ""
        kinds = ", ".join(o.kind for o in self.outcomes)
        return f"checked: {kinds}" if self.passed else f"FAILED: {kinds}"


@dataclass(frozen=True)
class VerificationReport:
    """Per-step results of :func:`verify`."""

    derivation: Derivation
    steps: tuple[StepReport, ...]

    @property
    def passed(self) -> bool:
        """Whether every check of every step passed."""
        return all(s.passed for s in self.steps)

    @property
    def marks(self) -> list[str]:
        """One mark per step, for :func:`symbolic.latex.render`."""
        return [s.mark for s in self.steps]

    def failures(self) -> list[str]:
        """One line per failed check: step number, kind and detail."""
        return [
            f"step {i}: {o.kind} check failed: {o.detail}"
            for i, s in enumerate(self.steps, 1)
            for o in s.outcomes
            if not o.passed
        ]


def verify(derivation: Derivation, seed: int = 0) -> VerificationReport:
    """Run every exact and numeric check of every step.

    Examples
    --------
    >>> from symbolic.rnn.proof import chain_derivation
    >>> report = verify(chain_derivation("tanh"))
    >>> report.passed, report.marks[2]
    (True, 'checked: exact, numeric')
    """
    steps = []
    for step in derivation.steps:
        outcomes = []
        if step.claim is not None:
            exact = _guarded("exact", step.claim.check_exact)
            numeric = _guarded("numeric", lambda claim=step.claim: check_numeric(claim, seed))
            outcomes = [o for o in (exact, numeric) if o is not None]
        steps.append(StepReport(tuple(outcomes)))
    return VerificationReport(derivation, tuple(steps))


def _guarded(kind: str, check) -> Outcome | None:
    """Run one check; a check that raises has failed (a step is never passed by a crash)."""
    try:
        return check()
    except Exception as exc:  # any failure of a check fails its step
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return Outcome(kind, False, f"the check raised {type(exc).__name__}: {reason}")


def _random_point(cell, rng):
    """Random state, input and parameters for every symbol of ``cell``.

    Matrices are scaled by ``0.8 / sqrt(columns)`` so that long unrolled maps
    neither saturate nor explode, where central differences lose accuracy.
    Scalar parameters are documented as positive: uniform in ``[0.1, 1)``.
    Vector-vs-matrix is read off the symbolic shape, as the compiler does.
    """
    subs = {d: NUMERIC_SIZE for d in cell.dims}
    values = {}
    for sym in cell.state_symbols + cell.input_symbols + cell.params:
        if not isinstance(sym, sp.MatrixSymbol):
            values[sym] = float(rng.uniform(0.1, 1.0))
            continue
        rows, cols = (int(sp.sympify(d).xreplace(subs)) for d in sym.shape)
        if sym.shape[1] == 1:
            values[sym] = 0.5 * rng.standard_normal(rows)
        else:
            values[sym] = 0.8 / np.sqrt(cols) * rng.standard_normal((rows, cols))
    return subs, values


@singledispatch
def check_numeric(claim: Claim, seed: int = 0) -> Outcome | None:
    """The numeric check of a claim, or None when it has none."""
    return None


@check_numeric.register
def _(claim: JacobianClaim, seed: int = 0) -> Outcome:
    cell = claim.cell
    rng = np.random.default_rng(seed)
    subs, values = _random_point(cell, rng)
    # Compile the templates with sizes, as compile_cell does (1 x 1 stays a matrix).
    f = lambdify_matrix(list(values), [claim.out, claim.expr], cell.definitions, sizes=subs)
    position = list(values).index(claim.wrt)
    point = list(values.values())

    def evaluate(v, which):
        return f(*point[:position], v, *point[position + 1 :])[which]

    result = check_jacobian(
        lambda v: evaluate(v, 0), lambda v: evaluate(v, 1), point[position], seed=seed
    )
    return Outcome("numeric", result.passed, f"size {NUMERIC_SIZE}: {result.detail}")


@check_numeric.register
def _(claim: ChainClaim, seed: int = 0) -> Outcome:
    cell = claim.cell
    rng = np.random.default_rng(seed)
    subs, values = _random_point(cell, rng)
    compiled = compile_cell(cell, **{str(d): v for d, v in subs.items()})
    params = {p.name: values[p] for p in cell.params}
    # x concatenates every input: (steps, 0) for a cell without inputs.
    xs = rng.standard_normal((claim.steps, compiled.input_size))
    s0 = rng.standard_normal(compiled.state_size) * 0.5

    def unrolled(s):
        for x in xs:
            s = compiled.step(s, x, params)
        return s

    def product(s):
        P = np.eye(compiled.state_size)
        for x in xs:
            P = compiled.jacobian(s, x, params) @ P
            s = compiled.step(s, x, params)
        return P

    result = check_jacobian(unrolled, product, s0, seed=seed)
    return Outcome(
        "numeric", result.passed, f"{claim.steps} steps, size {NUMERIC_SIZE}: {result.detail}"
    )


@check_numeric.register
def _(claim: BoundClaim, seed: int = 0) -> Outcome:
    cell = claim.cell
    # The weights inside the bound's norms get rescaled; B is homogeneous in them
    # for most cells (gamma sigma_max(W), gamma max|u|), so B lands on each scale.
    norms = cell.bound.value.atoms(SigmaMax, MaxAbs)
    weights = [p for p in cell.params if any(f.has(p) for f in norms)]
    rng = np.random.default_rng(seed)
    worst = -np.inf
    for scale in BOUND_SCALES:
        subs, values = _random_point(cell, rng)
        compiled = compile_cell(cell, **{str(d): v for d, v in subs.items()})
        # Small weights keep tanh near its linear regime, where the bound is nearly tight.
        params = {p.name: values[p] for p in cell.params}
        factor = scale / evaluate_bound(cell, params).value * 0.999
        params.update(
            {p.name: values[p] * factor for p in weights if isinstance(p, sp.MatrixSymbol)}
        )
        B = evaluate_bound(cell, params).value
        s = rng.standard_normal(compiled.state_size) * 0.01
        log_norm, P = 0.0, np.eye(compiled.state_size)
        for j in range(1, claim.steps + 1):
            x = rng.standard_normal(compiled.input_size) * 0.01
            P = compiled.jacobian(s, x, params) @ P
            s = compiled.step(s, x, params)
            size = np.linalg.norm(P, 2)
            if size == 0.0:  # every unit switched off (relu): the chain is 0 from here on
                break
            log_norm += np.log(size)
            P /= size
            worst = max(worst, log_norm - j * np.log(B))
    passed = bool(worst <= np.log1p(RTOL * 10))
    detail = (
        f"{len(BOUND_SCALES)} random weights, those in B = {text(cell.bound.value)} scaled to "
        f"B = {BOUND_SCALES[0]}..{BOUND_SCALES[-1]} where B is homogeneous in them, "
        f"up to {claim.steps} steps: largest log(norm/B^j) = {worst:.2e}"
    )
    return Outcome("numeric", passed, detail)


@check_numeric.register
def _(claim: ActivationBoundClaim, seed: int = 0) -> Outcome:
    z = claim.activation.function.variables[0]
    slope = sp.lambdify(z, claim.activation.derivative(z), "numpy")
    grid = np.linspace(-30.0, 30.0, 600_001)
    with np.errstate(over="ignore"):
        values = np.abs(np.broadcast_to(slope(grid), grid.shape))
    top, gamma = float(np.max(values)), float(claim.gamma)
    passed = bool(top <= gamma * (1 + RTOL) and top >= gamma * (1 - 1e-6))
    return Outcome(
        "numeric", passed, f"max |f'| on a grid of [-30, 30] is {top:.6g}, gamma = {gamma:.6g}"
    )
