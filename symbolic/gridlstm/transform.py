"""The LSTM transform of one Grid LSTM dimension: ``(h', m') = LSTM(H, m, W)``.

The gates read the concatenated hidden vector ``H = [h_1; ...; h_N]``, each
gate weight given as one block per read vector (``W H = sum_j W^{j} h_j``):
``g^u = sigma(W^u H)``, ``g^f = sigma(W^f H)``, ``g^o = sigma(W^o H)``,
``g^c = tanh(W^c H)``.  The memory update ``m' = g^f * m + g^u * g^c`` is
additive; the output form is the paper's ``h' = tanh(g^o ⊙ m')`` or the
standard ``h' = g^o ⊙ tanh(m')`` (:data:`OUTPUT_FORMS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from ..activations import activation
from ..cells import Equation

__all__ = ["GATE_ROLES", "OUTPUT_FORMS", "LSTMTransform"]

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
    (``"standard"``); with ``biases`` each pre-activation gains ``+ b``.

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
    """

    output_form: str = "paper"
    biases: bool = False

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
    ) -> tuple[Equation, ...]:
        """Pre-activations, gates, new memory and new hidden vector, in order.

        ``weights[role][j]`` multiplies ``reads[j]``; ``biases[role]`` is used
        only when :attr:`biases` is set.
        """
        out = []
        for role in GATE_ROLES:
            terms = [w * v for w, v in zip(weights[role], reads, strict=True)]
            if self.biases:
                terms.append(biases[role])
            out.append(Equation(preactivations[role], sp.MatAdd(*terms)))
            act = activation(_GATE_ACTIVATION[role])
            out.append(Equation(gates[role], act(preactivations[role])))
        g = gates
        write = HadamardProduct(g["input"], g["candidate"])
        out.append(Equation(new_memory, HadamardProduct(g["forget"], memory) + write))
        tanh = activation("tanh")
        if self.output_form == "paper":
            h = tanh(HadamardProduct(g["output"], new_memory))
        else:
            h = HadamardProduct(g["output"], tanh(new_memory))
        out.append(Equation(hidden, h))
        return tuple(out)
