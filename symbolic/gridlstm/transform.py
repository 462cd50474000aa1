"""The LSTM transform of one Grid LSTM dimension: ``(h', m') = LSTM(H, m, W)``.

The gates read the concatenated hidden vector ``H = [h_1; ...; h_N]``, each
gate weight given as one block per read vector (``W H = sum_j W^{j} h_j``):
``g^u = sigma(W^u H)``, ``g^f = sigma(W^f H)``, ``g^o = sigma(W^o H)``,
``g^c = tanh(W^c H)``.  The memory update ``m' = g^f * m + g^u * g^c`` is
additive; the output form is the paper's ``h' = tanh(g^o ⊙ m')`` or the
standard ``h' = g^o ⊙ tanh(m')`` (:data:`OUTPUT_FORMS`).

With peepholes (Gers, Schraudolph and Schmidhuber 2002; TensorFlow's
``LSTMCell(use_peepholes=True)``) the input and forget gates also read the
incoming memory, ``+ p^u ⊙ m`` and ``+ p^f ⊙ m``, and the output gate the new
memory, ``+ p^o ⊙ m'``, through diagonal weights (vectors): the output gate is
then computed after ``m'`` (:data:`PEEPHOLE_READS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from ..activations import activation
from ..cells import Equation

__all__ = ["GATE_ROLES", "OUTPUT_FORMS", "PEEPHOLE_READS", "LSTMTransform"]

#: The four gates of an LSTM transform, by role, in PyTorch's row order.
GATE_ROLES = ("input", "forget", "candidate", "output")
#: The paper's letters for the gates (PyTorch calls them i, f, g, o).
_LETTERS = {"input": "u", "forget": "f", "candidate": "c", "output": "o"}
_GATE_ACTIVATION = {
    "input": "sigmoid",
    "forget": "sigmoid",
    "candidate": "tanh",
    "output": "sigmoid",
}

#: The gates with a peephole, and the memory each reads: incoming or new.
PEEPHOLE_READS = {"input": "in", "forget": "in", "output": "new"}

#: Output forms of the LSTM transform and the formula each one means.
OUTPUT_FORMS = {
    "paper": "h' = tanh(g^o ⊙ m') (Kalchbrenner et al. 2016)",
    "standard": "h' = g^o ⊙ tanh(m') (Hochreiter and Schmidhuber; PyTorch)",
}


@dataclass(frozen=True)
class LSTMTransform:
    """The LSTM transform ``(h', m') = LSTM(H, m, W)`` with a chosen output form.

    ``g^u = sigma(W^u H)``, ``g^f = sigma(W^f H)``, ``g^o = sigma(W^o H)``,
    ``g^c = tanh(W^c H)``, ``m' = g^f * m + g^u * g^c`` and either
    ``h' = tanh(g^o ⊙ m')`` (``"paper"``) or ``h' = g^o ⊙ tanh(m')``
    (``"standard"``); with ``biases`` each pre-activation gains ``+ b``, with
    ``peepholes`` the gates of :data:`PEEPHOLE_READS` gain ``+ p ⊙ m`` (input,
    forget) or ``+ p ⊙ m'`` (output).

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> vec = lambda name: sp.MatrixSymbol(name, n, 1)
    >>> W = {role: (sp.MatrixSymbol(f"W_{role[0]}", n, n),) for role in GATE_ROLES}
    >>> eqs = LSTMTransform("standard").equations(
    ...     (vec("x"),), vec("m"), W, {},
    ...     {role: vec(f"a_{role[0]}") for role in GATE_ROLES},
    ...     {role: vec(f"g_{role[0]}") for role in GATE_ROLES}, vec("h'"), vec("m'"))
    >>> [str(eq.lhs) for eq in eqs[-4:]]
    ['a_o', 'g_o', "m'", "h'"]
    >>> str(eqs[-2].rhs)
    'HadamardProduct(g_c, g_i) + HadamardProduct(g_f, m)'
    >>> p = {role: vec(f"p_{role[0]}") for role in PEEPHOLE_READS}
    >>> eqs = LSTMTransform("standard", peepholes=True).equations(
    ...     (vec("x"),), vec("m"), W, {},
    ...     {role: vec(f"a_{role[0]}") for role in GATE_ROLES},
    ...     {role: vec(f"g_{role[0]}") for role in GATE_ROLES}, vec("h'"), vec("m'"), p)
    >>> [str(eq.lhs) for eq in eqs[-4:]]
    ["m'", 'a_o', 'g_o', "h'"]
    >>> str(eqs[0].rhs), str(eqs[-3].rhs)
    ('HadamardProduct(p_i, m) + W_i*x', "HadamardProduct(p_o, m') + W_o*x")
    """

    output_form: str = "paper"
    biases: bool = False
    peepholes: bool = False

    def __post_init__(self) -> None:
        if self.output_form not in OUTPUT_FORMS:
            raise ValueError(
                f"output_form must be one of {', '.join(OUTPUT_FORMS)}, got {self.output_form!r}"
            )

    def equations(
        self,
        reads: Sequence[sp.MatrixExpr],
        memory: sp.MatrixExpr,
        weights: Mapping[str, Sequence[sp.MatrixSymbol]],
        biases: Mapping[str, sp.MatrixSymbol],
        preactivations: Mapping[str, sp.MatrixSymbol],
        gates: Mapping[str, sp.MatrixSymbol],
        hidden: sp.MatrixSymbol,
        new_memory: sp.MatrixSymbol,
        peepholes: Mapping[str, sp.MatrixSymbol] | None = None,
    ) -> tuple[Equation, ...]:
        """Pre-activations, gates, new memory and new hidden vector, in order.

        ``weights[role][j]`` multiplies ``reads[j]``; ``biases[role]`` is used
        only when :attr:`biases` is set, ``peepholes[role]`` (the roles of
        :data:`PEEPHOLE_READS`) only when :attr:`peepholes` is.
        """
        memories = {"in": memory, "new": new_memory}
        gate_equations = {}
        for role in GATE_ROLES:
            terms = [w * v for w, v in zip(weights[role], reads, strict=True)]
            if self.biases:
                terms.append(biases[role])
            if self.peepholes and role in PEEPHOLE_READS:
                terms.append(HadamardProduct(peepholes[role], memories[PEEPHOLE_READS[role]]))
            act = activation(_GATE_ACTIVATION[role])
            gate_equations[role] = (
                Equation(preactivations[role], sp.MatAdd(*terms)),
                Equation(gates[role], act(preactivations[role])),
            )
        # A gate reading the new memory is computed after it.
        after = [r for r in GATE_ROLES if self.peepholes and PEEPHOLE_READS.get(r) == "new"]
        out = [eq for r in GATE_ROLES if r not in after for eq in gate_equations[r]]
        g = gates
        write = HadamardProduct(g["input"], g["candidate"])
        out.append(Equation(new_memory, HadamardProduct(g["forget"], memory) + write))
        out += [eq for r in after for eq in gate_equations[r]]
        tanh = activation("tanh")
        if self.output_form == "paper":
            h = tanh(HadamardProduct(g["output"], new_memory))
        else:
            h = HadamardProduct(g["output"], tanh(new_memory))
        out.append(Equation(hidden, h))
        return tuple(out)
