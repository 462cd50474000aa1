"""gradproof's symbolic side: cells, structured Jacobians, bounds, derivations, LaTeX.

Pure SymPy: nothing here imports NumPy.  :mod:`numeric` builds on it.
"""

from .activations import ACTIVATIONS, Activation, activation
from .cells import Cell, Equation, TimedVector, elman_rnn
from .derivation import Derivation, Step, verify_exact
from .gated_proofs import gru_derivations, lstm_derivations
from .grid_lstm import grid_lstm_2d
from .grid_proofs import grid_derivations
from .gru import gru
from .jacobians import chain, derivative, step_jacobian
from .latex import latex, render
from .lstm import lstm
from .rnn_proof import rnn_derivations

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Cell",
    "Derivation",
    "Equation",
    "Step",
    "TimedVector",
    "activation",
    "chain",
    "derivative",
    "elman_rnn",
    "grid_derivations",
    "grid_lstm_2d",
    "gru",
    "gru_derivations",
    "latex",
    "lstm",
    "lstm_derivations",
    "render",
    "rnn_derivations",
    "step_jacobian",
    "verify_exact",
]
