"""The LSTM's step Jacobian blocks in closed form, as an author writes them by hand.

The derivations (:mod:`.proof`, :mod:`.peephole`) show each block twice: the
output of gradproof's chain rule, then the closed form built here from the
gate slopes ``s(v) = diag(v ⊙ (1 - v))`` and ``diag(1 - v ⊙ v)``
(:mod:`symbolic.gated`), checked equal to it.  The forms cover every variant
of :func:`symbolic.lstm.lstm`: peepholes add terms of the same shape as the
hidden-weight terms, with ``diag(w_{c*})`` in place of ``W_{h*}``.
"""

from __future__ import annotations

import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from ..activations import activation
from ..cells import Cell
from ..gated import gate_vector, one_minus_square, sigmoid_slope

__all__ = ["matrix_sum", "memory_terms", "output_paths"]


def matrix_sum(*terms: sp.MatrixExpr) -> sp.MatrixExpr:
    """The sum of the terms, a single term left as it is (no one-term ``MatAdd``).

    Examples
    --------
    >>> W = sp.MatrixSymbol("W", 2, 2)
    >>> matrix_sum(W)
    W
    """
    return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)


def memory_terms(cell: Cell, weights: dict[str, sp.MatrixExpr]) -> list[sp.MatrixExpr]:
    """The terms of ``dc_t/dv`` through the gates, in closed form.

    ``weights[k]`` is what gate ``k`` applies to ``v`` in its pre-activation
    (``W_{hk}`` for ``v = h_{t-1}``; ``diag(w_{ck})`` for a peephole on
    ``v = c_{t-1}``); the product rule on ``f_t ⊙ c_{t-1} + i_t ⊙ g_t`` gives
    one term per gate, in the order ``f, i, g``.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> from symbolic.lstm import lstm
    >>> cell = lstm()
    >>> W = {p.name: p for p in cell.params}
    >>> [text(term) for term in memory_terms(cell, {"f": W["W_{hf}"]})]
    ['diag(c_{t-1}) diag(f_t (1 - f_t)) W_hf']
    """
    c_prev = cell.state_symbols[1]
    f, i, g = (gate_vector(cell, k) for k in "fig")
    factors = {
        "f": (DiagMatrix(c_prev), sigmoid_slope(f)),
        "i": (DiagMatrix(g), sigmoid_slope(i)),
        "g": (DiagMatrix(i), DiagMatrix(one_minus_square(g))),
    }
    return [sp.MatMul(*factors[k], weights[k]) for k in "fig" if k in weights]


def output_paths(cell: Cell) -> list[tuple[sp.MatrixExpr, ...]]:
    """The factors of ``dh_t/dc_t``: through ``tanh(c_t)``, and through a peephole on ``c_t``.

    ``h_t = o_t ⊙ tanh(c_t)`` reads ``c_t`` through ``tanh``; with a peephole
    ``w_{co} ⊙ c_t`` in the output gate also through ``o_t``.

    Examples
    --------
    >>> from symbolic.printers import text
    >>> from symbolic.lstm import lstm
    >>> [" ".join(map(text, path)) for path in output_paths(lstm("peephole"))]
    ['diag(tanh(c_t)) diag(o_t (1 - o_t)) diag(w_co)', 'diag(o_t) diag(1 - tanh(c_t)^2)']
    """
    c, o = cell.new_state_symbols[1], gate_vector(cell, "o")
    tanh_c = activation("tanh")(c)
    paths = [(DiagMatrix(o), DiagMatrix(one_minus_square(tanh_c)))]
    peephole = {p.name: p for p in cell.params}.get("w_{co}")
    if peephole is not None:
        paths.insert(0, (DiagMatrix(tanh_c), sigmoid_slope(o), DiagMatrix(peephole)))
    return paths
