"""The GRU family: PyTorch's ``nn.GRUCell`` and the textbook reset placement.

Equations in :mod:`.cell`, the block-by-block step Jacobian in
:mod:`.proof`; :data:`FAMILY` registers both with PyTorch's weight layout
(gates ``r, z, n``).  No norm bound is declared.
"""

from ..registry import CellFamily, TorchLayout
from .cell import GRU_VARIANTS, gru
from .proof import gru_derivations, gru_jacobian_derivation

__all__ = ["FAMILY", "GRU_VARIANTS", "gru", "gru_derivations", "gru_jacobian_derivation"]

#: The GRU as the registry knows it.  ``r`` multiplies ``W_hn h + b_hn``, so
#: the n biases stay apart.
FAMILY = CellFamily(
    name="gru",
    build=gru,
    options={"variant": GRU_VARIANTS},
    derivations=gru_derivations,
    layout=TorchLayout(
        gates=("r", "z", "n"),
        params={
            **{f"W_{{i{g}}}": (("weight_ih", g),) for g in "rzn"},
            **{f"W_{{h{g}}}": (("weight_hh", g),) for g in "rzn"},
            "b_{r}": (("bias_ih", "r"), ("bias_hh", "r")),
            "b_{z}": (("bias_ih", "z"), ("bias_hh", "z")),
            "b_{in}": (("bias_ih", "n"),),
            "b_{hn}": (("bias_hh", "n"),),
        },
        module=lambda variant: ("GRUCell", {}) if variant == "pytorch" else None,
    ),
    summary="the GRU's step Jacobian (PyTorch's r * (W_hn h + b_hn) or the textbook W_hn (r * h))",
)
