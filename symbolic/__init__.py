"""gradproof's symbolic side: cells, structured Jacobians, bounds, derivations, LaTeX.

Pure SymPy: nothing here imports NumPy.  :mod:`numeric` builds on it.

The public face: build a cell (:class:`CellBuilder`, or :class:`Cell`
directly), declare its per-step bound (:class:`StepBound` with
:class:`SigmaMax` and :class:`MaxAbs`), derive (:func:`cell_derivations`),
render (:func:`render`, :func:`latex`, :func:`text`); look up a registered
family or a user's ``file.py:function`` with :func:`family`, add one with
:func:`register`.  The built-in families live in :mod:`symbolic.rnn`,
:mod:`symbolic.lstm`, :mod:`symbolic.gru` and :mod:`symbolic.gridlstm`.
"""

from .activations import ACTIVATIONS, Activation, activation
from .bounds import MaxAbs, SigmaMax, StepBound
from .builder import CellBuilder, elementwise, hadamard
from .cells import Cell, Equation, TimedVector
from .derivation import Derivation, Step, verify_exact
from .generic import cell_derivations
from .jacobians import chain, derivative, step_jacobian
from .latex import render
from .printers import latex, text
from .registry import CellFamily, TorchLayout, family, family_names, register

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Cell",
    "CellBuilder",
    "CellFamily",
    "Derivation",
    "Equation",
    "MaxAbs",
    "SigmaMax",
    "Step",
    "StepBound",
    "TimedVector",
    "TorchLayout",
    "activation",
    "cell_derivations",
    "chain",
    "derivative",
    "elementwise",
    "family",
    "family_names",
    "hadamard",
    "latex",
    "register",
    "render",
    "step_jacobian",
    "text",
    "verify_exact",
]
