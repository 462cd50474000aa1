"""One registry for every cell: the built-ins and yours, through the same door.

A :class:`CellFamily` is the one place that declares everything gradproof
knows about a kind of cell: how to build it from its options, its
derivations (the generic one by default), its weight-file layout (PyTorch
gate slices, or none: then the file's keys are the parameter names) and, for
a family whose flow is not one cell stepped along time, the numeric runner
that measures it.  The per-step bound travels with the cell itself
(:attr:`symbolic.cells.Cell.bound`).

:func:`family` looks a name up: a registered name (``"rnn"``), or a user's
cell as ``path/to/file.py:function`` or ``package.module:function``, where
the function takes no arguments and returns a :class:`~symbolic.cells.Cell`
(the same ``module:attr`` convention as setuptools entry points).  Built-in
families are registered by entry point too and imported only when asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where needed: listing names must not import SymPy
    from .cells import Cell

__all__ = ["CellFamily", "TorchLayout", "family", "family_names", "load_entry_point", "register"]

_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class TorchLayout:
    """How a cell's parameters sit in a PyTorch ``state_dict``.

    PyTorch stacks the ``G`` gates of a recurrent layer along the rows:
    ``weight_ih (G*H, in)``, ``weight_hh (G*H, H)``, ``bias_ih (G*H,)``,
    ``bias_hh (G*H,)``; multi-layer modules suffix ``_l{k}``.

    Parameters
    ----------
    gates : tuple of str
        Gate names in PyTorch's stacking order (``G = len(gates)``).
    params : dict
        Symbolic parameter name -> the ``(tensor, gate)`` slices whose sum
        it is, ``tensor`` one of ``weight_ih, weight_hh, bias_ih, bias_hh``.
        Every parameter of the cell must be listed; gate rows no parameter
        reads (the forget rows, for the LSTM without one) are ignored.
    module : callable, optional
        ``module(**options)`` -> ``(name, kwargs)`` of the ``torch.nn`` cell
        computing the family's cell for those options (``("RNNCell",
        {"nonlinearity": "relu"})``), or None where PyTorch has none.
    vectors : dict, optional
        Symbolic parameter name -> key of a vector ``(H,)`` stored beside the
        stacked tensors, for parameters PyTorch's cells do not have (the
        peephole LSTM's ``weight_ci``); needed only by a cell with that
        parameter.

    Examples
    --------
    >>> layout = TorchLayout(("h",), {"W": (("weight_hh", "h"),)})
    >>> layout.params["W"]
    (('weight_hh', 'h'),)
    >>> TorchLayout(("h",), {"W": (("weight_hh", "h"),)}, vectors={"p": "weight_hh"})
    Traceback (most recent call last):
    ...
    ValueError: layout vector key 'weight_hh' of 'p' clashes with a stacked tensor or a parameter
    """

    gates: tuple[str, ...]
    params: Mapping[str, tuple[tuple[str, str], ...]] = field(hash=False)
    module: Callable[..., tuple[str, dict] | None] | None = field(default=None, compare=False)
    vectors: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name, terms in self.params.items():
            for tensor, gate in terms:
                if tensor not in _TENSORS or gate not in self.gates:
                    raise ValueError(
                        f"layout term {(tensor, gate)} of {name!r} is not a gate slice"
                    )
        for name, key in self.vectors.items():
            if key in _TENSORS or name in self.params:
                raise ValueError(
                    f"layout vector key {key!r} of {name!r} clashes with a stacked tensor "
                    "or a parameter"
                )


@dataclass(frozen=True)
class CellFamily:
    """Everything gradproof knows about one kind of cell.

    Parameters
    ----------
    name : str
        The name on the command line.
    build : callable
        ``build(**options) -> Cell``.
    options : mapping of str to tuple of str
        Each option's allowed values, the default first (e.g.
        ``{"activation": ("tanh", "relu", ...)}``); a leading None means no
        default: ``build`` and ``derivations`` decide when it is not given.
    derivations : callable, optional
        ``derivations(**options) -> tuple of Derivation``; by default the
        generic derivation of :func:`symbolic.generic.cell_derivations`.
    layout : TorchLayout, optional
        PyTorch weight layout; without one, weight files are keyed by the
        cell's parameter names.
    flow : str, optional
        ``"module:function"`` of a numeric runner for a family whose flow is
        not one cell along time (the Grid LSTM's time-by-depth grid).
    summary : str
        One line for ``--help``.
    weights_help : str
        For a family with its own weight-file format (no ``layout``, keys
        not the cell's parameter names): what ``gradproof params`` prints.
    """

    name: str
    build: Callable[..., Cell]
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    derivations: Callable[..., tuple] | None = None
    layout: TorchLayout | None = None
    flow: str | None = None
    summary: str = ""
    weights_help: str = ""

    def resolve(self, given: Mapping[str, Any]) -> dict[str, str]:
        """Options with defaults filled in; a value not allowed raises ``ValueError``.

        ``given`` maps option names to values or None (not given); options
        this family does not take must be None.

        Examples
        --------
        >>> fam = family("rnn")
        >>> fam.resolve({"activation": None})
        {'activation': 'tanh'}
        >>> fam.resolve({"variant": "pytorch"})
        Traceback (most recent call last):
        ...
        ValueError: --variant does not apply to rnn; drop it
        """
        resolved = {}
        for option, value in given.items():
            flag = "--" + option.replace("_", "-")
            allowed = self.options.get(option)
            if allowed is None:
                if value is not None:
                    raise ValueError(f"{flag} does not apply to {self.name}; drop it")
                continue
            if value is not None and value not in allowed:
                raise ValueError(
                    f"{flag} {value} is not available for {self.name}; "
                    f"choose one of {', '.join(a for a in allowed if a is not None)}"
                )
        for option, allowed in self.options.items():
            value = given.get(option)
            resolved[option] = allowed[0] if value is None else value
        return resolved

    def cell(self, **options: str) -> Cell:
        """The cell for these options (defaults where not given)."""
        return self.build(**self.resolve(options))

    def derive(self, **options: str) -> tuple:
        """The family's derivations for these options (unverified)."""
        chosen = self.resolve(options)
        if self.derivations is not None:
            return tuple(self.derivations(**chosen))
        from .generic import cell_derivations

        return cell_derivations(self.build(**chosen))


#: Registered families: name -> entry point ("module:attr") or the family itself.
_REGISTRY: dict[str, str | CellFamily] = {
    "rnn": "symbolic.rnn:FAMILY",
    "lstm": "symbolic.lstm:FAMILY",
    "gru": "symbolic.gru:FAMILY",
    "gridlstm": "symbolic.gridlstm:FAMILY",
}


def register(entry: CellFamily | str, name: str | None = None) -> None:
    """Add a family, or an entry point ``"module:attr"`` naming one, under ``name``.

    Examples
    --------
    >>> register("symbolic.rnn:FAMILY", name="elman")
    >>> family("elman").name
    'rnn'
    >>> _ = _REGISTRY.pop("elman")
    """
    key = name or (entry.name if isinstance(entry, CellFamily) else None)
    if not key:
        raise ValueError("register an entry point string under a name: register(spec, name=...)")
    _REGISTRY[key] = entry


def family_names() -> list[str]:
    """Names of the registered families, sorted.

    Examples
    --------
    >>> family_names()
    ['gridlstm', 'gru', 'lstm', 'rnn']
    """
    return sorted(_REGISTRY)


def load_entry_point(spec: str) -> Any:
    """The object ``attr`` of ``module:attr``; ``module`` a dotted name or a ``.py`` path.

    The file is imported as Python, as ``pytest`` or ``setuptools`` would;
    nothing is evaluated as an expression.

    Examples
    --------
    >>> load_entry_point("symbolic.rnn:elman_rnn").__name__
    'elman_rnn'
    >>> load_entry_point("no_colon")
    Traceback (most recent call last):
    ...
    ValueError: cell 'no_colon' is neither a registered name (gridlstm, gru, lstm, rnn) nor file.py:function or package.module:function
    """
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr.isidentifier():
        known = ", ".join(family_names())
        raise ValueError(
            f"cell {spec!r} is neither a registered name ({known}) "
            "nor file.py:function or package.module:function"
        )
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise ValueError(f"cell file {where!r} does not exist; check the path in {spec!r}")
        name = "gradproof_user_" + "".join(c if c.isalnum() else "_" for c in where)
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, where)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            try:
                loader_spec.loader.exec_module(module)
            except Exception as exc:  # the user's code: report it, do not crash
                del sys.modules[name]
                raise ValueError(f"importing {where} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(where)
        except ModuleNotFoundError as exc:
            raise ValueError(f"cannot import module {where!r} named in {spec!r}: {exc}") from None
    if not hasattr(module, attr):
        raise ValueError(f"{where} has no {attr!r}; check the name after the colon in {spec!r}")
    return getattr(module, attr)


def family(spec: str) -> CellFamily:
    """The family registered as ``spec``, or a user's cell ``file.py:function``.

    Examples
    --------
    >>> family("lstm").options["variant"]
    ('pytorch', 'no_forget', 'peephole')
    >>> family("symbolic.rnn:elman_rnn").cell().title
    'Elman RNN (tanh)'
    """
    entry = _REGISTRY.get(spec)
    if isinstance(entry, CellFamily):
        return entry
    if entry is not None:
        found = load_entry_point(entry)
        _REGISTRY[spec] = found
        return found
    build = load_entry_point(spec)
    if not callable(build):
        raise ValueError(f"{spec} is not a function returning a Cell")
    try:
        cell = build()
    except ValueError:
        raise
    except Exception as exc:  # the user's code: report it, do not crash
        raise ValueError(f"{spec} failed: {type(exc).__name__}: {exc}") from exc
    from .cells import Cell

    if not isinstance(cell, Cell):
        raise ValueError(f"{spec} returned {type(cell).__name__}, not a Cell")
    return CellFamily(name=spec, build=lambda: cell, summary=cell.title)
