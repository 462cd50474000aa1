"""The answers to the course's two questions, as checked derivations to render.

:func:`answer` returns, for ``"q1"`` (why the gradients of an Elman RNN
vanish) or ``"q2"`` (the 2D Grid LSTM along time and depth), a tuple of
:class:`~symbolic.derivation.Derivation`: first a short answer, whose intro
is a paragraph for a reader, whose steps are the key equations (each with
the claim that checks it) and whose notes say what follows; then the
detailed derivation.  Verify and render each as any other derivation::

    reports = [verify(d) for d in answer("q1")]
    text = "\\n\\n".join(render(r.derivation, "text", marks=r.marks) for r in reports)

Every formula in the paragraphs is printed from the SymPy objects of the
cells (:func:`~symbolic.printers.latex`), never typed in by hand, so the
prose and the checked steps cannot drift apart.
"""

from __future__ import annotations

import functools
import re

import sympy as sp

from .activations import activation
from .cells import t
from .derivation import (
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
from .generic import norm
from .gridlstm.derivations import equations_derivation
from .gridlstm.jacobian_claims import BlockJacobianClaim
from .gridlstm.sequence_models import grid_lstm_2d
from .jacobians import derivative, step_jacobian
from .loss_gradient import (
    chain_product,
    gradient_step,
    k,
    loss_gradient_derivation,
    term_bound_step,
)
from .printers import latex
from .rnn.cell import elman_rnn

__all__ = ["QUESTIONS", "answer", "q1_answer", "q2_answer"]

#: The questions :func:`answer` knows, with what each answer covers.
QUESTIONS = {
    "q1": "why the gradients of an Elman RNN vanish, from the Jacobian chain to the loss",
    "q2": "what the 2D Grid LSTM carries along time and depth, and its equations",
}


def _inline(expr: sp.Basic) -> str:
    """LaTeX of ``expr`` for running text: without ``\\left``/``\\right`` sizing."""
    return re.sub(r"\\(?:left|right)(?=[()\[\]|.])", "", latex(expr))


def _q1_paragraph() -> str:
    cell = elman_rnn("tanh")
    a_eq, h_eq = cell.equations
    j = sp.Symbol("j", integer=True)
    step = _inline(step_jacobian(cell).xreplace(cell.at(j)))
    gamma = activation("tanh").gamma
    return (
        f"An Elman RNN updates its hidden state as ${_inline(h_eq.lhs)} = {_inline(h_eq.rhs)}$ "
        f"with ${_inline(a_eq.lhs)} = {_inline(a_eq.rhs)}$. The loss $E$ is a sum of "
        "per-step losses $E_t$, and by the chain rule its gradient with respect to the weight "
        "$W$ is a sum of terms, one for each pair of times $k \\le t$: how $W$ acting at step "
        "$k$ changes the loss at step $t$. Each term contains the Jacobian "
        "$\\partial h_t / \\partial h_k$ (the matrix of derivatives of the entries of $h_t$ "
        f"with respect to those of $h_k$), a product of $t - k$ step Jacobians ${step}$, "
        "where $\\operatorname{diag}(v)$ is the diagonal matrix with $v$ on its diagonal. "
        f"Each factor stretches a vector by at most $\\gamma\\,\\sigma_{{\\max}}(W)$, with "
        f"$\\gamma = {sp.latex(gamma)}$ the largest slope of $\\tanh$ and "
        "$\\sigma_{\\max}(W)$ the largest singular value of $W$ (the most $W$ can stretch a "
        "vector), so the term is bounded by $(\\gamma\\,\\sigma_{\\max}(W))^{t-k}$ times the "
        "norms of its two end factors. If $\\gamma\\,\\sigma_{\\max}(W) < 1$, terms that span many "
        "steps shrink geometrically and the gradient is dominated by short-range terms: it "
        "carries almost no signal for linking events far apart in time, so long-term "
        "dependencies are hard to learn. If $\\gamma\\,\\sigma_{\\max}(W) > 1$, the products "
        "may instead grow exponentially: exploding gradients are possible, though not certain. "
        "In the linear case the eigenvalues $\\lambda$ of $W$ decide: $W^N = P D^N P^{-1}$, so "
        "components along eigenvectors with $|\\lambda| < 1$ vanish and those with "
        "$|\\lambda| > 1$ explode. The usual remedies are gated units such as the LSTM, whose "
        "memory carries the error through its forget gate rather than through $W$, and "
        "clipping the gradient's norm against explosions."
    )


def _eigen_steps() -> tuple[Step, ...]:
    """``W = P D P^{-1}`` gives ``W^N = P D^N P^{-1}``; what ``|lambda|`` does to ``lambda^N``."""
    P = sp.ImmutableMatrix(2, 2, sp.symbols("p_11 p_12 p_21 p_22"))
    l1, l2 = sp.symbols("lambda_1 lambda_2")
    N = sp.Symbol("N", integer=True, positive=True)
    r = sp.Symbol("r", positive=True)
    W = sp.ImmutableMatrix(P * sp.diag(l1, l2) * P.inv())
    WN = sp.ImmutableMatrix(P * sp.diag(l1**N, l2**N) * P.inv())
    lin = elman_rnn("identity")
    return (
        Step(
            Notation(r"\frac{\partial h_{t}}{\partial h_{k}}", "dh_t/dh_k"),
            "=",
            Notation("W^{t-k}", "W^(t-k)"),
            "the linear case: with the identity for $f$, every step Jacobian is $W$",
            ChainClaim(lin),
        ),
        Step(
            Notation("W = P D P^{-1}", "W = P D P^-1"),
            "=>",
            Notation("W^{N} = P D^{N} P^{-1}", "W^N = P D^N P^-1"),
            "$D$ is the diagonal matrix of the eigenvalues $\\lambda_i$ of $W$, the columns of "
            "$P$ its eigenvectors; by induction on $N$, checked for a general invertible "
            "$2 \\times 2$ matrix $P$",
            InductionClaim(W, WN, N),
        ),
        Step(
            Notation(r"|\lambda_i| = \tfrac{1}{1+r} < 1", "|lambda_i| = 1/(1+r) < 1"),
            "=>",
            Notation(r"\lim_{N\to\infty} \lambda_i^{N} = 0", "lim lambda_i^N = 0"),
            "the component along the eigenvector $q_i$ vanishes",
            EqualityClaim(sp.Limit((1 / (1 + r)) ** N, N, sp.oo), 0),
        ),
        Step(
            Notation(r"|\lambda_i| = 1 + r > 1", "|lambda_i| = 1 + r > 1"),
            "=>",
            Notation(r"\lim_{N\to\infty} |\lambda_i|^{N} = \infty", "lim_{N→∞} |lambda_i|^N = ∞"),
            "the component along $q_i$ explodes, since $(1+r)^{-N}$ tends to 0",
            EqualityClaim(sp.Limit((1 + r) ** (-N), N, sp.oo), 0),
        ),
    )


@functools.lru_cache(maxsize=1)
def q1_answer() -> tuple[Derivation, ...]:
    """The answer to Q1: the short answer, then the gradient of the loss in detail.

    Examples
    --------
    >>> [d.title for d in q1_answer()]  # doctest: +NORMALIZE_WHITESPACE
    ['Why the gradients of an Elman RNN vanish: the short answer',
     'From the Jacobian chain to the gradient of the loss (Pascanu, Mikolov and Bengio 2013)']
    """
    cell = elman_rnn("tanh")
    a_eq, h_eq = cell.equations
    h_prev, h = cell.state_symbols[0], cell.new_state_symbols[0]
    J = step_jacobian(cell)
    chain_norm = norm(Notation(r"\frac{\partial h_{t}}{\partial h_{k}}", "dh_t/dh_k"))
    short = Derivation(
        title="Why the gradients of an Elman RNN vanish: the short answer",
        intro=_q1_paragraph(),
        steps=(
            Step(a_eq.lhs, ":=", a_eq.rhs, "pre-activation"),
            Step(h_eq.lhs, ":=", h_eq.rhs, "hidden state; $\\tanh$ acts entry by entry"),
            Step(
                Partial(h, h_prev),
                "=",
                J,
                "the step Jacobian, by the chain rule through the entrywise $\\tanh$",
                JacobianClaim(cell, h, h_prev, J),
            ),
            Step(
                Partial(cell.new_state[0].at(t), cell.new_state[0].at(k)),
                "=",
                chain_product(cell, t, k),
                "the chain rule over the steps from $k+1$ to $t$, latest step on the left",
                ChainClaim(cell),
            ),
            Step(
                chain_norm,
                "<=",
                Notation(
                    r"\left(\gamma\, \sigma_{\max}(W)\right)^{t-k}", "(gamma sigma_max(W))^(t-k)"
                ),
                "each factor has spectral norm at most $\\gamma\\,\\sigma_{\\max}(W)$, "
                "$\\gamma = \\sup_z |\\tanh'(z)| = 1$; norms of products are at most the "
                "products of norms",
                BoundClaim(cell, steps=40),
            ),
            gradient_step(cell),
            term_bound_step(cell),
            *_eigen_steps(),
        ),
        notes=(
            "Why long-range terms vanish: with $\\gamma\\,\\sigma_{\\max}(W) < 1$ the term "
            "linking step $k$ to the loss at step $t$ shrinks at least like "
            "$(\\gamma\\,\\sigma_{\\max}(W))^{t-k}$, so the gradient is dominated by terms "
            "with $t - k$ small (Pascanu, Mikolov and Bengio 2013); learning long-term "
            "dependencies by gradient descent is therefore hard (Bengio, Simard and Frasconi "
            "1994).",
            "Exploding: $\\gamma\\,\\sigma_{\\max}(W) > 1$ is necessary for the products to "
            "grow without bound, not sufficient; a unit whose $\\tanh$ saturates has a small "
            "slope and can still make them vanish.",
            "The nonlinear condition needs the largest singular value, not the largest "
            "eigenvalue: a matrix whose eigenvalues are all 0 can still give growing products "
            "of step Jacobians. Eigenvalues decide only in the linear case.",
            "Remedies: gated units such as the LSTM (Hochreiter and Schmidhuber 1997), whose "
            "memory's Jacobian along time is $\\operatorname{diag}(f_t)$, the forget gate, with "
            "no weight matrix and no squashing (the constant error carousel); and gradient-norm "
            "clipping, which rescales the gradient when its norm exceeds a threshold "
            "(Pascanu, Mikolov and Bengio 2013), against explosions.",
        ),
    )
    return (short, loss_gradient_derivation("tanh"))


def _q2_paragraph() -> str:
    model = grid_lstm_2d("paper")
    block, defs = model.block, model.cell.definitions

    def v(base: str, label: str, where: str) -> str:
        return _inline(block.vector(base, label, where))

    mD = block.vector("m", "D", "new")
    gates = {role: _inline(block.gate("D", role)) for role in ("forget", "input", "candidate")}
    carousel = {
        label: _inline(
            derivative(block.vector("m", label, "new"), block.vector("m", label, "in"), defs)
        )
        for label in "TD"
    }
    bottom, top = model.boundary[0], model.output
    return (
        "The 2D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016) places one block at each "
        "point $(t, l)$ of a grid with two dimensions: time, the position $t$ from 1 to $T$ in "
        "the sequence, and depth, the layer $l$ from 1 to $L$. Along each dimension a "
        "block receives a hidden vector and a memory vector: along time "
        f"${v('h', 'T', 'in')}$ and ${v('m', 'T', 'in')}$ from the previous time step in the "
        f"same layer, along depth ${v('h', 'D', 'in')}$ and ${v('m', 'D', 'in')}$ from the "
        "layer below at the same time step. The input enters at the bottom through a projection "
        f"matrix $P$, ${_inline(bottom.lhs)} = {_inline(bottom.rhs)}$, and the output is read at the top, "
        f"${_inline(top.lhs)} = {_inline(top.rhs)}$. Both hidden vectors feed the gates of "
        "both dimensions, but each dimension has its own LSTM: its own gates, weights and "
        "memory. Time carries what the network keeps of earlier inputs, as in an ordinary "
        "LSTM; depth carries the computation up through the layers, with a memory of its own. "
        "That memory is what helps along depth. In a stacked LSTM a layer passes on only its "
        "hidden vector, so the error travels down through a weight matrix and a squashing "
        "function ($\\tanh$ or the sigmoid $\\sigma$) at every layer and can vanish across "
        "many layers, as it does across many steps of an RNN. In the Grid LSTM the depth "
        f"memory is updated by addition, ${_inline(mD)} = {_inline(defs[mD])}$, where "
        f"${gates['forget']}$, ${gates['input']}$ and ${gates['candidate']}$ are the depth "
        "dimension's forget gate, input gate and candidate values and $\\odot$ multiplies "
        "entry by entry. Its Jacobian with respect to the memory below is therefore "
        f"${carousel['D']}$: the forget gate alone, with no weight matrix and no squashing. "
        "This is the LSTM's constant error carousel (Hochreiter and Schmidhuber 1997), now "
        f"along depth as it is along time, where the block is ${carousel['T']}$: where the "
        "forget gates stay near 1, the error passes through many layers, as through many "
        "time steps, almost unchanged."
    )


@functools.lru_cache(maxsize=1)
def q2_answer() -> tuple[Derivation, ...]:
    """The answer to Q2: the short answer, then the complete equations of the 2D block.

    Examples
    --------
    >>> [d.title for d in q2_answer()]  # doctest: +NORMALIZE_WHITESPACE
    ['What the 2D Grid LSTM carries along time and depth: the short answer',
     '2D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016): the equations along time and
     depth']
    """
    model = grid_lstm_2d("paper")
    block, cell = model.block, model.cell
    defs = cell.definitions
    steps = []
    for label in "TD":
        name = block.dimension(label).name
        m_new = block.vector("m", label, "new")
        steps.append(Step(m_new, ":=", defs[m_new], f"{name}: memory, updated by addition"))
    for label in "TD":
        dim = block.dimension(label)
        m_new, m_in = block.vector("m", label, "new"), block.vector("m", label, "in")
        expr = derivative(m_new, m_in, defs)
        steps.append(
            Step(
                Partial(m_new, m_in),
                "=",
                expr,
                f"along {dim.name}: the constant error carousel, the forget gate alone "
                f"(no weight matrix, no squashing) along ${dim.axis}$",
                BlockJacobianClaim(cell, m_new, m_in, expr, sizes=(2,)),
            )
        )
    short = Derivation(
        title="What the 2D Grid LSTM carries along time and depth: the short answer",
        intro=_q2_paragraph(),
        steps=tuple(steps),
        notes=(
            "Superscripts T and D name the time and depth dimensions (not transposes); "
            "$\\sigma$ is the logistic sigmoid.",
            "Along depth, the memory path from layer $l$ up to layer $L$ multiplies these "
            "diagonal blocks, one forget gate per layer, where a stacked LSTM multiplies a "
            "weight matrix and a squashing slope per layer.",
        ),
    )
    return (short, equations_derivation("paper"))


_ANSWERS = {"q1": q1_answer, "q2": q2_answer}


def answer(question: str) -> tuple[Derivation, ...]:
    """The answer to a course question, as derivations to verify and render.

    Parameters
    ----------
    question : str
        ``"q1"`` or ``"q2"`` (case and surrounding spaces ignored); see
        :data:`QUESTIONS`.

    Returns
    -------
    tuple of Derivation
        The short answer (a paragraph, the key equations, what follows),
        then the detailed derivation.

    Examples
    --------
    >>> len(answer("Q1")), len(answer("q2"))
    (2, 2)
    >>> answer("q3")
    Traceback (most recent call last):
    ...
    ValueError: unknown question 'q3'; choose q1 or q2
    """
    key = question.strip().lower()
    if key not in _ANSWERS:
        raise ValueError(f"unknown question {question!r}; choose {' or '.join(_ANSWERS)}")
    return _ANSWERS[key]()
