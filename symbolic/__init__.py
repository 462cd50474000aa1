"""gradproof's symbolic side: cells, structured Jacobians, bounds, derivations, LaTeX.

Pure SymPy: nothing here imports NumPy.  :mod:`numeric` builds on it.
"""

from .activations import ACTIVATIONS, Activation, activation
from .cells import Cell, Equation, TimedVector, elman_rnn
from .derivation import Derivation, Step, verify_exact
from .jacobians import chain, derivative, step_jacobian
from .latex import latex, render
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
    "latex",
    "render",
    "rnn_derivations",
    "step_jacobian",
    "verify_exact",
]
