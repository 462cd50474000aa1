"""The LSTM family: PyTorch's ``nn.LSTMCell``, the 1997 cell without a forget gate, peepholes.

Equations in :mod:`.cell`, the blocks' closed forms in :mod:`.blocks`,
derivations (block Jacobians, the constant error carousel) in :mod:`.proof`
and what peepholes add to the carousel in :mod:`.peephole`; :data:`FAMILY`
registers the three with PyTorch's weight layout (gates ``i, f, g, o``), the
peephole weights as three more vectors.  No norm bound is declared: every
path but the memory-only one runs through the gate weights.
"""

from ..registry import CellFamily, TorchLayout
from .cell import LSTM_VARIANTS, lstm
from .peephole import peephole_carousel_derivation
from .proof import carousel_derivation, lstm_derivations, lstm_jacobian_derivation

__all__ = [
    "FAMILY",
    "LSTM_VARIANTS",
    "carousel_derivation",
    "lstm",
    "lstm_derivations",
    "lstm_jacobian_derivation",
    "peephole_carousel_derivation",
]

#: The LSTM as the registry knows it.  The cell without a forget gate reads
#: the same files; its f rows go unused.  PyTorch has no peephole cell: its
#: files hold an ``LSTMCell``'s four tensors and the peephole weights
#: ``weight_ci``, ``weight_cf``, ``weight_co``, each ``(H,)``.
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
        vectors={f"w_{{c{g}}}": f"weight_c{g}" for g in "ifo"},
    ),
    summary="the LSTM's full-state step Jacobian [h; c] and the constant error carousel",
)
