"""The LSTM cell in PyTorch's form, and the 1997 cell without a forget gate.

PyTorch's ``nn.LSTMCell`` stacks the gates ``i, f, g, o`` in that order in
``weight_ih`` (4H x in), ``weight_hh`` (4H x H), ``bias_ih`` and ``bias_hh``.
Here every gate has its own symbolic blocks, named as in PyTorch's
documentation: ``W_{ii}`` (rows ``0:H`` of ``weight_ih``), ``W_{hi}`` (rows
``0:H`` of ``weight_hh``), and so on.  The two biases of a gate only ever
appear summed, so each gate carries one bias ``b_i = b_{ii} + b_{hi}``.

Each gate is written through a named pre-activation (``a^{f}_{t}``), so the
structured Jacobian reads ``diag(sigma'(a^{f}_{t})) W_{hf}`` instead of
repeating the affine map.  The full state is ``s_t = [h_t; c_t]``.
"""

from __future__ import annotations

import sympy as sp

from ..activations import activation
from ..cells import Cell, Equation, TimedVector

__all__ = ["LSTM_VARIANTS", "lstm"]

#: Accepted values of ``variant`` for :func:`lstm`.
LSTM_VARIANTS = ("pytorch", "no_forget")

_GATES = {"pytorch": "ifgo", "no_forget": "igo"}
_GATE_ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}


def lstm(variant: str = "pytorch") -> Cell:
    """The LSTM cell ``c_t = f_t * c_{t-1} + i_t * g_t``, ``h_t = o_t * tanh(c_t)``.

    Parameters
    ----------
    variant : {"pytorch", "no_forget"}
        ``"pytorch"``: ``nn.LSTMCell`` (gates ``i, f, g, o``).
        ``"no_forget"``: Hochreiter and Schmidhuber's 1997 cell, in which the
        memory is carried unchanged, ``c_t = c_{t-1} + i_t * g_t`` (the
        constant error carousel); there is no ``f`` gate and no ``W_{if}``,
        ``W_{hf}``, ``b_f``.

    Returns
    -------
    Cell
        State ``(h_{t-1}, c_{t-1})``, input ``x_t``, sizes ``n`` (hidden) and
        ``m`` (input).

    Examples
    --------
    >>> cell = lstm()
    >>> [str(eq.lhs) for eq in cell.equations][-2:]
    ['c_{t}', 'h_{t}']
    >>> str(cell.definitions[cell.new_state_symbols[1]])
    'HadamardProduct(c_{t-1}, f_{t}) + HadamardProduct(g_{t}, i_{t})'
    >>> str(lstm("no_forget").definitions[cell.new_state_symbols[1]])
    'HadamardProduct(g_{t}, i_{t}) + c_{t-1}'
    """
    if variant not in _GATES:
        raise ValueError(
            f"unknown LSTM variant {variant!r}; choose one of: {', '.join(LSTM_VARIANTS)}"
        )
    gates = _GATES[variant]
    n, m = sp.symbols("n m", integer=True, positive=True)
    h_prev, c_prev = TimedVector("h", n, -1), TimedVector("c", n, -1)
    h, c = TimedVector("h", n, 0), TimedVector("c", n, 0)
    x = TimedVector("x", m, 0)

    input_weights, hidden_weights, biases = [], [], []
    pre_activations, gate_vectors, equations = [], {}, []
    for gate in gates:
        W_i = sp.MatrixSymbol(f"W_{{i{gate}}}", n, m)
        W_h = sp.MatrixSymbol(f"W_{{h{gate}}}", n, n)
        b = sp.MatrixSymbol(f"b_{{{gate}}}", n, 1)
        a = TimedVector(f"a^{{{gate}}}", n, 0)
        v = TimedVector(gate, n, 0)
        input_weights.append(W_i)
        hidden_weights.append(W_h)
        biases.append(b)
        pre_activations.append(a)
        gate_vectors[gate] = v
        equations.append(Equation(a.symbol, W_i * x.symbol + W_h * h_prev.symbol + b))
        equations.append(Equation(v.symbol, activation(_GATE_ACTIVATION[gate])(a.symbol)))

    i, g, o = (gate_vectors[k].symbol for k in "igo")
    write = sp.HadamardProduct(i, g)
    if variant == "pytorch":
        memory = sp.HadamardProduct(gate_vectors["f"].symbol, c_prev.symbol) + write
    else:
        memory = c_prev.symbol + write
    equations.append(Equation(c.symbol, memory))
    equations.append(Equation(h.symbol, sp.HadamardProduct(o, activation("tanh")(c.symbol))))

    order = ", ".join(gates)
    notes = [
        "Full state $s_t = [h_t; c_t]$: hidden vector first, then memory.",
        f"Gates ${order}$, stacked in this order in the rows of PyTorch's weight_ih, weight_hh, "
        "bias_ih and bias_hh; $W_{i*}$ multiplies the input $x_t$, $W_{h*}$ the previous "
        "hidden vector $h_{t-1}$.",
        "Each gate has one bias: $b_*$ is the sum of that gate's rows of bias_ih and bias_hh.",
        "Output form $h_t = o_t \\odot \\tanh(c_t)$ (PyTorch), not $\\tanh(o_t \\odot c_t)$.",
    ]
    if variant == "no_forget":
        notes.append(
            "No forget gate (Hochreiter and Schmidhuber 1997): $c_t = c_{t-1} + i_t \\odot g_t$; "
            "PyTorch weights load with the $f$ rows dropped."
        )
    title = (
        "LSTM (PyTorch nn.LSTMCell)" if variant == "pytorch" else "LSTM without forget gate (1997)"
    )
    return Cell(
        name="lstm",
        title=title,
        state=(h_prev, c_prev),
        new_state=(h, c),
        inputs=(x,),
        params=(*input_weights, *hidden_weights, *biases),
        equations=tuple(equations),
        intermediates=(*pre_activations, *gate_vectors.values()),
        dims=(n, m),
        notes=tuple(notes),
    )
