"""From the Jacobian chain to the gradient of the loss (Pascanu, Mikolov and Bengio 2013).

For a loss summed over time, ``E = sum_t E_t(h_t)``, the gradient with
respect to a weight ``W`` of a cell with one state vector is (their eqs. 3-5)

    dE/dW = sum_{t=1}^T sum_{k=1}^t dE_t/dh_t . dh_t/dh_k . d+h_k/dW,

where ``dh_t/dh_k`` is the ordered product of step Jacobians (the identity
when ``k = t``) and ``d+h_k/dW`` the *immediate* partial derivative: the
derivative of ``h_k`` with respect to ``W`` with ``h_{k-1}`` held fixed.
``W`` is flattened column by column (``vec W``), so every term is a product
of matrices in numerator layout and ``dE/dW`` is a row.

The formula is data: a SymPy sum over the noncommutative factors
:data:`loss_slope`, :data:`jacobian_chain` and :data:`immediate`, which a
:class:`LossGradientClaim` checks exactly here (three steps, against SymPy's
derivative of the unrolled loss) and numerically in :mod:`numeric.verify`
(against PyTorch's automatic differentiation, or central differences where
PyTorch is missing).  A wrong formula, say one without the chain, is just
another sum, and fails both checks.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from .activations import activation
from .cells import Cell, t
from .derivation import (
    BoundClaim,
    ChainClaim,
    Claim,
    Derivation,
    EqualityClaim,
    Notation,
    Outcome,
    Step,
    horizon_definitions,
)
from .explicit import entries, exactly_equal, explicit
from .generic import norm
from .jacobians import chain, derivative, step_jacobian
from .printers import latex, text
from .rnn.cell import elman_rnn

__all__ = [
    "SUM_FORMULA",
    "ImmediatePartial",
    "LossGradientClaim",
    "chain_product",
    "expand_terms",
    "formula_notation",
    "gradient_step",
    "immediate",
    "immediate_partial",
    "jacobian_chain",
    "loss_gradient_derivation",
    "loss_slope",
    "term_bound_step",
]

#: The time of the loss term, the time ``W`` acts at, and the horizon.
k, T = sp.symbols("k T", integer=True)

#: ``dE_t/dh_t`` at time ``t``: a row, ``(h_t - y_t)^T`` for the squared loss.
loss_slope = sp.Function("loss_slope", commutative=False)
#: ``dh_t/dh_k``: the ordered product ``J_t ... J_{k+1}``, the identity when ``k = t``
#: (and zero when ``k > t``: a state does not depend on later ones).
jacobian_chain = sp.Function("jacobian_chain", commutative=False)
#: ``d+h_k/dW``: the derivative of ``h_k`` by ``vec W`` with ``h_{k-1}`` held fixed.
immediate = sp.Function("immediate", commutative=False)

_FACTORS = (loss_slope, jacobian_chain, immediate)

#: Pascanu, Mikolov and Bengio (2013), eqs. 3-5: one term per pair ``k <= t``.
SUM_FORMULA = sp.Sum(loss_slope(t) * jacobian_chain(t, k) * immediate(k), (k, 1, t), (t, 1, T))


def expand_terms(formula: sp.Expr, steps: int) -> tuple[tuple[sp.Expr, ...], ...]:
    """The terms of ``formula`` at horizon ``T = steps``, each as its ordered factors.

    Sums are unrolled outermost first (an inner limit may use an outer
    index); a term is a product of the factors :data:`loss_slope`,
    :data:`jacobian_chain` and :data:`immediate` with integer arguments.

    Examples
    --------
    >>> [len(term) for term in expand_terms(SUM_FORMULA, 3)]
    [3, 3, 3, 3, 3, 3]
    >>> expand_terms(SUM_FORMULA, 2)[1]
    (loss_slope(2), jacobian_chain(2, 1), immediate(1))
    """
    return tuple(_expand(sp.sympify(formula).xreplace({T: sp.Integer(steps)})))


def _expand(expr: sp.Expr) -> list[tuple[sp.Expr, ...]]:
    if isinstance(expr, sp.Sum):
        *inner_limits, (var, lo, hi) = expr.limits
        body = sp.Sum(expr.function, *inner_limits) if inner_limits else expr.function
        if not (lo.is_Integer and hi.is_Integer):
            raise ValueError(f"the limits of {var} are not integers: {lo}, {hi}")
        return [
            term
            for value in range(int(lo), int(hi) + 1)
            for term in _expand(body.xreplace({var: value}))
        ]
    if isinstance(expr, sp.Add):
        return [term for arg in expr.args for term in _expand(arg)]
    factors = expr.args if isinstance(expr, sp.Mul) else (expr,)
    for factor in factors:
        if factor.func not in _FACTORS or not all(a.is_Integer for a in factor.args):
            raise ValueError(
                f"a term may only multiply loss_slope, jacobian_chain, immediate: {expr}"
            )
    return [tuple(factors)]


@dataclass(frozen=True)
class ImmediatePartial:
    """``d+h_t/d vec(W) = slope (reads^T kron I)``: how ``W`` acts within one step.

    ``W`` enters one pre-activation ``pre`` as ``W reads``; ``slope`` is
    ``dh_t/d pre`` (``diag(f'(a_t))`` for the Elman RNN), and
    ``d(W v) = (v^T kron I) d vec(W)`` for ``vec`` stacking columns.
    """

    weight: sp.MatrixSymbol
    pre: sp.MatrixSymbol
    reads: sp.MatrixSymbol
    slope: sp.MatrixExpr


def immediate_partial(cell: Cell, weight: sp.MatrixSymbol) -> ImmediatePartial:
    """Where ``weight`` acts in a one-state cell, and the slope of the state there.

    Raises ``ValueError`` unless ``weight`` enters exactly one equation, once,
    as ``weight * v`` with ``v`` a vector.

    Examples
    --------
    >>> rnn = elman_rnn("tanh")
    >>> p = immediate_partial(rnn, rnn.params[0])
    >>> p.pre, p.reads, text(p.slope)
    (a_{t}, h_{t-1}, "diag(tanh'(a_t))")
    """
    if len(cell.state) != 1:
        raise ValueError(f"cell {cell.name!r} has {len(cell.state)} state vectors; need one")
    if weight not in cell.params:
        raise ValueError(f"{weight} is not a parameter of cell {cell.name!r}")
    uses = [
        (eq.lhs, term)
        for eq in cell.equations
        for term in sp.Add.make_args(eq.rhs)
        if term.has(weight)
    ]
    ok = len(uses) == 1 and isinstance(uses[0][1], sp.MatMul) and uses[0][1].args[:-1] == (weight,)
    if not ok or uses[0][1].args[-1].shape[1] != 1:
        raise ValueError(
            f"{weight} must enter cell {cell.name!r} exactly once, as {weight} times a vector"
        )
    pre, term = uses[0]
    new = cell.new_state_symbols[0]
    return ImmediatePartial(weight, pre, term.args[-1], derivative(new, pre, cell.definitions))


def _vec(matrix: sp.MatrixBase) -> list[sp.Expr]:
    """Entries of ``matrix`` column by column (``vec``)."""
    return [matrix[i, j] for j in range(matrix.cols) for i in range(matrix.rows)]


@dataclass(frozen=True)
class LossGradientClaim(Claim):
    """``dE/dW`` equals ``formula`` for ``E = sum_t 1/2 ||h_t - y_t||^2``.

    ``formula`` is a sum over the factors :data:`loss_slope` (here
    ``(h_t - y_t)^T``), :data:`jacobian_chain` and :data:`immediate` (see
    :func:`expand_terms`); :data:`SUM_FORMULA` by default.  ``W`` is
    flattened column by column.

    Exactly: over ``exact_steps`` steps at sizes ``exact_sizes`` (one per
    size symbol of the cell, in ``cell.dims`` order), against the
    derivative of the unrolled loss by every entry of ``W``,
    ``sum_t (h_t - y_t)^T dh_t/dW`` with ``dh_t/dW`` SymPy's derivative of the
    unrolled state (never the chain of step Jacobians); the immediate
    partial is SymPy's Jacobian of one step with ``h_{k-1}`` free.
    Numerically (:mod:`numeric.verify`): over ``steps`` steps at ``sizes``,
    against PyTorch's automatic differentiation of the loss, or central
    differences where PyTorch has no such cell or is not installed.
    """

    cell: Cell
    weight: sp.MatrixSymbol
    formula: sp.Expr = SUM_FORMULA
    steps: int = 6
    sizes: tuple[int, ...] = (3, 2)
    exact_steps: int = 3
    exact_sizes: tuple[int, ...] = (2, 1)

    def __post_init__(self) -> None:
        immediate_partial(self.cell, self.weight)  # refuses a weight it cannot handle
        for sizes in (self.sizes, self.exact_sizes):
            if len(sizes) != len(self.cell.dims):
                names = ", ".join(map(str, self.cell.dims))
                raise ValueError(f"give one size per size symbol ({names}), got {sizes}")

    def check_exact(self) -> Outcome:
        cell, steps = self.cell, self.exact_steps
        subs = dict(zip(self.cell.dims, self.exact_sizes, strict=True))
        defs = horizon_definitions(cell, steps, 0)
        state = cell.new_state[0]
        hs = {time: explicit(state.at(time), subs, defs) for time in range(steps + 1)}
        ys = {
            time: entries(sp.MatrixSymbol(f"y_{{{time}}}", state.rows, 1), subs)
            for time in range(1, steps + 1)
        }
        weights = _vec(entries(self.weight, subs))
        # d/dw of 1/2 ||h_t - y_t||^2 is (h_t - y_t)^T dh_t/dw, dh_t/dw SymPy's
        # derivative of the unrolled h_t: cheaper than differentiating the squares.
        reference = sum(
            ((hs[time] - ys[time]).T * hs[time].jacobian(weights) for time in ys),
            sp.zeros(1, len(weights)),
        )

        @functools.cache
        def value(factor: sp.Expr) -> sp.MatrixBase:
            args = [int(a) for a in factor.args]
            if factor.func is loss_slope:
                return (hs[args[0]] - ys[args[0]]).T
            if factor.func is jacobian_chain:
                later, earlier = args
                if later < earlier:  # h_later does not depend on a later state
                    return sp.zeros(hs[later].rows, hs[earlier].rows)
                if later == earlier:
                    return sp.eye(hs[later].rows)
                return explicit(chain(cell, later, earlier).product(), subs, defs)
            # One step with h_{k-1} free, differentiated by W, then h_{k-1} put back.
            (time,) = args
            one_step = explicit(state.at(time), subs, horizon_definitions(cell, time, time - 1))
            free = entries(state.at(time - 1), subs)
            jac = one_step.jacobian(weights)
            return jac.xreplace(dict(zip(free, hs[time - 1], strict=True)))

        terms = expand_terms(self.formula, steps)
        formula = sp.zeros(*reference.shape)
        for term in terms:
            product = value(term[0])
            for factor in term[1:]:
                product = product * value(factor)
            formula += product
        ok = exactly_equal(sp.Matrix(formula), reference)
        sizes = ", ".join(f"{d} = {v}" for d, v in subs.items())
        detail = (
            f"the sum of {len(terms)} terms ({steps} steps, {sizes}) "
            + ("equals" if ok else "differs from")
            + " the derivative of the unrolled loss by every weight"
        )
        return Outcome("exact", ok, detail)


def formula_notation(formula: sp.Expr = SUM_FORMULA, weight: str = "W") -> Notation:
    """The sum formula as it is written, in LaTeX and text.

    Examples
    --------
    >>> print(formula_notation().text)
    sum_{t=1}^T sum_{k=1}^t (dE_t/dh_t) (dh_t/dh_k) (d^+h_k/dW)
    """
    sums_latex, sums_text, body = [], [], formula
    while isinstance(body, sp.Sum):
        for var, lo, hi in reversed(body.limits):
            sums_latex.append(rf"\sum_{{{sp.latex(var)}={sp.latex(lo)}}}^{{{sp.latex(hi)}}}")
            sums_text.append(f"sum_{{{var}={lo}}}^{hi}")
        body = body.function
    factors = body.args if isinstance(body, sp.Mul) else (body,)

    def sub(i: sp.Expr) -> str:
        return sp.latex(i)

    latex_of = {
        loss_slope: lambda a: rf"\frac{{\partial E_{{{sub(a)}}}}}{{\partial h_{{{sub(a)}}}}}",
        jacobian_chain: lambda a, b: (
            rf"\frac{{\partial h_{{{sub(a)}}}}}{{\partial h_{{{sub(b)}}}}}"
        ),
        immediate: lambda a: rf"\frac{{\partial^{{+}} h_{{{sub(a)}}}}}{{\partial {weight}}}",
    }
    text_of = {
        loss_slope: lambda a: f"(dE_{a}/dh_{a})",
        jacobian_chain: lambda a, b: f"(dh_{a}/dh_{b})",
        immediate: lambda a: f"(d^+h_{a}/d{weight})",
    }
    return Notation(
        " ".join(sums_latex + [latex_of[f.func](*f.args) for f in factors]),
        " ".join(sums_text + [text_of[f.func](*f.args) for f in factors]),
    )


def chain_product(cell: Cell, later: sp.Expr = t, earlier: sp.Expr = k) -> Notation:
    """``J_later J_{later-1} ... J_{earlier+1}`` written out, latest on the left.

    Examples
    --------
    >>> chain_product(elman_rnn("tanh")).text
    "diag(tanh'(a_t)) W diag(tanh'(a_{t-1})) W ... diag(tanh'(a_{k+1})) W"
    """
    J = step_jacobian(cell)
    times = (later, later - 1, earlier + 1)
    factor = [J.xreplace(cell.at(time)) for time in times]
    return Notation(
        rf"{latex(factor[0])} \, {latex(factor[1])} \cdots {latex(factor[2])}",
        f"{text(factor[0])} {text(factor[1])} ... {text(factor[2])}",
    )


def gradient_step(cell: Cell) -> Step:
    """``dE/dW`` as the double sum over ``k <= t``, with its claim.

    Examples
    --------
    >>> gradient_step(elman_rnn("tanh")).lhs.text
    'dE/dW'
    """
    W = immediate_partial(cell, cell.params[0]).weight
    return Step(
        Notation(rf"\frac{{\partial E}}{{\partial {latex(W)}}}", f"dE/d{text(W)}"),
        "=",
        formula_notation(SUM_FORMULA, latex(W)),
        "chain rule: $W$ acts at every step $k \\le t$, and its effect at step $k$ reaches "
        "$E_t$ through every state from $h_k$ to $h_t$ (Pascanu, Mikolov and Bengio 2013, "
        "eqs. 3-5)",
        LossGradientClaim(cell, W),
    )


_TERM = (
    r"\frac{\partial E_{t}}{\partial h_{t}} \frac{\partial h_{t}}{\partial h_{k}} "
    r"\frac{\partial^{+} h_{k}}{\partial W}",
    "(dE_t/dh_t) (dh_t/dh_k) (d^+h_k/dW)",
)


def term_bound_step(cell: Cell) -> Step:
    """The bound on one term of the sum: ``(gamma sigma_max(W))^(t-k)`` between the ends.

    Examples
    --------
    >>> term_bound_step(elman_rnn("tanh")).rhs.text
    '||dE_t/dh_t||_2 (gamma sigma_max(W))^(t-k) ||d^+h_k/dW||_2'
    """
    return Step(
        norm(Notation(*_TERM)),
        "<=",
        Notation(
            r"\left\lVert \frac{\partial E_{t}}{\partial h_{t}} \right\rVert_2 "
            r"\left(\gamma\, \sigma_{\max}(W)\right)^{t-k} "
            r"\left\lVert \frac{\partial^{+} h_{k}}{\partial W} \right\rVert_2",
            "||dE_t/dh_t||_2 (gamma sigma_max(W))^(t-k) ||d^+h_k/dW||_2",
        ),
        r"submultiplicativity, and one factor $\gamma\,\sigma_{\max}(W)$ per step of the chain",
        BoundClaim(cell, steps=40),
    )


def _immediate_step(act: str) -> Step:
    """``d+h_k/dW_ij = f'(a_{k,i}) h_{k-1,j} e_i``, checked exactly at hidden size 2."""
    f, cell = activation(act), elman_rnn(act)
    part = immediate_partial(cell, cell.params[0])
    subs, defs = cell.with_sizes(n=2, m=1), cell.definitions
    weights = _vec(entries(part.weight, subs))
    reference = explicit(cell.new_state_symbols[0], subs, defs).jacobian(weights)
    structured = explicit(part.slope, subs, defs) * sp.kronecker_product(
        explicit(part.reads, subs, defs).T, sp.eye(2)
    )
    return Step(
        Notation(r"\frac{\partial^{+} h_{k}}{\partial W_{ij}}", "d^+h_k/dW_ij"),
        "=",
        Notation(
            rf"{f.latex}'(a_{{k,i}})\, h_{{k-1,j}}\, e_{{i}}",
            f"{f.name}'(a_{{k,i}}) h_{{k-1,j}} e_i",
        ),
        "the immediate partial derivative: $W$ enters step $k$ only through "
        "$a_k = W h_{k-1} + U x_k + b$, with $h_{k-1}$ held fixed; "
        "$e_i$ is the $i$-th unit vector",
        EqualityClaim(sp.ImmutableMatrix(reference), sp.ImmutableMatrix(structured)),
    )


def _sizes(cell: Cell, sizes: tuple[int, ...]) -> str:
    words = {"n": "hidden size", "m": "input size"}
    return ", ".join(
        f"{words.get(str(d), str(d))} {v}" for d, v in zip(cell.dims, sizes, strict=True)
    )


@functools.lru_cache(maxsize=8)
def loss_gradient_derivation(act: str = "tanh") -> Derivation:
    """The gradient of a loss summed over time, term by term, and why long-range terms vanish.

    Examples
    --------
    >>> d = loss_gradient_derivation("tanh")
    >>> [s.rel for s in d.steps]
    [':=', '=', '=', '=', '<=', '=>']
    >>> type(d.steps[2].claim).__name__
    'LossGradientClaim'
    """
    cell = elman_rnn(act)
    r = sp.Symbol("r", positive=True)
    N = sp.Symbol("N", integer=True, positive=True)
    term = norm(Notation(*_TERM))
    gradient = gradient_step(cell)
    claim = gradient.claim
    return Derivation(
        title="From the Jacobian chain to the gradient of the loss "
        "(Pascanu, Mikolov and Bengio 2013)",
        intro=(
            "The loss of a sequence is a sum of per-step losses $E_t$, each a function of "
            "$h_t$. The weight $W$ acts at every step, so the chain rule gives one term per pair "
            "of times $k \\le t$: the effect of $W$ at step $k$ on the loss at step $t$. "
            "Here $\\partial^+h_k/\\partial W$ is the immediate partial derivative: the "
            "derivative of $h_k$ with respect to $W$ with $h_{k-1}$ held fixed, that is, the "
            "effect of $W$ through step $k$ alone. $W$ is flattened column by column, so each "
            "term is a product of matrices (numerator layout: one row per entry of the "
            "differentiated vector) and $\\partial E/\\partial W$ is a row with one entry "
            "per weight."
        ),
        steps=(
            Step(
                Notation(r"E", "E"),
                ":=",
                Notation(r"\sum_{t=1}^{T} E_{t}(h_{t})", "sum_{t=1}^T E_t(h_t)"),
                "the loss of a sequence: a sum of per-step losses",
            ),
            _immediate_step(act),
            gradient,
            Step(
                Notation(r"\frac{\partial h_{t}}{\partial h_{k}}", "dh_t/dh_k"),
                "=",
                chain_product(cell),
                "each term carries the Jacobian chain, latest step on the left "
                "(the identity when $k = t$)",
                ChainClaim(cell),
            ),
            term_bound_step(cell),
            Step(
                Notation(
                    r"\gamma\, \sigma_{\max}(W) = \tfrac{1}{1+r} < 1",
                    "gamma sigma_max(W) = 1/(1+r) < 1",
                ),
                "=>",
                Notation(
                    term.latex + r" \le (1+r)^{-(t-k)} \, C_{t,k} \to 0",
                    f"{term.text} <= (1+r)^-(t-k) C_{{t,k}} -> 0",
                ),
                "long-range terms (large $t - k$) vanish geometrically, so the gradient is "
                "dominated by short-range terms; here $C_{t,k} = \\lVert \\partial E_t/"
                "\\partial h_t \\rVert_2 \\lVert \\partial^+h_k/\\partial W \\rVert_2$",
                EqualityClaim(sp.Limit((1 / (1 + r)) ** N, N, sp.oo), 0),
            ),
        ),
        notes=(
            "Pascanu, Mikolov and Bengio (2013) write the state as $x_t$; their eq. 3 sums the "
            "per-step gradients, eq. 4 splits each into the terms above, eq. 5 writes "
            "$\\partial h_t/\\partial h_k$ as the product of step Jacobians.",
            f"The sum is checked exactly for {claim.exact_steps} steps "
            f"({_sizes(cell, claim.exact_sizes)}) against symbolic differentiation of the "
            "unrolled loss $E = \\sum_t \\lVert h_t - y_t \\rVert^2 / 2$ with targets $y_t$, "
            f"and numerically for {claim.steps} steps ({_sizes(cell, claim.sizes)}) at random "
            "weights, inputs and targets against automatic differentiation of the same loss "
            "by PyTorch.",
            "Vanishing long-range terms do not make the gradient small: it is dominated by the "
            "terms with $t - k$ small, so it says almost nothing about how $W$ should change to "
            "link an input to a loss many steps later.",
        ),
    )
