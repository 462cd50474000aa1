"""Verify a derivation: every exact check, then every numeric check.

The numeric checks evaluate the compiled expressions at random points:
Jacobian claims against central differences (:func:`numeric.check.check_jacobian`),
chains against central differences of the unrolled map, bounds at sampled
parameters of several scales (against the cell's declared step bound ``B``),
activation bounds on a dense grid, the loss gradient's sum formula against
PyTorch's automatic differentiation of the loss (central differences where
PyTorch is missing or has no such cell).
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
from symbolic.loss_gradient import (
    LossGradientClaim,
    expand_terms,
    immediate,
    immediate_partial,
    jacobian_chain,
    loss_slope,
)
from symbolic.printers import text
from symbolic.registry import family
from symbolic.regularizer import VectorJacobianClaim

from .bounds import evaluate_bound
from .check import RTOL, check_jacobian
from .compile import compile_cell
from .matrix_code import lambdify_matrix
from .regularizer import check_vector_jacobian
from .weights import random_params

__all__ = ["StepReport", "VerificationReport", "check_loss_gradient", "check_numeric", "verify"]

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


check_numeric.register(VectorJacobianClaim)(check_vector_jacobian)


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
    # The module itself, not "numpy": the string makes SymPy run ``from numpy
    # import *``, which imports numpy.testing and numpy.f2py (0.2 s).
    slope = sp.lambdify(z, claim.activation.derivative(z), [np])
    grid = np.linspace(-30.0, 30.0, 600_001)
    with np.errstate(over="ignore"):
        values = np.abs(np.broadcast_to(slope(grid), grid.shape))
    top, gamma = float(np.max(values)), float(claim.gamma)
    passed = bool(top <= gamma * (1 + RTOL) and top >= gamma * (1 - 1e-6))
    return Outcome(
        "numeric", passed, f"max |f'| on a grid of [-30, 30] is {top:.6g}, gamma = {gamma:.6g}"
    )


#: Largest ``sigma_max`` of the random weights of the loss-gradient check.
LOSS_WEIGHT_SCALE = 0.9
#: Draws tried until the loss depends on the weight (rectifiers may all be off).
LOSS_DRAWS = 8


@dataclass(frozen=True)
class _Sequence:
    """A random sequence through a cell: weights, inputs, targets and the states."""

    compiled: object
    params: dict
    xs: np.ndarray
    ys: np.ndarray
    hs: tuple[np.ndarray, ...]

    @classmethod
    def draw(cls, claim: LossGradientClaim, seed: int) -> _Sequence:
        """The first of :data:`LOSS_DRAWS` draws in which the loss depends on the weight.

        A draw where it does not (every rectifier off) would let any formula
        that gives zero pass; if every draw is such, the last is returned and
        the check fails on it.
        """
        sizes = {str(d): v for d, v in zip(claim.cell.dims, claim.sizes, strict=True)}
        compiled = compile_cell(claim.cell, **sizes)
        for attempt in range(LOSS_DRAWS):
            stream = seed * LOSS_DRAWS + attempt
            params = random_params(claim.cell, sizes, scale=LOSS_WEIGHT_SCALE, seed=stream)
            rng = np.random.default_rng(stream)
            xs = rng.standard_normal((claim.steps, compiled.input_size))
            ys = 0.5 * rng.standard_normal((claim.steps, compiled.state_size))
            hs = [0.5 * rng.standard_normal(compiled.state_size)]
            for x in xs:
                hs.append(compiled.step(hs[-1], x, params))
            seq = cls(compiled, params, xs, ys, tuple(hs))
            if seq.depends_on(claim.weight.name, rng):
                break
        return seq

    def loss(self, params: dict) -> float:
        """``E = sum_t 1/2 ||h_t - y_t||^2`` at other weights, from the same start."""
        h, total = self.hs[0], 0.0
        for x, y in zip(self.xs, self.ys, strict=True):
            h = self.compiled.step(h, x, params)
            total += 0.5 * float(np.sum((h - y) ** 2))
        return total

    def depends_on(self, name: str, rng: np.random.Generator) -> bool:
        """Whether the loss changes when the weight ``name`` moves a little."""
        w = self.params[name]
        moved = w + 1e-3 * np.linalg.norm(w) * rng.standard_normal(w.shape)
        return self.loss({**self.params, name: moved}) != self.loss(self.params)


def _sum_formula(claim: LossGradientClaim, seq: _Sequence) -> np.ndarray:
    """``claim.formula`` evaluated term by term: a row, one entry per weight (``vec W``)."""
    cell, compiled = claim.cell, seq.compiled
    sizes = dict(zip(cell.dims, claim.sizes, strict=True))
    # d+h_k/dW = slope (reads^T kron I), with slope and reads compiled at step k.
    part = immediate_partial(cell, claim.weight)
    local = lambdify_matrix(
        [*cell.state_symbols, *cell.input_symbols, *cell.params],
        [part.slope, part.reads],
        cell.definitions,
        sizes=sizes,
    )

    def value(factor) -> np.ndarray:
        args = [int(a) for a in factor.args]
        if factor.func is loss_slope:
            return (seq.hs[args[0]] - seq.ys[args[0] - 1])[None, :]
        if factor.func is jacobian_chain:
            if args[0] < args[1]:  # a state does not depend on later ones
                return np.zeros((compiled.state_size, compiled.state_size))
            product = np.eye(compiled.state_size)
            for time in range(args[1] + 1, args[0] + 1):
                product = (
                    compiled.jacobian(seq.hs[time - 1], seq.xs[time - 1], seq.params) @ product
                )
            return product
        if factor.func is immediate:
            x = seq.xs[args[0] - 1]
            inputs = (
                np.split(x, np.cumsum(compiled.input_sizes)[:-1]) if compiled.input_sizes else []
            )
            values = [seq.params[p.name] for p in cell.params]
            slope, reads = local(seq.hs[args[0] - 1], *inputs, *values)
            return slope @ np.kron(reads[None, :], np.eye(slope.shape[0]))
        raise ValueError(f"unknown factor {factor}")

    total = 0.0
    for term in expand_terms(claim.formula, claim.steps):
        product = value(term[0])
        for factor in term[1:]:
            product = product @ value(factor)
        total = total + product
    return np.asarray(total)[0]


@check_numeric.register
def _(claim: LossGradientClaim, seed: int = 0) -> Outcome:
    return check_loss_gradient(claim, seed)


def check_loss_gradient(claim: LossGradientClaim, seed: int = 0, torch: bool = False) -> Outcome:
    """The sum formula of ``claim`` against the loss's own gradient, numerically.

    The reference is central differences of the loss along random directions
    (what ``gradproof derive`` runs: it needs no PyTorch) or, with
    ``torch=True``, PyTorch's autograd through its own cell (to ``RTOL``);
    cells PyTorch lacks, or no PyTorch, fall back to central differences.
    """
    seq = _Sequence.draw(claim, seed)
    formula = _sum_formula(claim, seq)
    sizes = ", ".join(f"{d} = {v}" for d, v in zip(claim.cell.dims, claim.sizes, strict=True))
    terms = len(expand_terms(claim.formula, claim.steps))
    where = f"the sum of {terms} terms ({claim.steps} steps, {sizes})"
    name = claim.weight.name
    if not seq.depends_on(name, np.random.default_rng(seed)):
        detail = f"in {LOSS_DRAWS} random draws the loss never depended on {name}: no test"
        return Outcome("numeric", False, detail)
    why = ""
    if torch:
        try:
            reference = _torch_loss_gradient(claim, seq)
        except (ImportError, ValueError) as exc:  # no PyTorch, or PyTorch has no such cell
            why = " (PyTorch is not installed)" if isinstance(exc, ImportError) else ""
            why = why or " (no PyTorch cell)"
        else:
            error = float(np.linalg.norm(formula - reference) / np.linalg.norm(reference))
            detail = f"{where} against PyTorch's automatic differentiation: rel. error {error:.1e}"
            return Outcome("numeric", bool(error <= RTOL), detail)
    shape = seq.params[name].shape

    def loss(w: np.ndarray) -> np.ndarray:
        return np.array([seq.loss({**seq.params, name: w.reshape(shape, order="F")})])

    w = seq.params[name].reshape(-1, order="F")
    result = check_jacobian(loss, formula[None, :], w, seed=seed)
    return Outcome("numeric", result.passed, f"{where} against the loss's {result.detail}{why}")


def _torch_loss_gradient(claim: LossGradientClaim, seq: _Sequence) -> np.ndarray:
    """``dE/d vec(W)`` by PyTorch's own cell and autograd, ``E = sum_t 1/2 ||h_t - y_t||^2``.

    Raises ImportError without PyTorch, ValueError where PyTorch has no such
    cell or its weight layout does not place every parameter.
    """
    import torch

    from .torch_parity import torch_cell

    cell = claim.cell
    layout = family(cell.name).layout
    if layout is None or {p.name for p in cell.params} - set(layout.params):
        raise ValueError(f"PyTorch has no weight layout for {cell.title}")
    hidden, inputs = seq.compiled.state_size, seq.compiled.input_size
    rows = len(layout.gates) * hidden
    state = {
        "weight_hh": np.zeros((rows, hidden)),
        "weight_ih": np.zeros((rows, inputs)),
        "bias_ih": np.zeros(rows),
        "bias_hh": np.zeros(rows),
    }
    # Each parameter goes to the first slot its family lists; the others stay zero.
    slots = {}
    for name, ((tensor, gate), *_) in layout.params.items():
        start = layout.gates.index(gate) * hidden
        slots[name] = (tensor, slice(start, start + hidden))
        state[tensor][slots[name][1]] = seq.params[name]
    module = torch_cell(cell, state)
    h, loss = torch.as_tensor(seq.hs[0]), 0.0
    for x, y in zip(seq.xs, seq.ys, strict=True):
        h = module(torch.as_tensor(x), h)
        loss = loss + 0.5 * torch.sum((h - torch.as_tensor(y)) ** 2)
    loss.backward()
    tensor, block = slots[claim.weight.name]
    return getattr(module, tensor).grad[block].numpy().reshape(-1, order="F")
