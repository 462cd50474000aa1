"""gradproof's numeric side: compiled cells, the finite-difference checker,
verification of derivations, gradient flow in real weights, and the CLI.

Names are imported on first use (:pep:`562`), so that the command line
(:mod:`numeric.cli`) starts without NumPy, SymPy or matplotlib and each
command imports only what it runs.

Examples
--------
>>> from numeric import verify, compile_cell
>>> callable(verify), compile_cell.__module__
(True, 'numeric.compile')
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "GradproofInputError": "errors",
    "evaluate_bound": "bounds",
    "check_jacobian": "check",
    "compile_cell": "compile",
    "gradient_flow": "flow",
    "lambdify_matrix": "compile",
    "verify": "verify",
}

__all__ = [
    "GradproofInputError",
    "evaluate_bound",
    "check_jacobian",
    "compile_cell",
    "gradient_flow",
    "lambdify_matrix",
    "verify",
]

#: Exported names that are also submodules: ``numeric.verify`` is the function,
#: as it was when this package imported everything eagerly, while
#: ``from numeric.verify import verify`` still reaches the module (through
#: ``sys.modules``).
_SHADOWED = frozenset({"verify"})


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """Keeps an exported name from being replaced by the submodule of the same name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the import system binding the submodule; the export wins
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
