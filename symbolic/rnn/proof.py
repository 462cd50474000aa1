"""The vanishing-gradient argument for the Elman RNN (Q1), step by step.

Four derivations, each step carrying the claim that checks it:

1. the Jacobian chain ``dh_T/dh_k`` as an ordered product of step Jacobians;
2. the norm bound ``||dh_T/dh_k||_2 <= (gamma sigma_max(W))^(T-k)`` with
   ``gamma = sup |f'|`` derived, and what it does (sufficient condition for
   vanishing) and does not (exploding) imply;
3. the linear case through the eigendecomposition, in closed form for a
   symbolic 2 x 2 matrix;
4. the counterexample showing that the spectral radius cannot replace the
   largest singular value for a nonlinear RNN (some copies of Pascanu et al.
   2013 state the condition with eigenvalues; that wording is false).
"""

from __future__ import annotations

import sympy as sp

from ..activations import Activation, activation, z
from ..derivation import (
    ActivationBoundClaim,
    BoundClaim,
    ChainClaim,
    Derivation,
    EqualityClaim,
    InductionClaim,
    JacobianClaim,
    Notation,
    Partial,
    Step,
)
from ..generic import norm
from ..jacobians import step_jacobian
from ..printers import latex, text
from .cell import elman_rnn

__all__ = [
    "rnn_derivations",
    "chain_derivation",
    "bound_derivation",
    "linear_derivation",
    "counterexample_derivation",
]

_T, _k = sp.symbols("T k", integer=True)


def chain_derivation(act: str | Activation | sp.Lambda = "tanh") -> Derivation:
    """Cell equations, the step Jacobian and the ordered chain.

    Examples
    --------
    >>> d = chain_derivation("tanh")
    >>> [s.rel for s in d.steps]
    [':=', ':=', '=', '=']
    """
    cell = elman_rnn(act)
    (a_eq, h_eq) = cell.equations
    h_prev, h = cell.state_symbols[0], cell.new_state_symbols[0]
    J = step_jacobian(cell)
    factor = {time: J.xreplace(cell.at(time)) for time in (_T, _T - 1, _k + 1)}
    product_latex = (
        r" \, ".join(latex(factor[time]) for time in (_T, _T - 1))
        + r" \cdots "
        + latex(factor[_k + 1])
    )
    product_text = (
        " ".join(text(factor[time]) for time in (_T, _T - 1)) + " ... " + text(factor[_k + 1])
    )
    h_T, h_k = cell.new_state[0].at(_T), cell.new_state[0].at(_k)
    return Derivation(
        title=f"Backpropagation through time in the {cell.title}",
        intro=(
            "Jacobians are in numerator layout: for $y \\in \\mathbb{R}^p$ and "
            "$x \\in \\mathbb{R}^q$, "
            "$\\partial y / \\partial x$ is $p \\times q$. The activation acts elementwise."
        ),
        steps=(
            Step(a_eq.lhs, ":=", a_eq.rhs, "pre-activation"),
            Step(h_eq.lhs, ":=", h_eq.rhs, "hidden state"),
            Step(
                Partial(h, h_prev),
                "=",
                J,
                "chain rule through the elementwise map",
                JacobianClaim(cell, h, h_prev, J),
            ),
            Step(
                Partial(h_T, h_k),
                "=",
                Notation(product_latex, product_text),
                "chain rule over time, latest step on the left",
                ChainClaim(cell),
            ),
        ),
    )


