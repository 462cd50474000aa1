"""gradproof's symbolic side: cells, structured Jacobians, bounds, derivations, LaTeX.

Pure SymPy: nothing here imports NumPy.  :mod:`numeric` builds on it.

The public face: build a cell (:class:`CellBuilder`, or :class:`Cell`
directly), declare its per-step bound (:class:`StepBound` with
:class:`SigmaMax` and :class:`MaxAbs`), derive (:func:`cell_derivations`),
render (:func:`render`, :func:`latex`, :func:`text`); look up a registered
family or a user's ``file.py:function`` with :func:`family`, add one with
:func:`register`.  The built-in families live in :mod:`symbolic.rnn`,
:mod:`symbolic.lstm`, :mod:`symbolic.gru` and :mod:`symbolic.gridlstm`.

Names are imported on first use (:pep:`562`), so that importing
:mod:`symbolic.registry` (what ``gradproof --help`` needs) does not import
SymPy.

Examples
--------
>>> from symbolic import latex, family_names
>>> callable(latex), family_names()
(True, ['gridlstm', 'gru', 'lstm', 'rnn'])
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "ACTIVATIONS": "activations",
    "Activation": "activations",
    "activation": "activations",
    "MaxAbs": "bounds",
    "SigmaMax": "bounds",
    "StepBound": "bounds",
    "CellBuilder": "builder",
    "elementwise": "builder",
    "hadamard": "builder",
    "Cell": "cells",
    "Equation": "cells",
    "TimedVector": "cells",
    "Derivation": "derivation",
    "Step": "derivation",
    "verify_exact": "derivation",
    "cell_derivations": "generic",
    "chain": "jacobians",
    "derivative": "jacobians",
    "step_jacobian": "jacobians",
    "render": "latex",
    "latex": "printers",
    "text": "printers",
    "CellFamily": "registry",
    "TorchLayout": "registry",
    "family": "registry",
    "family_names": "registry",
    "register": "registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


#: Exported names that are also submodules: ``symbolic.latex`` is the printer
#: function, as it was when this package imported everything eagerly, while
#: ``import symbolic.latex`` and ``from symbolic.latex import render`` still
#: reach the module (through ``sys.modules``).
_SHADOWED = frozenset({"latex"})


class _Package(types.ModuleType):
    """Keeps an exported name from being replaced by the submodule of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the import system binding the submodule; the export wins
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
