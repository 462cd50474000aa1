"""The derivation every cell gets: equations, step Jacobian, chain, and its bound.

:func:`cell_derivations` needs nothing but a :class:`~symbolic.cells.Cell`:

1. the cell's equations, then every block ``d new_i / d old_j`` of the step
   Jacobian in closed form (each checked exact against SymPy's elementwise
   ``Matrix.jacobian`` at small sizes, and numerically), then the chain
   ``ds_T/ds_k = J_T ... J_{k+1}`` (checked exact where the unrolled map is
   small enough, see :func:`~symbolic.derivation.exact_chain_affordable`,
   and numerically always);
2. where the cell declares a :class:`~symbolic.bounds.StepBound` ``B``: the
   step bound, the chain bound ``B^(T-k)`` by submultiplicativity, and the
   sufficient condition ``B < 1`` for vanishing (Pascanu, Mikolov and
   Bengio 2013, section 2.2).
"""

from __future__ import annotations

import sympy as sp

from .bounds import MaxAbs, SigmaMax
from .cells import Cell, t
from .derivation import (
    BoundClaim,
    ChainClaim,
    Derivation,
    EqualityClaim,
    JacobianClaim,
    Notation,
    Partial,
    Step,
    exact_chain_affordable,
)
from .jacobians import step_jacobian_blocks
from .printers import latex, text

__all__ = [
    "block_matrix_step",
    "bound_derivation",
    "chain_step",
    "cell_derivations",
    "definition_steps",
    "full_state",
    "norm",
    "step_derivation",
]

_T, _k = sp.symbols("T k", integer=True)


def norm(body: Notation) -> Notation:
    """``||body||_2`` in both notations.

    Examples
    --------
    >>> norm(Notation("J", "J")).text
    '||J||_2'
    """
    return Notation(rf"\left\lVert {body.latex} \right\rVert_2", f"||{body.text}||_2")


def full_state(cell: Cell, time: sp.Expr | int) -> sp.MatrixSymbol:
    """The full state at ``time``: the state vector itself, or ``s`` for several.

    Examples
    --------
    >>> from symbolic.lstm import lstm
    >>> full_state(lstm(), _T)
    s_{T}
    """
    if len(cell.state) == 1:
        return cell.new_state[0].at(time)
    size = sum((v.rows for v in cell.state), sp.S.Zero)
    index = sp.latex(sp.sympify(time)).replace(" ", "")
    return sp.MatrixSymbol(f"s_{{{index}}}", size, 1)


def definition_steps(cell: Cell) -> tuple[Step, ...]:
    """One ``:=`` step per equation of the cell, in evaluation order."""
    return tuple(Step(eq.lhs, ":=", eq.rhs, "cell equation") for eq in cell.equations)


def block_matrix_step(cell: Cell, reason: str) -> Step:
    """``J_t :=`` the matrix of blocks ``d new_i / d old_j`` of a cell with several states."""
    rows = [[Partial(new, old) for old in cell.state_symbols] for new in cell.new_state_symbols]
    return Step(
        Notation("J_{t}", "J_t"),
        ":=",
        Notation(
            r"\begin{bmatrix} "
            + r" \\ ".join(" & ".join(latex(p) for p in row) for row in rows)
            + r" \end{bmatrix}",
            # Row by row, as the text printer writes matrices: [a, b; c, d].
            "[" + "; ".join(", ".join(text(p) for p in row) for row in rows) + "]",
        ),
        reason,
    )


def chain_step(cell: Cell, reason: str, exact: bool) -> Step:
    """``ds_T/ds_k = J_T J_{T-1} ... J_{k+1}``, checked exactly only where ``exact``."""
    return Step(
        _chain(cell),
        "=",
        Notation(r"J_{T} J_{T-1} \cdots J_{k+1}", "J_T J_{T-1} ... J_{k+1}"),
        reason,
        ChainClaim(cell, exact=exact),
    )


def _chain(cell: Cell) -> Partial:
    return Partial(full_state(cell, _T), full_state(cell, _k))