def bound_derivation(act: str | Activation | sp.Lambda = "tanh") -> Derivation:
    """``gamma``, the step and chain norm bounds, and the two conditions.

    Examples
    --------
    >>> bound_derivation("sigmoid").steps[1].rhs
    1/4
    """
    f = activation(act)
    cell = elman_rnn(f)
    gamma = f.gamma
    name = f.latex
    J_latex = latex(step_jacobian(cell))
    g, r = sp.Symbol("gamma"), sp.Symbol("r", positive=True)
    N = sp.Symbol("N", integer=True, positive=True)
    slope = f.derivative(z)
    chain_norm = norm(Notation(r"\frac{\partial h_{T}}{\partial h_{k}}", "dh_T/dh_k"))
    return Derivation(
        title=f"Norm bound for the {cell.title} (Pascanu, Mikolov and Bengio 2013)",
        intro=(
            "Here $\\lVert\\cdot\\rVert_2$ is the spectral norm and "
            "$\\sigma_{\\max}(W)$ the largest "
            "singular value of $W$. The bound uses singular values, not eigenvalues."
        ),
        steps=(
            Step(
                Notation(f"{name}'(z)", f"{f.name}'(z)"),
                "=",
                slope,
                "derivative of the activation"
                + ("; relu has no derivative at $z = 0$" if slope.has(sp.Heaviside) else ""),
                EqualityClaim(sp.diff(f.function(z), z), slope),
            ),
            Step(
                g,
                "=",
                gamma,
                r"$\gamma = \sup_z |f'(z)|$ over the range of $f'$ derived by SymPy",
                ActivationBoundClaim(f, gamma),
            ),
            Step(
                norm(Notation(J_latex, text(step_jacobian(cell)))),
                "<=",
                Notation(
                    r"\max_i |"
                    + name
                    + r"'(a_{t,i})| \, \lVert W \rVert_2 \le \gamma\, \sigma_{\max}(W)",
                    "max_i |f'(a_t,i)| ||W||_2 <= gamma sigma_max(W)",
                ),
                "submultiplicativity; the norm of a diagonal matrix is its largest entry",
                BoundClaim(cell, steps=1),
            ),
            Step(
                chain_norm,
                "<=",
                Notation(
                    r"\left(\gamma\, \sigma_{\max}(W)\right)^{T-k}", "(gamma sigma_max(W))^(T-k)"
                ),
                "one factor per step",
                BoundClaim(cell, steps=40),
            ),
            Step(
                Notation(
                    r"\gamma\, \sigma_{\max}(W) = \tfrac{1}{1+r} < 1",
                    "gamma sigma_max(W) = 1/(1+r) < 1",
                ),
                "=>",
                Notation(
                    r"\lim_{T \to \infty} "
                    + chain_norm.latex
                    + r" \le \lim_{N \to \infty} (1+r)^{-N} = 0",
                    "lim_{T→∞} ||dh_T/dh_k||_2 <= lim_{N→∞} (1+r)^(-N) = 0",
                ),
                "sufficient condition for vanishing",
                EqualityClaim(sp.Limit((1 / (1 + r)) ** N, N, sp.oo), 0),
            ),
            Step(
                Notation(
                    r"\limsup_{T\to\infty} " + chain_norm.latex + r" = \infty",
                    "limsup_{T→∞} ||dh_T/dh_k||_2 = ∞",
                ),
                "=>",
                Notation(r"\sigma_{\max}(W) > 1/\gamma", "sigma_max(W) > 1/gamma"),
                r"necessary for exploding: otherwise $(\gamma\,\sigma_{\max})^{T-k} \le 1$",
                BoundClaim(cell, steps=40),
            ),
        )
        + ((_saturation_step(N),) if f.name == "tanh" else ()),
        notes=(
            f"$\\gamma = {sp.latex(gamma, fold_short_frac=True)}$ for $f = {f.latex}$: "
            "derived from the range of $f'$, "
            "not tabulated.",
            "Pascanu et al. (2013), eq. 5, write $W_{rec}^\\top \\operatorname{diag}(\\sigma'(x_{i-1}))$; "
            "in numerator layout the factor is $W_{rec} \\operatorname{diag}(\\sigma'(x_{i-1}))$ for "
            "their parameterisation $x_t = W_{rec}\\,\\sigma(x_{t-1}) + W_{in} u_t + b$. "
            "Norm bounds are unaffected.",
        ),
    )


