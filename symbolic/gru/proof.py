"""The GRU's step Jacobian through the candidate ``n_t``, block by block.

The chain rule's output is checked against the elementwise Jacobian, then
the closed form ``dh'/dh = diag(z) + diag(1 - z) dn/dh + diag(h - n) s(z) W_hz``
(``s(v) = diag(v ⊙ (1 - v))``) is checked equal to it, in PyTorch's or the
textbook reset placement.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from ..derivation import Derivation, JacobianClaim, Partial, Step
from ..gated import (
    ClosedFormClaim,
    display_sum,
    gate_vector,
    named_block,
    one_minus_square,
    sigmoid_slope,
    slope_identities,
)
from ..generic import chain_step, definition_steps
from ..jacobians import derivative, step_jacobian_blocks
from .cell import gru

__all__ = ["gru_derivations", "gru_jacobian_derivation"]

_T, _k = sp.symbols("T k", integer=True)


def _product(*factors: sp.MatrixExpr) -> sp.MatrixExpr:
    """The product ``A B ...``, flattened, its scalar in front, nothing evaluated.

    The ``*`` operator evaluates every factor again, and so does SymPy's
    simplification of a product (to cancel ``A A^{-1}`` it inverts factors);
    evaluating ``diag(v)`` asks SymPy's SAT-based assumptions whether the
    column ``v`` is diagonal, about 20 ms each time.  The factors here are
    already in final form, and no two of them cancel.
    """
    flat = [a for f in factors for a in (f.args if isinstance(f, sp.MatMul) else (f,))]
    matrices = [a for a in flat if isinstance(a, sp.MatrixExpr)]
    coeff = sp.Mul(*(a for a in flat if not isinstance(a, sp.MatrixExpr)))
    return sp.MatMul(*matrices) if coeff == 1 else sp.MatMul(coeff, *matrices)


def _sum(*terms: sp.MatrixExpr) -> sp.MatrixExpr:
    """``A + B + ...`` as the operator builds it, the terms not evaluated again."""
    return sp.MatAdd(*terms).doit(deep=False)


def gru_jacobian_derivation(
    variant: str = "pytorch", sizes: tuple[int, ...] = (2, 3)
) -> Derivation:
    """The GRU's step Jacobian ``dh_t/dh_{t-1}`` through the candidate ``n_t``.

    Parameters
    ----------
    variant : {"pytorch", "textbook"}
        See :func:`symbolic.gru.gru`.
    sizes : tuple of int
        Sizes of the exact checks.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = gru_jacobian_derivation("textbook", sizes=(2,))
    >>> text(d.steps[10].rhs)
    'diag(1 - n_t^2) W_hn (diag(h_{t-1}) diag(r_t (1 - r_t)) W_hr + diag(r_t))'
    """
    cell = gru(variant)
    (h_prev,), (h,) = cell.state_symbols, cell.new_state_symbols
    defs = cell.definitions
    W = {p.name: p for p in cell.params}
    r, zg, cand = (gate_vector(cell, k) for k in "rzn")
    ones = sp.OneMatrix(cell.dims[0], 1)
    dn = derivative(cand, h_prev, defs)
    ((dh,),) = step_jacobian_blocks(cell)
    slope_n = DiagMatrix(one_minus_square(cand))
    if variant == "pytorch":
        hidden = _sum(_product(W["W_{hn}"], h_prev), W["b_{hn}"])
        ref_dn = _product(
            slope_n,
            _sum(
                _product(DiagMatrix(r), W["W_{hn}"]),
                _product(DiagMatrix(hidden), sigmoid_slope(r), W["W_{hr}"]),
            ),
        )
        dn_reason = r"$r_t$ scales $W_{hn} h_{t-1} + b_{hn}$: product rule inside the tanh"
    else:
        ref_dn = _product(
            slope_n,
            W["W_{hn}"],
            _sum(DiagMatrix(r), _product(DiagMatrix(h_prev), sigmoid_slope(r), W["W_{hr}"])),
        )
        dn_reason = r"$r_t$ scales $h_{t-1}$ before $W_{hn}$: product rule on $r_t \odot h_{t-1}$"
    carry = DiagMatrix(zg)
    gate_term = (DiagMatrix(h_prev - cand), sigmoid_slope(zg), W["W_{hz}"])
    ref_dh = _sum(carry, _product(DiagMatrix(ones - zg), ref_dn), sp.MatMul(*gate_term))
    steps = (
        *definition_steps(cell),
        *slope_identities(),
        Step(
            Partial(cand, h_prev), "=", dn, dn_reason, JacobianClaim(cell, cand, h_prev, dn, sizes)
        ),
        Step(
            "",
            "=",
            ref_dn,
            "the slope identities above; the closed form",
            ClosedFormClaim(cell, dn, ref_dn, sizes),
        ),
        Step(
            Partial(h, h_prev),
            "=",
            named_block(dh, dn, Partial(cand, h_prev)),
            r"product rule on $(1 - z_t) \odot n_t$ and $z_t \odot h_{t-1}$",
            JacobianClaim(cell, h, h_prev, dh, sizes),
        ),
        Step(
            "",
            "=",
            display_sum((carry,), (DiagMatrix(ones - zg), Partial(cand, h_prev)), gate_term),
            r"the closed form; $\operatorname{diag}(z_t)$ is the direct carry path",
            ClosedFormClaim(cell, dh, ref_dh, sizes),
        ),
        chain_step(
            cell,
            r"chain rule over time, $J_t = \partial h_t / \partial h_{t-1}$, latest step on the left",
            exact=False,
        ),
    )
    return Derivation(
        title=f"Step Jacobian of the {cell.title}",
        intro=(
            "Numerator layout; $s(v) = \\operatorname{diag}(v \\odot (1 - v))$ is the slope "
            "of a sigmoid gate $v$. The GRU's state is $h_t$ alone, so its step Jacobian is "
            "$n \\times n$. Each block is first the output of gradproof's chain rule, checked "
            "against the elementwise Jacobian, then the closed form written by hand, checked "
            "equal to it."
        ),
        steps=steps,
        notes=(
            *cell.notes,
            "The carry $\\operatorname{diag}(z_t)$ plays the part of the LSTM's "
            "$\\operatorname{diag}(f_t)$, but it is not a separate path: every other term of "
            "$\\partial h_t/\\partial h_{t-1}$ also acts on $h$, through $W_{hn}$, $W_{hr}$ and $W_{hz}$.",
        ),
    )


def gru_derivations(
    variant: str = "pytorch", sizes: tuple[int, ...] = (2, 3)
) -> tuple[Derivation, ...]:
    """The GRU's step Jacobian (one derivation, as a tuple like the other cells).

    Examples
    --------
    >>> [d.title for d in gru_derivations(sizes=(2,))]
    ['Step Jacobian of the GRU (PyTorch nn.GRUCell)']
    """
    return (gru_jacobian_derivation(variant, sizes),)