def step_derivation(cell: Cell, sizes: tuple[int, ...] = (2, 3)) -> Derivation:
    """Equations, every block of the step Jacobian, and the chain over time.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> d = step_derivation(elman_rnn("tanh"), sizes=(2,))
    >>> [s.rel for s in d.steps]
    [':=', ':=', '=', '=']
    >>> text(d.steps[2].rhs)
    "diag(tanh'(a_t)) W"
    """
    steps = list(definition_steps(cell))
    blocks = step_jacobian_blocks(cell)
    for new, row in zip(cell.new_state_symbols, blocks, strict=True):
        for old, block in zip(cell.state_symbols, row, strict=True):
            steps.append(
                Step(
                    Partial(new, old),
                    "=",
                    block,
                    "chain rule through the cell's equations",
                    JacobianClaim(cell, new, old, block, sizes),
                )
            )
    several = len(cell.state) > 1
    if several:
        steps.append(block_matrix_step(cell, "the step Jacobian of the full state, block by block"))
    exact = exact_chain_affordable(cell)
    steps.append(
        chain_step(
            cell,
            "chain rule over time, latest step on the left"
            + ("" if exact else "; unrolled steps nest too deeply for an exact check"),
            exact,
        )
    )
    state = ", ".join(str(v.symbol).replace("_{t-1}", "") for v in cell.state)
    intro = (
        "Numerator layout: for $y \\in \\mathbb{R}^p$ and $x \\in \\mathbb{R}^q$, "
        "$\\partial y / \\partial x$ is $p \\times q$."
    )
    if several:
        intro += (
            f" The full state $s_t$ stacks ${state}$ in this order; $J_t$ is its step Jacobian."
        )
    else:
        intro += " $J_t$ is the step Jacobian above, at step $t$."
    return Derivation(f"Step Jacobian of the {cell.title}", tuple(steps), intro, cell.notes)


def bound_derivation(cell: Cell) -> Derivation:
    """The cell's declared step bound ``B``, the chain bound ``B^(T-k)`` and what follows.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> d = bound_derivation(elman_rnn("sigmoid"))
    >>> [text(s.rhs) for s in d.steps[:2]]
    ['sigma_max(W)/4', '(sigma_max(W)/4)^(T-k)']
    """
    if cell.bound is None:
        raise ValueError(f"cell {cell.name!r} declares no step bound")
    B = cell.bound.value
    r = sp.Symbol("r", positive=True)
    N = sp.Symbol("N", integer=True, positive=True)
    step = Partial(full_state(cell, t), full_state(cell, t - 1))
    chain = _chain(cell)
    chain_norm = norm(Notation(latex(chain), text(chain)))
    power = Notation(rf"\left({latex(B)}\right)^{{T-k}}", f"({text(B)})^(T-k)")
    steps = (
        Step(
            norm(Notation(latex(step), text(step))),
            "<=",
            B,
            cell.bound.reason or "declared by the cell",
            BoundClaim(cell, steps=1),
        ),
        Step(
            chain_norm,
            "<=",
            power,
            "submultiplicativity: one factor per step",
            BoundClaim(cell, steps=40),
        ),
    )
    if (B - 1).is_nonnegative:
        conclusion = Step(
            sp.S.One,
            "<=",
            B,
            "every factor is at least 1, so this bound can never guarantee vanishing; "
            "it limits growth to at most this factor per step",
            EqualityClaim(sp.Max(B - 1, 0), B - 1),
        )
    else:
        conclusion = Step(
            Notation(rf"{latex(B)} = \tfrac{{1}}{{1+r}} < 1", f"{text(B)} = 1/(1+r) < 1"),
            "=>",
            Notation(
                r"\lim_{T \to \infty} "
                + chain_norm.latex
                + r" \le \lim_{N \to \infty} (1+r)^{-N} = 0",
                f"lim_{{T→∞}} {chain_norm.text} <= lim_{{N→∞}} (1+r)^(-N) = 0",
            ),
            "sufficient condition for vanishing; the bound says nothing about growth above 1",
            EqualityClaim(sp.Limit((1 / (1 + r)) ** N, N, sp.oo), 0),
        )
    norms = [r"Here $\lVert\cdot\rVert_2$ is the spectral norm"]
    if B.has(SigmaMax):
        norms.append(r"$\sigma_{\max}(A)$ the largest singular value of $A$")
    if B.has(MaxAbs):
        norms.append(r"$\max_i |v_i|$ the largest entry of $v$ in absolute value")
    intro = ", ".join(norms[:-1]) + (" and " if len(norms) > 1 else "") + norms[-1] + "."
    return Derivation(f"Norm bound for the {cell.title}", (*steps, conclusion), intro)


def cell_derivations(cell: Cell, sizes: tuple[int, ...] = (2, 3)) -> tuple[Derivation, ...]:
    """Every derivation gradproof makes for ``cell``: the step Jacobian and chain, and
    the bound where the cell declares one.

    Examples
    --------
    >>> from symbolic.lstm import lstm
    >>> [d.title for d in cell_derivations(lstm(), sizes=(2,))]
    ['Step Jacobian of the LSTM (PyTorch nn.LSTMCell)']
    """
    out = [step_derivation(cell, sizes)]
    if cell.bound is not None:
        out.append(bound_derivation(cell))
    return tuple(out)
