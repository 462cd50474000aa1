"""The LSTM cell in PyTorch's form, the 1997 cell without a forget gate, and peepholes.

PyTorch's ``nn.LSTMCell`` stacks the gates ``i, f, g, o`` in that order in
``weight_ih`` (4H x in), ``weight_hh`` (4H x H), ``bias_ih`` and ``bias_hh``.
Here every gate has its own symbolic blocks, named as in PyTorch's
documentation: ``W_{ii}`` (rows ``0:H`` of ``weight_ih``), ``W_{hi}`` (rows
``0:H`` of ``weight_hh``), and so on.  The two biases of a gate only ever
appear summed, so each gate carries one bias ``b_i = b_{ii} + b_{hi}``.

Each gate is written through a named pre-activation (``a^{f}_{t}``), so the
structured Jacobian reads ``diag(sigma'(a^{f}_{t})) W_{hf}`` instead of
repeating the affine map.  The full state is ``s_t = [h_t; c_t]``.

The peephole cell (Gers, Schraudolph and Schmidhuber 2002; TensorFlow's
``LSTMCell(use_peepholes=True)``) adds a diagonal weight per gate that reads
the memory: ``w_{ci} ⊙ c_{t-1}`` and ``w_{cf} ⊙ c_{t-1}`` in the input and
forget gates, ``w_{co} ⊙ c_t`` (the *new* memory) in the output gate, which
is therefore computed after ``c_t``.
"""

from __future__ import annotations

import sympy as sp

from ..activations import activation
from ..cells import Cell, Equation, TimedVector

__all__ = ["LSTM_VARIANTS", "lstm"]

#: Accepted values of ``variant`` for :func:`lstm`.
LSTM_VARIANTS = ("pytorch", "no_forget", "peephole")

_GATES = {"pytorch": "ifgo", "no_forget": "igo", "peephole": "ifgo"}
_TITLES = {
    "pytorch": "LSTM (PyTorch nn.LSTMCell)",
    "no_forget": "LSTM without forget gate (1997)",
    "peephole": "LSTM with peepholes (Gers, Schraudolph and Schmidhuber 2002)",
}
_GATE_ACTIVATION = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid"}


def lstm(variant: str = "pytorch") -> Cell:
    """The LSTM cell ``c_t = f_t * c_{t-1} + i_t * g_t``, ``h_t = o_t * tanh(c_t)``.

    Parameters
    ----------
    variant : {"pytorch", "no_forget", "peephole"}
        ``"pytorch"``: ``nn.LSTMCell`` (gates ``i, f, g, o``).
        ``"no_forget"``: Hochreiter and Schmidhuber's 1997 cell, in which the
        memory is carried unchanged, ``c_t = c_{t-1} + i_t * g_t`` (the
        constant error carousel); there is no ``f`` gate and no ``W_{if}``,
        ``W_{hf}``, ``b_f``.
        ``"peephole"``: the PyTorch cell plus peepholes (Gers, Schraudolph and
        Schmidhuber 2002): ``a^{i}_t`` and ``a^{f}_t`` gain ``w_{ci} ⊙ c_{t-1}``
        and ``w_{cf} ⊙ c_{t-1}``, ``a^{o}_t`` gains ``w_{co} ⊙ c_t``.

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
    >>> peephole = lstm("peephole")
    >>> [str(eq.lhs) for eq in peephole.equations][-4:]
    ['c_{t}', 'a^{o}_{t}', 'o_{t}', 'h_{t}']
    >>> str(peephole.equations[-3].rhs)
    'HadamardProduct(c_{t}, w_{co}) + W_{ho}*h_{t-1} + W_{io}*x_{t} + b_{o}'
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
    # The memory each peephole reads: the old one for i and f, the new one for o.
    reads = {"i": c_prev, "f": c_prev, "o": c} if variant == "peephole" else {}

    input_weights, hidden_weights, biases, peepholes = [], [], [], []
    pre_activations, gate_vectors, gate_equations = [], {}, {}
    for gate in gates:
        W_i = sp.MatrixSymbol(f"W_{{i{gate}}}", n, m)
        W_h = sp.MatrixSymbol(f"W_{{h{gate}}}", n, n)
        b = sp.MatrixSymbol(f"b_{{{gate}}}", n, 1)
        a = TimedVector(f"a^{{{gate}}}", n, 0)
        v = TimedVector(gate, n, 0)
        pre = W_i * x.symbol + W_h * h_prev.symbol + b
        if gate in reads:
            peepholes.append(sp.MatrixSymbol(f"w_{{c{gate}}}", n, 1))
            pre = pre + sp.HadamardProduct(peepholes[-1], reads[gate].symbol)
        input_weights.append(W_i)
        hidden_weights.append(W_h)
        biases.append(b)
        pre_activations.append(a)
        gate_vectors[gate] = v
        gate_equations[gate] = (
            Equation(a.symbol, pre),
            Equation(v.symbol, activation(_GATE_ACTIVATION[gate])(a.symbol)),
        )

    i, g, o = (gate_vectors[k].symbol for k in "igo")
    write = sp.HadamardProduct(i, g)
    if "f" in gates:
        memory = sp.HadamardProduct(gate_vectors["f"].symbol, c_prev.symbol) + write
    else:
        memory = c_prev.symbol + write
    # A gate reading the new memory is computed after it.
    after = [k for k in gates if reads.get(k) is c]
    equations = [eq for k in gates if k not in after for eq in gate_equations[k]]
    equations.append(Equation(c.symbol, memory))
    equations += [eq for k in after for eq in gate_equations[k]]
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
    if variant == "peephole":
        notes.append(
            "Peepholes (Gers, Schraudolph and Schmidhuber 2002; TensorFlow's LSTMCell with "
            "use_peepholes): the input and forget gates read the old memory $c_{t-1}$, the "
            "output gate the new memory $c_t$, each through a diagonal weight, the vector "
            "$w_{c*}$ applied elementwise. PyTorch has no such cell: weight files hold the "
            "four LSTMCell tensors and the vectors weight_ci, weight_cf, weight_co."
        )
    return Cell(
        name="lstm",
        title=_TITLES[variant],
        state=(h_prev, c_prev),
        new_state=(h, c),
        inputs=(x,),
        params=(*input_weights, *hidden_weights, *biases, *peepholes),
        equations=tuple(equations),
        intermediates=(*pre_activations, *gate_vectors.values()),
        dims=(n, m),
        notes=tuple(notes),
    )
