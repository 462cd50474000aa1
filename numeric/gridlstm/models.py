"""The grid models the numeric side runs: the 2D models by name, N-dimensional grids.

``"gridlstm"`` is the 2D Grid LSTM of :mod:`symbolic.gridlstm.sequence_models`
(the paper's block or the stacked reading of it, with biases, as the weight
files have them), ``"stacked-lstm"`` and ``"stacked-rnn"`` the stacked models
it is compared with.  :func:`grid_nd` builds a Grid LSTM of any number of
dimensions over sequences, each running along time or depth, LSTM or not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sympy as sp

from symbolic.cells import t
from symbolic.gridlstm.block import Dimension, ell, grid_block
from symbolic.gridlstm.sequence_models import (
    GridSequenceModel,
    grid_lstm_2d,
    stacked_lstm_2d,
    stacked_rnn_2d,
)
from symbolic.gridlstm.transform import LSTMTransform

from ..errors import GradproofInputError
from .sequence_grids import MEMORY_INPUTS, SequenceGrid

__all__ = ["GRID_MODELS", "grid_model", "grid_nd", "grid_transform"]

#: Models the numeric side runs, by name.
GRID_MODELS = ("gridlstm", "stacked-lstm", "stacked-rnn")


def grid_model(
    name: str = "gridlstm",
    *,
    output_form: str | None = None,
    priority: str | None = None,
    variant: str = "paper",
) -> GridSequenceModel:
    """The symbolic model behind a numeric run.

    ``"gridlstm"`` is :func:`~symbolic.gridlstm.sequence_models.grid_lstm_2d`
    of ``variant`` (``"paper"`` or ``"stacked"``), always with biases (the
    weight files have them); options not given are the variant's own, so
    ``variant="stacked"`` runs the stacked reading's output form, and a
    conflicting option raises a one-line :class:`GradproofInputError`.
    ``"stacked-lstm"`` and ``"stacked-rnn"`` are the comparison models.

    Examples
    --------
    >>> grid_model("stacked-rnn").name
    'stacked-rnn'
    >>> grid_model(variant="stacked").block.transform.output_form
    'standard'
    >>> grid_model(variant="stacked", output_form="paper")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: variant stacked uses output form standard; drop --output-form or choose variant paper
    """
    if name == "gridlstm":
        try:
            return grid_lstm_2d(variant, output_form, priority, True)
        except ValueError as exc:
            raise GradproofInputError(str(exc)) from None
    if name == "stacked-lstm":
        return stacked_lstm_2d("standard")
    if name == "stacked-rnn":
        return stacked_rnn_2d()
    raise GradproofInputError(
        f"unknown grid model {name!r}; choose one of {', '.join(GRID_MODELS)}"
    )


#: A dimension's name: what it runs along, and a number to tell two apart.
_NAME = re.compile(r"(time|depth)([2-9]?)")


def grid_transform(output_form: str = "paper", peepholes: bool = False) -> LSTMTransform:
    """The LSTM transform of a numeric grid: biases always (weight files have them).

    ``peepholes``: diagonal weights reading the old memory in the input and
    forget gates, the new memory in the output gate (Gers, Schraudolph and
    Schmidhuber 2002).

    Examples
    --------
    >>> grid_transform("standard", peepholes=True)
    LSTMTransform(output_form='standard', biases=True, peepholes=True)
    """
    try:
        return LSTMTransform(output_form, biases=True, peepholes=peepholes)
    except ValueError as exc:
        raise GradproofInputError(str(exc).replace("output_form", "output form")) from None


def grid_nd(
    dims: Sequence[str] = ("time", "depth"),
    *,
    non_lstm: Mapping[str, str] | None = None,
    priority: Sequence[str] = (),
    tied: bool = False,
    peepholes: bool = False,
    output_form: str = "paper",
    memory_input: str = "zero",
) -> SequenceGrid:
    """A Grid LSTM of ``len(dims)`` dimensions over sequences (Kalchbrenner et al. 2016).

    Parameters
    ----------
    dims : sequence of str
        The dimensions in the order of ``H = [h_1; ...; h_N]``, each named
        ``time`` or ``depth`` and a digit to tell two apart (``time2``): what
        it runs along.  The first depth dimension takes the input and gives
        the output (:mod:`numeric.gridlstm.sequence_grids`).  ``("depth",)``
        is the 1D Grid LSTM, a feed-forward stack of LSTM blocks;
        ``("depth", "time", "time2")`` is TensorFlow's 3D cell.
    non_lstm : mapping of str to str, optional
        Non-LSTM dimensions ``h' = alpha(V H + c)``: name to ``alpha``
        (``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"identity"``).
    priority : sequence of str
        Priority dimensions, computed last in this order, each reading the
        new hidden vectors of the dimensions computed before it.
    tied : bool
        Tie the weights across dimensions: all LSTM dimensions share one
        weight set (weight-file name ``lstm``), the non-LSTM dimensions one
        per activation (``relu``, ...).  Tying across layers is a property of
        the weights (:func:`~numeric.gridlstm.weight_files.random_grid_weights`).
    peepholes : bool
        Peephole weights in every LSTM dimension.
    output_form : {"paper", "standard"}
        ``h' = tanh(g^o ⊙ m')`` or ``h' = g^o ⊙ tanh(m')``.
    memory_input : {"zero", "projection", "shared"}
        The input dimension's memory below the first layer
        (:data:`~numeric.gridlstm.sequence_grids.MEMORY_INPUTS`).

    Examples
    --------
    >>> grid = grid_nd(("time", "depth", "time2"), non_lstm={"time2": "relu"}, priority=["depth"])
    >>> grid.time, grid.depth, grid.block.order
    (('T', 'T2'), ('D',), ('T', 'T2', 'D'))
    >>> [str(s) for s in grid.block.cell.state_symbols][-1]
    "h^{T2}_{t,l,t'-1}"
    >>> grid_nd(("depth", "depth"))
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: dimension names must differ, got depth, depth; number a second one, e.g. depth2
    """
    names = tuple(dims)
    bad = [n for n in names if not _NAME.fullmatch(n)]
    if not names or bad:
        raise GradproofInputError(
            f"dimensions are named time or depth with an optional digit 2-9, got {', '.join(bad)}"
            if bad
            else "a grid needs at least one dimension, e.g. time,depth"
        )
    if len(set(names)) != len(names):
        raise GradproofInputError(
            f"dimension names must differ, got {', '.join(names)}; number a second one, "
            f"e.g. {names[0]}2"
        )
    kinds = dict(non_lstm or {})
    if len(set(priority)) != len(priority):
        raise GradproofInputError(f"priority names a dimension twice: {', '.join(priority)}")
    for name in [*kinds, *priority]:
        if name not in names:
            raise GradproofInputError(
                f"{name!r} is not a dimension of this grid; its dimensions are {', '.join(names)}"
            )
    if memory_input not in MEMORY_INPUTS:
        raise GradproofInputError(
            f"memory input must be one of {', '.join(MEMORY_INPUTS)}, got {memory_input!r}"
        )
    label = {n: n[0].upper() + n[-1] if n[-1].isdigit() else n[0].upper() for n in names}
    # Axes t and l, then t', l'', ... for a second or third dimension of a kind.
    base, prime = {"t": t, "d": ell}, "'"
    axis = {
        n: sp.Symbol(f"{base[n[0]]}{prime * (int(n[-1]) - 1)}", integer=True)
        if n[-1].isdigit()
        else base[n[0]]
        for n in names
    }
    try:
        dimensions = [Dimension(label[n], n, axis[n], kinds.get(n, "lstm")) for n in names]
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None
    transform = grid_transform(output_form, peepholes)
    block = grid_block(
        dimensions,
        transform=transform,
        priority=[label[n] for n in priority],
        weight_axes=(ell,),
        name="gridlstm",
        title=f"{len(names)}D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016)",
    )
    time = tuple(label[n] for n in names if n.startswith("time"))
    depth = tuple(label[n] for n in names if n.startswith("depth"))
    shared = ()
    if tied:
        groups: dict[str, list[str]] = {}
        for dim in dimensions:
            groups.setdefault(dim.kind, []).append(dim.label)
        shared = tuple((kind, tuple(group)) for kind, group in groups.items())
    return SequenceGrid(
        block,
        time=time,
        depth=depth,
        input=depth[0] if depth else None,
        memory_input=memory_input,
        shared=shared,
    )
