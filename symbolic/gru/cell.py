"""The GRU cell in PyTorch's form, and the textbook form.

PyTorch's ``nn.GRUCell`` stacks the gates ``r, z, n`` in that order in
``weight_ih`` (3H x in), ``weight_hh`` (3H x H), ``bias_ih`` and ``bias_hh``:

- ``r_t = sigma(W_{ir} x_t + W_{hr} h_{t-1} + b_r)``,
- ``z_t = sigma(W_{iz} x_t + W_{hz} h_{t-1} + b_z)``,
- ``n_t = tanh(W_{in} x_t + b_{in} + r_t * (W_{hn} h_{t-1} + b_{hn}))``,
- ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``.

The reset gate multiplies ``W_{hn} h_{t-1} + b_{hn}``, so ``b_{in}`` and
``b_{hn}`` are separate parameters; the ``r`` and ``z`` biases are sums
(``b_r = b_{ir} + b_{hr}``).  The textbook form (Cho et al. 2014 v3) applies
the reset gate before the weights: ``W_{hn} (r_t * h_{t-1})``.  The ``1`` is
SymPy's ``OneMatrix``, the all-ones column.
"""

from __future__ import annotations

import sympy as sp

from ..activations import activation
from ..cells import Cell, Equation, TimedVector

__all__ = ["GRU_VARIANTS", "gru"]

#: Accepted values of ``variant`` for :func:`gru`.
GRU_VARIANTS = ("pytorch", "textbook")


def gru(variant: str = "pytorch") -> Cell:
    """The GRU cell ``h_t = (1 - z_t) * n_t + z_t * h_{t-1}``.

    Parameters
    ----------
    variant : {"pytorch", "textbook"}
        Where the reset gate sits in the candidate ``n_t``.
        ``"pytorch"``: ``r_t * (W_{hn} h_{t-1} + b_{hn})`` (``nn.GRUCell``,
        cuDNN, Cho et al. v1).  ``"textbook"``: ``W_{hn} (r_t * h_{t-1}) + b_{hn}``.

    Returns
    -------
    Cell
        State ``(h_{t-1},)``, input ``x_t``, sizes ``n`` (hidden) and ``m`` (input).

    Examples
    --------
    >>> cell = gru()
    >>> [str(eq.lhs) for eq in cell.equations]
    ['a^{r}_{t}', 'r_{t}', 'a^{z}_{t}', 'z_{t}', 'a^{n}_{t}', 'n_{t}', 'h_{t}']
    >>> str(cell.definitions[sp.MatrixSymbol("a^{n}_{t}", *cell.state[0].symbol.shape)])
    'HadamardProduct(W_{hn}*h_{t-1} + b_{hn}, r_{t}) + W_{in}*x_{t} + b_{in}'
    """
    if variant not in GRU_VARIANTS:
        raise ValueError(
            f"unknown GRU variant {variant!r}; choose one of: {', '.join(GRU_VARIANTS)}"
        )
    n, m = sp.symbols("n m", integer=True, positive=True)
    h_prev, h = TimedVector("h", n, -1), TimedVector("h", n, 0)
    x = TimedVector("x", m, 0)
    sigmoid, tanh = activation("sigmoid"), activation("tanh")

    W = {k: sp.MatrixSymbol(f"W_{{i{k}}}", n, m) for k in "rzn"}
    V = {k: sp.MatrixSymbol(f"W_{{h{k}}}", n, n) for k in "rzn"}
    b_r, b_z = sp.MatrixSymbol("b_{r}", n, 1), sp.MatrixSymbol("b_{z}", n, 1)
    b_in, b_hn = sp.MatrixSymbol("b_{in}", n, 1), sp.MatrixSymbol("b_{hn}", n, 1)
    pre = {k: TimedVector(f"a^{{{k}}}", n, 0) for k in "rzn"}
    r, zg, cand = TimedVector("r", n, 0), TimedVector("z", n, 0), TimedVector("n", n, 0)
    hs, xs = h_prev.symbol, x.symbol

    if variant == "pytorch":
        reset = sp.HadamardProduct(r.symbol, V["n"] * hs + b_hn)
    else:
        reset = V["n"] * sp.HadamardProduct(r.symbol, hs) + b_hn
    ones = sp.OneMatrix(n, 1)
    new_h = sp.HadamardProduct(ones - zg.symbol, cand.symbol) + sp.HadamardProduct(zg.symbol, hs)
    equations = (
        Equation(pre["r"].symbol, W["r"] * xs + V["r"] * hs + b_r),
        Equation(r.symbol, sigmoid(pre["r"].symbol)),
        Equation(pre["z"].symbol, W["z"] * xs + V["z"] * hs + b_z),
        Equation(zg.symbol, sigmoid(pre["z"].symbol)),
        Equation(pre["n"].symbol, W["n"] * xs + b_in + reset),
        Equation(cand.symbol, tanh(pre["n"].symbol)),
        Equation(h.symbol, new_h),
    )
    where = (
        "$r_t$ multiplies $W_{hn} h_{t-1} + b_{hn}$ (PyTorch nn.GRUCell, cuDNN, Cho et al. v1)"
        if variant == "pytorch"
        else "$r_t$ multiplies $h_{t-1}$ before $W_{hn}$ (textbook form, Cho et al. v3)"
    )
    notes = (
        "Gates $r, z, n$, stacked in this order in the rows of PyTorch's weight_ih, weight_hh, "
        "bias_ih and bias_hh; $W_{i*}$ multiplies the input $x_t$, $W_{h*}$ the previous "
        "hidden vector $h_{t-1}$.",
        f"Reset gate placement: {where}.",
        "$b_r$ and $b_z$ are sums of their gate's rows of bias_ih and bias_hh; $b_{in}$ and "
        "$b_{hn}$ stay separate because $r_t$ multiplies $b_{hn}$.",
        "Output $h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}$: $z_t$ keeps the old state "
        "(PyTorch's convention).",
    )
    title = "GRU (PyTorch nn.GRUCell)" if variant == "pytorch" else "GRU (textbook reset placement)"
    return Cell(
        name="gru",
        title=title,
        state=(h_prev,),
        new_state=(h,),
        inputs=(x,),
        params=(*W.values(), *V.values(), b_r, b_z, b_in, b_hn),
        equations=equations,
        intermediates=(pre["r"], r, pre["z"], zg, pre["n"], cand),
        dims=(n, m),
        notes=notes,
    )