def _saturation_step(N: sp.Symbol) -> Step:
    """A saturated tanh unit with ``sigma_max(W) > 1/gamma`` whose gradient still vanishes."""
    saturated = sp.atanh(sp.sqrt(3) / 2)
    return Step(
        Notation(r"\tanh'(a) = \tfrac14,\ W = 2 \ (1 \times 1)", "tanh'(a) = 1/4, W = 2"),
        "=>",
        Notation(
            r"\lim_{N\to\infty} \left(\tanh'(a)\, W\right)^N = 0", "lim_{N→∞} (tanh'(a) W)^N = 0"
        ),
        r"not sufficient: $\sigma_{\max}(W) = 2 > 1/\gamma$, yet a saturated unit vanishes",
        EqualityClaim(sp.Limit((sp.diff(sp.tanh(z), z).subs(z, saturated) * 2) ** N, N, sp.oo), 0),
    )


def linear_derivation() -> Derivation:
    """The linear RNN: powers of ``W`` through its eigendecomposition (2 x 2).

    Examples
    --------
    >>> [s.claim.check_exact().passed for s in linear_derivation().steps if s.claim][:2]
    [True, True]
    """
    l1, l2 = sp.symbols("lambda_1 lambda_2")
    N = sp.Symbol("N", integer=True, positive=True)
    r = sp.Symbol("r", positive=True)
    P = sp.ImmutableMatrix([[1, 1], [-1, 1]])
    D = sp.diag(l1, l2)
    W = sp.ImmutableMatrix(P * D * P.inv())
    WN = sp.ImmutableMatrix(P * sp.diag(l1**N, l2**N) * P.inv())
    q2 = sp.ImmutableMatrix(P[:, 1])
    vanishing = {l1: 1 / (1 + r), l2: 1 / (2 + r)}
    exploding = WN.subs(l2, 1 + r) * q2
    lin = elman_rnn("identity")
    Wsym = lin.params[0]
    h_T, h_k = lin.new_state[0].at(_T), lin.new_state[0].at(_k)
    return Derivation(
        title="The linear case: eigenvalues decide",
        intro=(
            "With $f$ the identity, $\\partial h_T/\\partial h_k = W^{T-k}$. Diagonalise "
            "$W = P \\operatorname{diag}(\\lambda) P^{-1}$: the component along eigenvector $q_i$ "
            "scales as $\\lambda_i^{T-k}$. A symbolic $2 \\times 2$ example with $N = T-k$:"
        ),
        steps=(
            Step(
                Partial(h_T, h_k),
                "=",
                Notation(
                    r"W^{T-k} = P \operatorname{diag}(\lambda)^{T-k} P^{-1}",
                    "W^(T-k) = P diag(lambda)^(T-k) P^(-1)",
                ),
                "identity activation: every factor is W",
                ChainClaim(lin),
            ),
            Step(
                Wsym,
                ":=",
                W,
                r"eigenvalues $\lambda_1, \lambda_2$, eigenvectors $(1,-1)$ and $(1,1)$",
                EqualityClaim(W, P * D * P.inv()),
            ),
            Step(Notation("W^{N}", "W^N"), "=", WN, "induction on N", InductionClaim(W, WN, N)),
            Step(
                Notation(r"\lim_{N\to\infty} W^N", "lim_{N→∞} W^N"),
                "=",
                sp.ZeroMatrix(2, 2),
                r"$\rho(W) < 1$: e.g. $\lambda_1 = \tfrac{1}{1+r}$, $\lambda_2 = \tfrac{1}{2+r}$",
                EqualityClaim(
                    WN.subs(vanishing).applyfunc(lambda e: sp.Limit(e, N, sp.oo)), sp.zeros(2, 2)
                ),
            ),
            Step(
                Notation("W^N q_2", "W^N q_2"),
                "=",
                Notation(r"(1+r)^N q_2", "(1+r)^N q_2"),
                r"$\lambda_2 = 1 + r > 1$: the component along $q_2$ explodes",
                EqualityClaim(exploding, (1 + r) ** N * q2),
            ),
        ),
    )


