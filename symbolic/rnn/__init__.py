"""The Elman RNN family and the vanishing-gradient argument (Q1).

The cell is ``a_t = W h_{t-1} + U x_t + b``, ``h_t = f(a_t)``, with the step
bound ``gamma sigma_max(W)``; :mod:`.proof` holds the chain, the bound, the
linear case and the eigenvalue counterexample.  :data:`FAMILY` registers it
with PyTorch's ``nn.RNNCell`` layout.
"""

from ..activations import ACTIVATIONS
from ..registry import CellFamily, TorchLayout
from .cell import elman_rnn
from .proof import rnn_derivations

__all__ = ["FAMILY", "elman_rnn", "rnn_derivations"]

#: The Elman RNN as the registry knows it.
FAMILY = CellFamily(
    name="rnn",
    build=lambda activation: elman_rnn(activation),
    options={"activation": ("tanh", *sorted(set(ACTIVATIONS) - {"tanh"}))},
    derivations=lambda activation: rnn_derivations(activation),
    layout=TorchLayout(
        gates=("h",),
        params={
            "W": (("weight_hh", "h"),),
            "U": (("weight_ih", "h"),),
            "b": (("bias_ih", "h"), ("bias_hh", "h")),
        },
        module=lambda activation: (
            ("RNNCell", {"nonlinearity": activation}) if activation in ("tanh", "relu") else None
        ),
    ),
    summary="Q1: the Jacobian chain, the norm bound with gamma derived, the linear case, "
    "the eigenvalue counterexample",
)
