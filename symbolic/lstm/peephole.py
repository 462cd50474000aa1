"""What peepholes add to the constant error carousel.

With peepholes (Gers, Schraudolph and Schmidhuber 2002) the input and forget
gates read the old memory ``c_{t-1}`` and the output gate the new memory
``c_t``.  The memory's own Jacobian ``dc_t/dc_{t-1}`` is then no longer the
forget gate ``diag(f_t)`` alone: the product rule through ``f_t`` and ``i_t``
adds one term per peephole, and ``dh_t/dc_{t-1}`` gains a path through the
output gate.  :func:`peephole_carousel_derivation` sets each block beside the
LSTM's without peepholes, and shows at a concrete point that the memory path
leaves ``(0, 1)``.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from ..derivation import Derivation, EqualityClaim, JacobianClaim, Notation, Partial, Step
from ..explicit import elementwise_jacobian
from ..gated import display_sum, gate_vector
from .blocks import matrix_sum, memory_terms, output_paths
from .cell import lstm

__all__ = ["peephole_carousel_derivation"]

#: A point of the one-unit peephole cell (n = m = 1) where ``a^f_t = 0`` and
#: ``a^g_t = 0``, so ``f_t = 1/2`` and ``g_t = 0``; every other entry is 0.
_WITNESS = {"c_{t-1}": 2, "w_{cf}": 2, "b_{f}": -4}


def peephole_carousel_derivation(sizes: tuple[int, ...] = (2, 3)) -> Derivation:
    """The memory path ``dc_t/dc_{t-1}`` and ``dh_t/dc_{t-1}``, without and with peepholes.

    Parameters
    ----------
    sizes : tuple of int
        Sizes of the exact checks.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> d = peephole_carousel_derivation(sizes=(2,))
    >>> text(d.steps[4].rhs)
    'diag(f_t) + diag(c_{t-1}) diag(f_t (1 - f_t)) diag(w_cf) + diag(g_t) diag(i_t (1 - i_t)) diag(w_ci)'
    >>> d.steps[5].claim.check_exact().passed
    True
    """
    plain, peephole = lstm("pytorch"), lstm("peephole")
    c_prev, (h, c) = peephole.state_symbols[1], peephole.new_state_symbols
    W = {p.name: p for p in peephole.params}
    forget = DiagMatrix(gate_vector(peephole, "f"))
    through_peepholes = memory_terms(peephole, {k: DiagMatrix(W[f"w_{{c{k}}}"]) for k in "fi"})
    memory = matrix_sum(forget, *through_peepholes)
    (tanh_path,) = output_paths(plain)
    plain_output = sp.MatMul(*tanh_path, forget)
    paths = output_paths(peephole)
    output = matrix_sum(*(sp.MatMul(*path, memory) for path in paths))

    one = {d: 1 for d in peephole.dims}
    reference = elementwise_jacobian(c, c_prev, one, peephole.definitions)[0, 0]
    point = {s: _WITNESS.get(s.name.split("[")[0], 0) for s in reference.free_symbols}
    definitions = peephole.definitions
    steps = (
        Step(
            Partial(c, c_prev),
            "=",
            forget,
            r"without peepholes (PyTorch): only $f_t \odot c_{t-1}$ contains $c_{t-1}$",
            JacobianClaim(plain, c, c_prev, forget, sizes),
        ),
        *(
            Step(a, ":=", definitions[a], reason)
            for a, reason in (
                (gate_vector(peephole, "a^{i}"), r"with peepholes: $i_t$ reads $c_{t-1}$"),
                (gate_vector(peephole, "a^{f}"), r"$f_t$ reads $c_{t-1}$"),
                (gate_vector(peephole, "a^{o}"), r"$o_t$ reads the new memory $c_t$"),
            )
        ),
        Step(
            Partial(c, c_prev),
            "=",
            memory,
            r"product rule on $f_t \odot c_{t-1}$, then through $f_t$ and through $i_t$ in "
            r"$i_t \odot g_t$: the peepholes add the last two terms, each a product of "
            r"diagonal matrices, with no weight matrix in it",
            JacobianClaim(peephole, c, c_prev, memory, sizes),
        ),
        Step(
            Partial(c, c_prev),
            "=",
            Notation(r"\frac{3}{2}", "3/2"),
            r"at $n = m = 1$, $c_{t-1} = 2$, $w_{cf} = 2$, $b_f = -4$ and every other entry $0$: "
            r"then $f_t = 1/2$ and $g_t = 0$, and the memory path exceeds $1$, which "
            r"$\operatorname{diag}(f_t)$ never does",
            EqualityClaim(reference.xreplace(point), sp.Rational(3, 2)),
        ),
        Step(
            Partial(h, c_prev),
            "=",
            plain_output,
            r"without peepholes: $c_{t-1}$ reaches $h_t$ only through $\tanh(c_t)$",
            JacobianClaim(plain, h, c_prev, plain_output, sizes),
        ),
        Step(
            Partial(h, c_prev),
            "=",
            display_sum(*((*path, Partial(c, c_prev)) for path in paths)),
            r"with peepholes, $o_t$ reads $c_t$ too: the first term is new, and both carry "
            r"the peepholes' memory path above",
            JacobianClaim(peephole, h, c_prev, output, sizes),
        ),
    )
    return Derivation(
        title="What peepholes add to the constant error carousel",
        intro=(
            "Peepholes (Gers, Schraudolph and Schmidhuber 2002) let the gates read the memory. "
            "The memory's own path and its path into $h_t$ are set here beside those of the "
            "LSTM without peepholes."
        ),
        steps=steps,
        notes=(
            "What stays: the memory-only path $\\partial c_t/\\partial c_{t-1}$ is still "
            "diagonal and contains no weight matrix, so the memory-only term of "
            "$\\partial s_T/\\partial s_k$ is still a product of diagonal matrices, "
            "one unit at a time.",
            "What changes: its entries are no longer the forget gates' values in $(0, 1)$. "
            "The peephole terms scale with $c_{t-1}$ and with the peephole weights and take "
            "either sign, so the memory-only path can grow over many steps, as the point "
            "above shows for one; the bound by a product of forget gates no longer holds.",
        ),
    )