def counterexample_derivation() -> Derivation:
    """Spectral radius 0, yet products of step Jacobians grow like ``2^N``.

    Examples
    --------
    >>> counterexample_derivation().steps[-1].claim.check_exact().passed
    True
    """
    W = sp.ImmutableMatrix([[8, 8], [-8, -8]])
    a = sp.ImmutableMatrix([0, sp.atanh(sp.Rational(1, 2))])
    slopes = sp.ImmutableMatrix([1 - sp.tanh(v) ** 2 for v in a])
    J = sp.ImmutableMatrix(sp.diag(*slopes) * W)
    N = sp.Symbol("N", integer=True, positive=True)
    rho = sp.Max(*[sp.Abs(ev) for ev in W.eigenvals()])
    sigma = sp.sqrt(sp.Max(*(W.T * W).eigenvals()))
    Jnorm = sp.sqrt(sp.Max(*(J.T * J).eigenvals()))
    return Derivation(
        title="Why the condition needs singular values, not eigenvalues",
        intro=(
            "Some copies of Pascanu et al. state the vanishing condition with the largest "
            "eigenvalue. "
            "For a nonlinear RNN that is false: a nilpotent $W$ has spectral radius $0$, "
            "yet products of step Jacobians $\\operatorname{diag}(\\tanh'(a_t))\\,W$ can grow."
        ),
        steps=(
            Step(sp.MatrixSymbol("W", 2, 2), ":=", W, "a nilpotent matrix"),
            Step(
                Notation(r"\rho(W)", "rho(W)"),
                "=",
                0,
                r"$W^2 = 0$, so every eigenvalue is $0$",
                EqualityClaim(rho, 0),
            ),
            Step(
                Notation(r"\sigma_{\max}(W)", "sigma_max(W)"),
                "=",
                16,
                r"$W^\top W$ has eigenvalues $0, 512$",
                EqualityClaim(sigma, 16),
            ),
            Step(
                Notation(r"J = \operatorname{diag}(\tanh'(a))\, W", "J = diag(tanh'(a)) W"),
                "=",
                J,
                r"at $a = (0, \operatorname{artanh}(1/2))$: $\tanh'(a) = (1, 3/4)$",
                EqualityClaim(J, sp.diag(1, sp.Rational(3, 4)) * W),
            ),
            Step(
                Notation("J^2", "J^2"),
                "=",
                Notation("2J", "2J"),
                "trace 2, rank 1",
                EqualityClaim(J * J, 2 * J),
            ),
            Step(
                Notation("J^N", "J^N"),
                "=",
                Notation(r"2^{N-1} J", "2^(N - 1) J"),
                "induction on N",
                InductionClaim(J, sp.ImmutableMatrix(2 ** (N - 1) * J), N),
            ),
            Step(
                norm(Notation("J^N", "J^N")),
                "=",
                2 ** (N - 1) * Jnorm,
                r"grows without bound although $\rho(W) = 0$",
                EqualityClaim(
                    sp.sqrt(sp.Max(*((2 ** (N - 1) * J).T * (2 ** (N - 1) * J)).eigenvals())),
                    2 ** (N - 1) * Jnorm,
                ),
            ),
        ),
        notes=(
            "$\\gamma\\,\\sigma_{\\max}(W) = 16 > 1$, so the norm bound allows this growth: "
            "the bound is consistent.",
        ),
    )


def rnn_derivations(act: str | Activation | sp.Lambda = "tanh") -> tuple[Derivation, ...]:
    """The whole Q1 argument for an activation: chain, bound, loss gradient, linear case,
    counterexample.

    Examples
    --------
    >>> [d.title.split()[0] for d in rnn_derivations("tanh")]
    ['Backpropagation', 'Norm', 'From', 'The', 'Why']
    """
    from ..loss_gradient import loss_gradient_derivation  # here: it imports this package

    return (
        chain_derivation(act),
        bound_derivation(act),
        loss_gradient_derivation(act),
        linear_derivation(),
        counterexample_derivation(),
    )
