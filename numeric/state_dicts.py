"""A recurrent module's weights found in a whole model's ``state_dict``.

A model's ``state_dict`` names each tensor by the path of the module that
holds it: ``rnn.weight_ih_l0`` for ``self.rnn = nn.LSTM(...)``,
``encoder.rnn.weight_hh_l1`` one level down, beside unrelated keys such as
``fc.weight``.  A recurrent module shows by its ``weight_hh`` keys:
unsuffixed for a cell (``nn.LSTMCell``), ``weight_hh_l{k}`` for layer ``k``
of ``nn.RNN``/``nn.LSTM``/``nn.GRU``, ``weight_hh_l{k}_reverse`` for the
reverse direction of a bidirectional module.  Its cell type shows by the
shape of ``weight_hh``, ``(G*H, H)``: ``G`` gates, 1 for the Elman RNN,
3 for the GRU, 4 for the LSTM.

:func:`recurrent_modules` lists the modules in a file;
:func:`select_module` picks one for a cell family (by itself where the file
holds one module of that type, else by name) and returns its own keys,
prefix removed and one direction kept, for :func:`numeric.weights.torch_weights`
and :func:`numeric.stack.torch_stack`.  Refused, in one line: a choice that
is ambiguous or names no module, a bidirectional module without a direction,
a bidirectional stack measured whole, an LSTM with ``proj_size``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from symbolic.cells import Cell
from symbolic.registry import family, family_names

from .errors import GradproofInputError

if TYPE_CHECKING:
    from .compile import CompiledCell
    from .stack import StackedCell

__all__ = ["DIRECTIONS", "RecurrentModule", "recurrent_modules", "select_module", "torch_network"]

#: The directions of a bidirectional module.
DIRECTIONS = ("forward", "reverse")

_RECURRENT = re.compile(r"weight_hh(?:_l(?P<layer>\d+))?(?:_reverse)?")
_REVERSE = "_reverse"


@dataclass(frozen=True)
class RecurrentModule:
    """A recurrent module of a ``state_dict``, as its keys describe it.

    Attributes
    ----------
    name : str
        Its path in the model (``"encoder.rnn"``), ``""`` at the top level.
    gates : int or None
        ``G``, the row count of ``weight_hh`` over the hidden size; None
        where the shapes give no whole number.
    layers : int
        Number of layers (1 for a cell's unsuffixed names).
    bidirectional : bool
        Whether it has ``_reverse`` keys.
    proj_size : int or None
        The LSTM's ``proj_size`` (rows of ``weight_hr_l0``), None without one.
    """

    name: str
    gates: int | None
    layers: int
    bidirectional: bool
    proj_size: int | None

    @property
    def shown(self) -> str:
        """The name as messages show it.

        Examples
        --------
        >>> RecurrentModule("rnn", 4, 2, False, None).shown
        "module 'rnn'"
        >>> RecurrentModule("", 4, 1, False, None).shown
        'the module without a prefix'
        """
        return f"module {self.name!r}" if self.name else "the module without a prefix"

    @property
    def kind(self) -> str:
        """The registered family whose gate count it has, or ``"unknown"``.

        Examples
        --------
        >>> RecurrentModule("rnn", 3, 1, False, None).kind
        'gru'
        """
        return _families_by_gates().get(self.gates, "unknown")

    def describe(self) -> str:
        """Name, cell type and layers, for a list of candidates.

        Examples
        --------
        >>> RecurrentModule("encoder.rnn", 4, 2, True, None).describe()
        "'encoder.rnn' (lstm, 2 layers, bidirectional)"
        """
        parts = [self.kind, f"{self.layers} layer{'s' if self.layers > 1 else ''}"]
        if self.bidirectional:
            parts.append("bidirectional")
        return f"{self.name!r} ({', '.join(parts)})"


def _families_by_gates() -> dict[int, str]:
    """Gate count -> registered family with a PyTorch layout (1: rnn, 3: gru, 4: lstm)."""
    found = {}
    for name in family_names():
        layout = family(name).layout
        if layout is not None:
            found.setdefault(len(layout.gates), name)
    return found


def _split(key: str) -> tuple[str, str]:
    """``"encoder.rnn.weight_hh_l0"`` -> ``("encoder.rnn", "weight_hh_l0")``."""
    prefix, _, leaf = key.rpartition(".")
    return prefix, leaf


def _own_keys(state: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The keys of module ``name`` itself (not of modules inside it), prefix removed."""
    own = {}
    for key, value in state.items():
        prefix, leaf = _split(key)
        if prefix == name:
            own[leaf] = value
    return own


def _module(state: Mapping[str, np.ndarray], name: str, layers: int) -> RecurrentModule:
    """What module ``name``'s keys say of it; its lowest layer gives the shapes."""
    own = _own_keys(state, name)
    first = min(k for k in own if _RECURRENT.fullmatch(k))  # weight_hh or weight_hh_l{lowest}
    proj = own.get(first.replace("weight_hh", "weight_hr"))
    rows_cols = np.shape(own[first])
    hidden = rows_cols[1:] if proj is None else np.shape(proj)[1:]
    gates = None
    if (
        len(rows_cols) == 2
        and len(hidden) == 1
        and hidden[0] >= 1
        and rows_cols[0] % hidden[0] == 0
    ):
        gates = rows_cols[0] // hidden[0] or None
    return RecurrentModule(
        name,
        gates,
        layers,
        any(k.endswith(_REVERSE) for k in own),
        None if proj is None else int(np.shape(proj)[0]),
    )


def recurrent_modules(state: Mapping[str, np.ndarray]) -> tuple[RecurrentModule, ...]:
    """Every recurrent module in ``state``, by name.

    Examples
    --------
    >>> state = {"rnn.weight_hh_l0": np.zeros((8, 2)), "rnn.weight_hh_l1": np.zeros((8, 2)),
    ...          "head.gru.weight_hh": np.zeros((6, 2)), "fc.weight": np.zeros((1, 2))}
    >>> [m.describe() for m in recurrent_modules(state)]
    ["'head.gru' (gru, 1 layer)", "'rnn' (lstm, 2 layers)"]
    """
    layers: dict[str, set] = {}
    for key in state:
        prefix, leaf = _split(key)
        found = _RECURRENT.fullmatch(leaf)
        if found:
            layers.setdefault(prefix, set()).add(found["layer"])
    return tuple(_module(state, name, len(layers[name])) for name in sorted(layers))


def _choose(
    modules: tuple[RecurrentModule, ...], family_name: str, module: str | None
) -> RecurrentModule:
    listed = ", ".join(m.describe() for m in modules)
    if module is not None:
        named = [m for m in modules if m.name == module]
        if not named:
            raise GradproofInputError(
                f"the weights have no recurrent module {module!r} (recurrent modules: {listed}); "
                "choose one of them with --module NAME"
            )
        return named[0]
    if len(modules) == 1:  # its shapes are checked against the cell by the caller
        return modules[0]
    gates = len(family(family_name).layout.gates)
    matching = [m for m in modules if m.gates == gates]
    if len(matching) == 1:
        return matching[0]
    if not matching:
        raise GradproofInputError(
            f"the weights have no {family_name} module (recurrent modules: {listed}); "
            "name the cell type of one of them, e.g. gradproof flow "
            f"{next((m.kind for m in modules if m.kind != 'unknown'), 'rnn')}"
        )
    candidates = ", ".join(m.describe() for m in matching)
    raise GradproofInputError(
        f"the weights have {len(matching)} {family_name} modules ({candidates}); "
        "choose one with --module NAME"
    )


def select_module(
    state: Mapping[str, np.ndarray],
    family_name: str,
    *,
    module: str | None = None,
    direction: str | None = None,
    layer: int | None = None,
) -> tuple[RecurrentModule | None, dict[str, np.ndarray]]:
    """One recurrent module's keys, prefix removed, one direction kept.

    Parameters
    ----------
    state : mapping of str to ndarray
        A model's or a module's ``state_dict``, as arrays.
    family_name : str
        The cell family measured (``"rnn"``, ``"lstm"``, ``"gru"``): where
        ``module`` is None, the one module with its gate count is taken.
    module : str, optional
        The module's path in the model (``"rnn"``, ``"encoder.rnn"``).
    direction : {"forward", "reverse"}, optional
        Required for a bidirectional module, refused for any other; the
        reverse direction's keys are returned under the forward names.
    layer : int, optional
        The layer to be measured; None measures the whole stack, which a
        bidirectional module of several layers is not (its layer ``k+1``
        reads both directions' outputs of layer ``k``).

    Returns
    -------
    (RecurrentModule or None, dict)
        The module chosen and its keys; ``(None, dict(state))`` where
        ``state`` has no ``weight_hh`` key at all (its own errors follow).

    Examples
    --------
    >>> state = {"rnn.weight_hh_l0": np.zeros((8, 2)), "rnn.weight_ih_l0": np.zeros((8, 3)),
    ...          "rnn.weight_hh_l0_reverse": np.ones((8, 2)), "fc.weight": np.zeros((1, 4))}
    >>> found, keys = select_module(state, "lstm", direction="reverse")
    >>> found.name, sorted(keys), float(keys["weight_hh_l0"][0, 0])
    ('rnn', ['weight_hh_l0'], 1.0)
    >>> select_module(state, "lstm")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: module 'rnn' is bidirectional (its keys ending in _reverse are the reverse direction, a recurrence of its own); choose --direction forward or --direction reverse
    """
    modules = recurrent_modules(state)
    if not modules:
        if module is not None or direction is not None:
            flag = "--module" if module is not None else "--direction"
            raise GradproofInputError(
                f"{flag} selects a recurrent module, and the weights have none (no key ending "
                "in weight_hh or weight_hh_l0); drop it, or export the model's full state_dict"
            )
        return None, dict(state)
    chosen = _choose(modules, family_name, module)
    if chosen.proj_size is not None:
        raise GradproofInputError(
            f"{chosen.shown} is an LSTM with proj_size = {chosen.proj_size} (key weight_hr_l0): "
            "its hidden vector is projected, h = W_hr (o * tanh(c)), which the lstm cell does "
            "not model; measure a module built without proj_size"
        )
    if direction is not None and direction not in DIRECTIONS:
        raise GradproofInputError(f"--direction must be forward or reverse, got {direction!r}")
    if chosen.bidirectional and direction is None:
        raise GradproofInputError(
            f"{chosen.shown} is bidirectional (its keys ending in _reverse are the reverse "
            "direction, a recurrence of its own); choose --direction forward or --direction reverse"
        )
    if not chosen.bidirectional and direction is not None:
        raise GradproofInputError(
            f"--direction selects a direction of a bidirectional module, and {chosen.shown} has "
            "no _reverse keys; drop --direction"
        )
    if chosen.bidirectional and chosen.layers > 1 and layer is None:
        raise GradproofInputError(
            f"{chosen.shown} is a bidirectional stack of {chosen.layers} layers, which is not one "
            "recurrence along time (layer 1 reads both directions' outputs of layer 0, and the "
            "reverse direction runs backwards in time); measure one layer and direction with "
            "--layer K --direction forward|reverse"
        )
    own = {}
    for key, value in _own_keys(state, chosen.name).items():
        reverse = key.endswith(_REVERSE)
        if reverse == (direction == "reverse"):
            own[key.removesuffix(_REVERSE)] = value
    return chosen, own


def torch_network(
    state: Mapping[str, np.ndarray],
    family_name: str,
    cell: Cell,
    options: Mapping[str, str] | None = None,
    *,
    module: str | None = None,
    direction: str | None = None,
    layer: int | None = None,
) -> tuple[CompiledCell | StackedCell, dict[str, np.ndarray]]:
    """The network a ``state_dict`` holds, as ``flow`` measures it, and its parameters.

    One layer (a cell's unsuffixed names, a one-layer module, or ``layer``)
    is the compiled ``cell`` with its parameters; a module of several layers
    is the stacked network (:func:`numeric.stack.torch_stack`, parameters ``{}``).

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> state = {f"rnn.{w}_l{l}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh")
    ...          for l in range(2)}
    >>> model, params = torch_network(state, "rnn", elman_rnn("tanh"))
    >>> type(model).__name__, model.depth, params
    ('StackedCell', 2, {})
    >>> model, params = torch_network(state, "rnn", elman_rnn("tanh"), layer=1)
    >>> type(model).__name__, sorted(params)
    ('CompiledCell', ['U', 'W', 'b'])
    """
    from .compile import compile_cell
    from .stack import layer_indices, torch_stack
    from .weights import cell_sizes, torch_weights

    _, state = select_module(state, family_name, module=module, direction=direction, layer=layer)
    if layer is None and "weight_hh" not in state:
        layers = layer_indices(state)
        if len(layers) > 1:
            return torch_stack(state, family_name, **dict(options or {})), {}
        layer = layers[0]
    params = torch_weights(state, family_name, layer, cell).params
    return compile_cell(cell, **cell_sizes(cell, params)), params
