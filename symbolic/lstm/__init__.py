"""The LSTM family: PyTorch's ``nn.LSTMCell`` and the 1997 cell without a forget gate.

Equations in :mod:`.cell`, derivations (block Jacobians, the constant error
carousel) in :mod:`.proof`; :data:`FAMILY` registers both with PyTorch's
weight layout (gates ``i, f, g, o``).  No norm bound is declared: every path
but the memory-only one runs through the gate weights.
"""

from ..registry import CellFamily, TorchLayout
from .cell import LSTM_VARIANTS, lstm
from .proof import carousel_derivation, lstm_derivations, lstm_jacobian_derivation

__all__ = [
    "FAMILY",
    "LSTM_VARIANTS",
    "carousel_derivation",
    "lstm",
    "lstm_derivations",
    "lstm_jacobian_derivation",
]

#: The LSTM as the registry knows it.  The cell without a forget gate reads
#: the same files; its f rows go unused.
FAMILY = CellFamily(
    name="lstm",
    build=lstm,
    options={"variant": LSTM_VARIANTS},
    derivations=lstm_derivations,
    layout=TorchLayout(
        gates=("i", "f", "g", "o"),
        params={
            **{f"W_{{i{g}}}": (("weight_ih", g),) for g in "ifgo"},
            **{f"W_{{h{g}}}": (("weight_hh", g),) for g in "ifgo"},
            **{f"b_{{{g}}}": (("bias_ih", g), ("bias_hh", g)) for g in "ifgo"},
        },
        module=lambda variant: ("LSTMCell", {}) if variant == "pytorch" else None,
    ),
    summary="the LSTM's full-state step Jacobian [h; c] and the constant error carousel",
)
