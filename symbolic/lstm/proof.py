"""Why the LSTM helps: its step Jacobian block by block, and the constant error carousel.

Two derivations, each step carrying the claim that checks it:

1. the LSTM's step Jacobian over the full state ``s_t = [h_t; c_t]``, block
   by block: the project's chain rule, then the closed form (``s(v) =
   diag(v ⊙ (1 - v))`` for a sigmoid output ``v``);
2. the constant error carousel (Hochreiter and Schmidhuber 1997): the direct
   memory path ``dc_t/dc_{t-1}`` is the identity without a forget gate and
   ``diag(f_t)`` with one, so the memory-only path over ``T - k`` steps is a
   product of forget gates with no weight matrix in it; and what that does
   *not* bound, since every other path of the full-state chain runs through ``h``.

Exact checks expand cells entry by entry at the sizes passed as ``sizes``
(default 2 and 3, every size symbol set to the size; see :data:`EXACT_SIZES`).
With peepholes the carousel is :func:`~symbolic.lstm.peephole.peephole_carousel_derivation`.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardProduct

from ..activations import activation
from ..derivation import (
    Derivation,
    EqualityClaim,
    JacobianClaim,
    Notation,
    Partial,
    Step,
)
from ..explicit import explicit
from ..gated import (
    ClosedFormClaim,
    RangeClaim,
    display_sum,
    gate_vector,
    named_block,
    sigmoid_slope,
    slope_identities,
)
from ..generic import block_matrix_step, chain_step, definition_steps
from ..jacobians import step_jacobian_blocks
from .blocks import matrix_sum, memory_terms, output_paths
from .cell import lstm
from .peephole import peephole_carousel_derivation

__all__ = ["carousel_derivation", "lstm_derivations", "lstm_jacobian_derivation"]

_T, _k = sp.symbols("T k", integer=True)

#: Sizes of the exact checks where they are not 2 and 3.  The peephole cell's
#: are checked at size 2 only: its output gate reads ``c_t``, so its entries at
#: size 3 cost ``gradproof derive`` seconds more, and size 2 already has every
#: kind of entry (diagonal and off-diagonal weights, two units per gate).
EXACT_SIZES = {"peephole": (2,)}


def lstm_jacobian_derivation(
    variant: str = "pytorch", sizes: tuple[int, ...] = (2, 3)
) -> Derivation:
    """The LSTM's step Jacobian over ``s_t = [h_t; c_t]``, block by block.

    Parameters
    ----------
    variant : {"pytorch", "no_forget", "peephole"}
        See :func:`symbolic.lstm.lstm`.
    sizes : tuple of int
        Sizes of the exact checks.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = lstm_jacobian_derivation(sizes=(2,))
    >>> [text(s.lhs) for s in d.steps if s.rel == "="][2:4]
    ['dc_t/dc_{t-1}', 'dc_t/dh_{t-1}']
    >>> text(d.steps[12].rhs)
    'diag(f_t)'
    """
    cell = lstm(variant)
    (h_prev, c_prev), (h, c) = cell.state_symbols, cell.new_state_symbols
    blocks = step_jacobian_blocks(cell)
    (hh, hc), (ch, cc) = blocks
    W = {p.name: p for p in cell.params}
    gates = [k for k in "ifgo" if f"W_{{h{k}}}" in W]
    o = gate_vector(cell, "o")
    peephole = variant == "peephole"
    ref_ch = matrix_sum(*memory_terms(cell, {k: W[f"W_{{h{k}}}"] for k in gates if k != "o"}))
    carry = DiagMatrix(gate_vector(cell, "f")) if "f" in gates else sp.Identity(c.shape[0])
    peepholes = {k: DiagMatrix(W[f"w_{{c{k}}}"]) for k in "fi" if peephole}
    ref_cc = matrix_sum(carry, *memory_terms(cell, peepholes))
    paths = output_paths(cell)
    kept = () if isinstance(ref_cc, sp.Identity) else (ref_cc,)
    ref_hc = matrix_sum(*(sp.MatMul(*path, *kept) for path in paths))
    output_term = (DiagMatrix(activation("tanh")(c)), sigmoid_slope(o), W["W_{ho}"])
    ref_hh = matrix_sum(sp.MatMul(*output_term), *(sp.MatMul(*path, ref_ch) for path in paths))

    if peephole:
        memory_steps = (
            Step(
                Partial(c, c_prev),
                "=",
                cc,
                r"product rule on $f_t \odot c_{t-1}$, then through the gates $f_t$ and $i_t$, "
                r"whose peepholes read $c_{t-1}$",
                JacobianClaim(cell, c, c_prev, cc, sizes),
            ),
            Step(
                "",
                "=",
                ref_cc,
                r"the slope identities above: beside $\operatorname{diag}(f_t)$, one term per "
                r"peephole on $c_{t-1}$",
                ClosedFormClaim(cell, cc, ref_cc, sizes),
            ),
        )
        output_steps = (
            Step(
                Partial(h, c_prev),
                "=",
                named_block(hc, cc, Partial(c, c_prev)),
                r"$c_{t-1}$ reaches $h_t$ only through $c_t$, which $h_t$ reads twice: in "
                r"$\tanh(c_t)$ and through the output gate's peephole",
                JacobianClaim(cell, h, c_prev, hc, sizes),
            ),
            Step(
                "",
                "=",
                display_sum(*((*path, Partial(c, c_prev)) for path in paths)),
                r"the slope identities, with $\partial c_t/\partial c_{t-1}$ as above",
                ClosedFormClaim(cell, hc, ref_hc, sizes),
            ),
        )
    else:
        reason = (
            r"only $f_t \odot c_{t-1}$ contains $c_{t-1}$: the gates read $h_{t-1}$ and $x_t$ only"
            if "f" in gates
            else r"the carried term $c_{t-1}$ is added unscaled; the gates read $h_{t-1}$ and "
            r"$x_t$ only"
        )
        memory_steps = (
            Step(Partial(c, c_prev), "=", cc, reason, JacobianClaim(cell, c, c_prev, cc, sizes)),
        )
        output_steps = (
            Step(
                Partial(h, c_prev),
                "=",
                hc,
                r"$c_{t-1}$ reaches $h_t$ only through $c_t$",
                JacobianClaim(cell, h, c_prev, hc, sizes),
            ),
            Step(
                "", "=", ref_hc, "the tanh slope identity", ClosedFormClaim(cell, hc, ref_hc, sizes)
            ),
        )
    product_rule = (
        r"product rule on $o_t \odot \tanh(c_t)$, then through the output gate's peephole on "
        r"$c_t$"
        if peephole
        else r"product rule on $o_t \odot \tanh(c_t)$"
    )
    steps = (
        *definition_steps(cell),
        *slope_identities(),
        *memory_steps,
        Step(
            Partial(c, h_prev),
            "=",
            ch,
            "chain rule: product rule on each Hadamard product, then through each gate",
            JacobianClaim(cell, c, h_prev, ch, sizes),
        ),
        Step(
            "",
            "=",
            ref_ch,
            r"the slope identities above; the closed form",
            ClosedFormClaim(cell, ch, ref_ch, sizes),
        ),
        *output_steps,
        Step(
            Partial(h, h_prev),
            "=",
            named_block(hh, ch, Partial(c, h_prev)),
            product_rule + r", with $\partial c_t/\partial h_{t-1}$ as above",
            JacobianClaim(cell, h, h_prev, hh, sizes),
        ),
        Step(
            "",
            "=",
            display_sum(output_term, *((*path, Partial(c, h_prev)) for path in paths)),
            r"the closed form, with $\partial c_t/\partial h_{t-1}$ as above",
            ClosedFormClaim(cell, hh, ref_hh, sizes),
        ),
        block_matrix_step(
            cell, r"the $2n \times 2n$ step Jacobian of the full state $s_t = [h_t; c_t]$"
        ),
        chain_step(
            cell, "chain rule over time on the full state, latest step on the left", exact=False
        ),
    )
    return Derivation(
        title=f"Step Jacobian of the {cell.title}",
        intro=(
            "Numerator layout; $s(v) = \\operatorname{diag}(v \\odot (1 - v))$ is the slope "
            "of a sigmoid gate $v$. Each block is first the output of gradproof's chain rule, "
            "checked against the elementwise Jacobian, then the closed form written by hand, "
            "checked equal to it."
        ),
        steps=steps,
        notes=cell.notes,
    )


def carousel_derivation(sizes: tuple[int, ...] = (2, 3)) -> Derivation:
    """The constant error carousel, and what it does and does not bound.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = carousel_derivation(sizes=(2,))
    >>> [text(d.steps[i].rhs) for i in (1, 3)]
    ['I', 'diag(f_t)']
    """
    original, modern = lstm("no_forget"), lstm("pytorch")
    n = modern.dims[0]
    c_prev, c = original.state_symbols[1], original.new_state_symbols[1]
    memory = {cell: cell.definitions[c] for cell in (original, modern)}
    identity, forget = (step_jacobian_blocks(cell)[1][1] for cell in (original, modern))

    # Three steps of the memory path, at n = 2: a product of diagonals is the
    # diagonal of the elementwise product.
    f_at = [sp.MatrixSymbol(f"f_{{{time}}}", n, 1) for time in (3, 2, 1)]
    two = {n: 2}
    product = explicit(sp.MatMul(*(DiagMatrix(f) for f in f_at)), two)
    diagonal = explicit(DiagMatrix(HadamardProduct(*f_at)), two)

    # Block multiplication of two generic full-state step Jacobians.
    blocks = {
        (time, name): sp.MatrixSymbol(f"J{time}_{name}", 2, 2)
        for time in (1, 2)
        for name in ("hh", "hc", "ch", "cc")
    }
    J = {
        time: sp.BlockMatrix(
            [[blocks[time, "hh"], blocks[time, "hc"]], [blocks[time, "ch"], blocks[time, "cc"]]]
        )
        for time in (1, 2)
    }
    cc_of_product = explicit(J[2] * J[1], {})[2:, 2:]
    by_paths = explicit(blocks[2, "cc"] * blocks[1, "cc"] + blocks[2, "ch"] * blocks[1, "hc"], {})

    def at(expr, time):
        return expr.xreplace(modern.at(time))

    c1, c2, c0 = (at(c, time) for time in (1, 2, 0))
    h1 = at(modern.new_state_symbols[0], 1)
    memory_product = Notation(
        r"\prod_{t=T}^{k+1} \operatorname{diag}(f_{t}) = "
        r"\operatorname{diag}\left(f_{T} \odot f_{T-1} \odot \cdots \odot f_{k+1}\right)",
        "diag(f_T) diag(f_{T-1}) ... diag(f_{k+1}) = diag(f_T ⊙ f_{T-1} ⊙ ... ⊙ f_{k+1})",
    )
    memory_norm = Notation(
        r"\left\lVert \prod_{t=T}^{k+1} \operatorname{diag}(f_{t}) \right\rVert_2 = "
        r"\max_j \prod_{t=k+1}^{T} f_{t,j}",
        "||diag(f_T) ... diag(f_{k+1})||_2 = max_j f_{T,j} ... f_{k+1,j}",
    )
    full_cc = Notation(
        r"\left[\frac{\partial s_{2}}{\partial s_{0}}\right]_{cc}",
        "[ds_2/ds_0]_cc",
    )
    steps = (
        Step(c, ":=", memory[original], "Hochreiter and Schmidhuber (1997): no forget gate"),
        Step(
            Partial(c, c_prev),
            "=",
            identity,
            r"the memory carries $c_{t-1}$ with weight 1; the gates read $h_{t-1}$, $x_t$ only",
            JacobianClaim(original, c, c_prev, identity, sizes),
        ),
        Step(c, ":=", memory[modern], "PyTorch (Gers et al. 2000): a forget gate scales the carry"),
        Step(
            Partial(c, c_prev),
            "=",
            forget,
            r"product rule; $f_t$ does not depend on $c_{t-1}$",
            JacobianClaim(modern, c, c_prev, forget, sizes),
        ),
        Step(
            Notation(
                r"\text{memory-only path } k \to T",
                "memory-only path k → T",
            ),
            "=",
            memory_product,
            r"a product of diagonal matrices is diagonal (three factors checked at $n = 2$)",
            EqualityClaim(product, diagonal),
        ),
        Step(
            memory_norm,
            "<",
            Notation("1", "1"),
            r"every $f_{t,j}$ is a sigmoid's value, so it lies in $(0, 1)$; no weight matrix enters. "
            r"Without a forget gate the path is $I$, of norm exactly $1$",
            RangeClaim(activation("sigmoid").function, sp.Interval.open(0, 1)),
        ),
        chain_step(
            modern,
            r"but the gradient follows the full state $s_t = [h_t; c_t]$, whose step "
            r"Jacobian $J_t$ has all four blocks",
            exact=False,
        ),
        Step(
            full_cc,
            "=",
            display_sum(
                (Partial(c2, c1), Partial(c1, c0)),
                (Partial(c2, h1), Partial(h1, c0)),
            ),
            r"block multiplication over two steps (checked for generic $2 \times 2$ blocks): "
            r"the memory-only path plus a path through $h_1$",
            EqualityClaim(cc_of_product, by_paths),
        ),
    )
    return Derivation(
        title="The constant error carousel, and what it does not bound",
        intro=(
            "The LSTM was built so that an error on the memory $c$ flows back unchanged "
            "(Hochreiter and Schmidhuber 1997). The forget gate, added later, scales that "
            "flow. Both are compared here, then set against the full-state Jacobian."
        ),
        steps=steps,
        notes=(
            "What it bounds: the memory-only term of $\\partial s_T/\\partial s_k$, "
            "$\\prod_t \\operatorname{diag}(f_t)$, decays as the product of forget gates, "
            "not as a product of $\\operatorname{diag}(f')\\,W$ factors: no weight matrix and no "
            "$\\gamma\\,\\sigma_{\\max}(W)$ enters. If every $f_{t,j} \\le \\phi < 1$ it is at "
            "most $\\phi^{T-k}$; gates held near 1 (a large forget bias) keep it near 1. "
            "Without a forget gate it is exactly $I$: it neither vanishes nor explodes.",
            "What it does not bound: every other term of $\\partial s_T/\\partial s_k$ "
            "(and the whole $h$ rows) passes through some $\\partial c_t/\\partial h_{t-1}$ or "
            "$\\partial h_t/\\partial h_{t-1}$, each a sum of gate slopes times "
            "$W_{hi}$, $W_{hf}$, $W_{hg}$, $W_{ho}$. Those paths can vanish or explode as in a "
            "plain RNN, so $\\lVert \\partial s_T/\\partial s_k \\rVert_2$ has no bound in terms "
            "of the forget gates, and even the $cc$ block is not $\\prod_t \\operatorname{diag}(f_t)$.",
            "Without a forget gate $c_t$ can grow without bound (Gers et al. 2000); "
            "then $\\tanh'(c_t)$ tends to $0$ and the output path $\\partial h_t/\\partial c_{t-1}$ closes.",
        ),
    )


def lstm_derivations(
    variant: str = "pytorch", sizes: tuple[int, ...] | None = None
) -> tuple[Derivation, ...]:
    """The LSTM's step Jacobian, then the constant error carousel (with peepholes: what they add).

    ``sizes`` defaults to 2 and 3, and to 2 alone for the peephole cell (see
    :data:`EXACT_SIZES`).

    Examples
    --------
    >>> [d.title for d in lstm_derivations("no_forget", sizes=(2,))]
    ['Step Jacobian of the LSTM without forget gate (1997)', 'The constant error carousel, and what it does not bound']
    >>> lstm_derivations("peephole", sizes=(2,))[1].title
    'What peepholes add to the constant error carousel'
    """
    sizes = sizes or EXACT_SIZES.get(variant, (2, 3))
    carousel = peephole_carousel_derivation if variant == "peephole" else carousel_derivation
    return (lstm_jacobian_derivation(variant, sizes), carousel(sizes))
