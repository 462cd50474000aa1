"""The 2D Grid LSTM over sequences: the paper's model, the stacked reading, stacked models.

The 2D sequence model has a time axis ``t`` and a depth axis ``l``; the input
enters at the bottom of the depth dimension (``h^D_{t,0} = P x_t``,
``m^D_{t,0} = 0``) and the output is read at the top, ``h^D_{t,L}``.  The
superscripts T and D name the time and depth dimensions; they are never
transposes (numerator layout needs none).  :func:`grid_lstm_2d` builds the
paper's model or the stacked reading of it (:data:`VARIANT_READINGS`: the
reading of the course answer the project started from, which chains the two
LSTMs of a block like the layers of a stacked LSTM); :func:`stacked_lstm_2d`
and :func:`stacked_rnn_2d` write stacked models (an LSTM or tanh RNN along
time, a copy along depth) on the same grid, for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..cells import Cell, Equation, TimedVector, t
from .block import Dimension, GridBlock, GridVector, d, ell, grid_block
from .transform import OUTPUT_FORMS, LSTMTransform

__all__ = [
    "COURSE_ANSWER",
    "PRIORITIES",
    "VARIANTS",
    "VARIANT_ALIASES",
    "VARIANT_READINGS",
    "GridSequenceModel",
    "L",
    "grid_lstm_2d",
    "k",
    "resolve_options",
    "stacked_lstm_2d",
    "stacked_rnn_2d",
]

#: Input size and number of layers of the 2D sequence model.
k, L = sp.symbols("k L", integer=True, positive=True)
#: Variants of the 2D sequence model.
VARIANTS = ("paper", "stacked")
#: Old option values still accepted, and the variant each one names.
VARIANT_ALIASES = {"seed": "stacked"}
#: Priority options of the 2D sequence model.
PRIORITIES = ("none", "depth")

#: The course answer, the source of the stacked reading, in one phrase.
COURSE_ANSWER = (
    "the course answer (the written answer to the course's Grid LSTM question that this "
    "project started from)"
)
_STACKED_READING = (
    "Stacked reading: the two LSTMs of a block are chained as in a stacked LSTM, each reading "
    "what comes before it as its input $x_{t}$: the time LSTM reads the depth memory from "
    "below, $m^{D}_{t,l-1}$, and the depth LSTM reads the time LSTM's new output "
    f"$h^{{T}}_{{t,l}}$. It is the reading of {COURSE_ANSWER}. The Grid LSTM instead feeds "
    "both LSTMs the same hidden vector $H = [h^{T}_{t-1,l}; h^{D}_{t,l-1}]$ "
    "(Kalchbrenner, Danihelka and Graves 2016, Sec. 3)."
)
#: What each variant is: where it comes from and how it reads the block.
VARIANT_READINGS = {
    "paper": (
        "the Grid LSTM of Kalchbrenner, Danihelka and Graves (2016, Sec. 3): both LSTMs of a "
        "block read the shared hidden vector H = [h^T_{t-1,l}; h^D_{t,l-1}], each with its own "
        "memory and weights"
    ),
    "stacked": (
        "the stacked reading: the time LSTM reads the depth memory from below as its input and "
        "the depth LSTM reads the time LSTM's new output as its input, chained as in a stacked "
        "LSTM (the reading of the course answer), rather than both reading the Grid LSTM's "
        "shared hidden vector (Kalchbrenner, Danihelka and Graves 2016, Sec. 3)"
    ),
}
_TITLES = {
    "paper": "2D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016)",
    "stacked": "Stacked reading of the 2D Grid LSTM",
}
#: Options a variant fixes; the paper variant takes either value.
_FIXED_OUTPUT_FORM = {"stacked": "standard"}
_FIXED_PRIORITY = {"stacked": "depth"}


@dataclass(frozen=True)
class GridSequenceModel:
    """A 2D (time x depth) model over sequences: one block, the bottom and the top.

    ``block`` is the block at ``(t, l)``; ``boundary`` defines the depth
    vectors entering the first layer from the input ``x_t``; ``output`` says
    where the output is read.  ``variant`` is the variant of
    :func:`grid_lstm_2d` (``"paper"`` or ``"stacked"``), or the name of a
    comparison model (``"stacked-lstm"``, ``"stacked-rnn"``).
    """

    name: str
    variant: str
    block: GridBlock
    boundary: tuple[Equation, ...]
    output: Equation
    projection: sp.MatrixSymbol
    input: TimedVector
    tied: bool
    priority: str
    notes: tuple[str, ...] = field(default=())

    @property
    def cell(self) -> Cell:
        """The block's cell (state along time and depth at ``(t, l)``)."""
        return self.block.cell


def _time_depth(time_kind: str = "lstm", depth_kind: str = "lstm") -> tuple[Dimension, Dimension]:
    return Dimension("T", "time", t, time_kind), Dimension("D", "depth", ell, depth_kind)


def _bottom(model_depth_memory: bool, memory_rhs: sp.MatrixExpr | None) -> tuple[Equation, ...]:
    P = sp.MatrixSymbol("P", d, k)
    x = TimedVector("x", k, 0).symbol
    bottom = [Equation(GridVector("h", "D", d, (0, 0)).at_point(t, 0), P * x)]
    if model_depth_memory:
        m0 = GridVector("m", "D", d, (0, 0)).at_point(t, 0)
        bottom.append(Equation(m0, sp.ZeroMatrix(d, 1) if memory_rhs is None else memory_rhs))
    return tuple(bottom)


def _top() -> Equation:
    y = TimedVector("y", d, 0).symbol
    return Equation(y, GridVector("h", "D", d, (0, 0)).at_point(t, L))


def resolve_options(
    variant: str = "paper", output_form: str | None = None, priority: str | None = None
) -> tuple[str, str, str]:
    """The variant, output form and priority a model is built with; conflicts refused.

    A variant is one fixed description.  ``"stacked"`` fixes its output form
    (``"standard"``, as the course answer writes it) and its priority
    (``"depth"``); an explicit conflicting value raises a one-line
    ``ValueError``.  ``"paper"`` defaults to the paper's output form and no
    priority, and takes either of each.  The old name ``"seed"`` is accepted
    for ``"stacked"``.

    Examples
    --------
    >>> resolve_options("stacked")
    ('stacked', 'standard', 'depth')
    >>> resolve_options("paper", "standard")
    ('paper', 'standard', 'none')
    >>> resolve_options("stacked", "paper")
    Traceback (most recent call last):
    ...
    ValueError: variant stacked uses output form standard; drop --output-form or choose variant paper
    """
    variant = VARIANT_ALIASES.get(variant, variant)
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if output_form is not None and output_form not in OUTPUT_FORMS:
        raise ValueError(
            f"output form must be one of {', '.join(OUTPUT_FORMS)}, got {output_form!r}"
        )
    if priority is not None and priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    fixed_form = _FIXED_OUTPUT_FORM.get(variant)
    if fixed_form is not None and output_form not in (None, fixed_form):
        raise ValueError(
            f"variant {variant} uses output form {fixed_form}; drop --output-form or choose "
            "variant paper"
        )
    fixed_priority = _FIXED_PRIORITY.get(variant)
    if fixed_priority is not None and priority not in (None, fixed_priority):
        raise ValueError(
            f"in the {variant} reading the depth LSTM reads the new time hidden vector, "
            f"so its priority is {fixed_priority}; drop --priority {priority}"
        )
    return (
        variant,
        output_form or fixed_form or "paper",
        priority or fixed_priority or "none",
    )


def grid_lstm_2d(
    variant: str = "paper",
    output_form: str | None = None,
    priority: str | None = None,
    biases: bool | None = None,
    tied: bool = False,
) -> GridSequenceModel:
    """The 2D Grid LSTM over sequences: time ``t`` by depth ``l = 1..L``.

    Parameters
    ----------
    variant : {"paper", "stacked"}
        ``"paper"``: Kalchbrenner, Danihelka and Graves (2016, Sec. 3): both
        LSTM transforms read ``H = [h^T_{t-1,l}; h^D_{t,l-1}]``.
        ``"stacked"``: the stacked reading (:data:`VARIANT_READINGS`; the
        model's notes list what had to be assumed).  ``"seed"`` is an old
        name of ``"stacked"``, still accepted.
    output_form : {"paper", "standard"}, optional
        The paper variant's output form, default ``"paper"``.  The stacked
        reading fixes ``"standard"`` and refuses ``"paper"``.
    priority : {"none", "depth"}, optional
        ``"depth"``: the depth LSTM reads the new ``h^T_{t,l}``.  Default
        ``"none"`` for the paper; the stacked reading is depth-first by
        construction and refuses ``"none"``.
    biases : bool, optional
        Default: none for the paper (its notation omits them), one per gate
        for the stacked reading (the course answer writes them).
    tied : bool
        Share the weights across layers (drop the layer index ``l``).

    Examples
    --------
    >>> model = grid_lstm_2d()
    >>> [str(s) for s in model.cell.state_symbols]
    ['h^{T}_{t-1,l}', 'm^{T}_{t-1,l}', 'h^{D}_{t,l-1}', 'm^{D}_{t,l-1}']
    >>> str(model.cell.definitions[model.block.preactivation("D", "forget")])
    'W^{DD}_{f,l}*h^{D}_{t,l-1} + W^{DT}_{f,l}*h^{T}_{t-1,l}'
    >>> from symbolic.gridlstm.description import describe
    >>> dict(describe(model).output_form)["D"]
    'tanh(output gate ⊙ new memory)'
    >>> stacked = grid_lstm_2d("stacked")
    >>> [str(eq.rhs) for eq in stacked.boundary], dict(describe(stacked).output_form)["D"]
    (['P*x_{t}', 'P*x_{t}'], 'output gate ⊙ tanh(new memory)')
    """
    variant, output_form, priority = resolve_options(variant, output_form, priority)
    stacked = variant == "stacked"
    biases = stacked if biases is None else biases
    transform = LSTMTransform(output_form, biases)
    weight_axes = () if tied else (ell,)
    form = OUTPUT_FORMS[output_form]
    notes = [
        "Superscripts T and D name the time and depth dimensions (not transposes).",
        f"Output form: {form}"
        + (", as the course answer writes it (fixed for this reading)." if stacked else "."),
        "Biases: one per gate, $b^{T}_{u}, \\dots, b^{D}_{o}$."
        if biases
        else "Biases: none (the paper's notation).",
        "Weights tied along depth: one set shared by all layers."
        if tied
        else "Weights untied: one set per layer l.",
        "$W^{TD}_{f,l}$ is the block of the time dimension's forget-gate weight that multiplies "
        "$h^{D}$; the paper's gate weight is $W^{T}_{f} = [W^{TT}_{f}, W^{TD}_{f}]$ "
        "($d \\times 2d$); in a weight file, PyTorch's gate rows i, f, g, o hold the input gate $g^{u}$, the forget "
        "gate $g^{f}$, the candidate $g^{c}$ and the output gate $g^{o}$.",
        "Input enters at the bottom of the depth dimension, output is read at the top, "
        "$y_{t} = h^{D}_{t,L}$.",
    ]
    if stacked:
        reads = {
            "T": (("h", "T", "in"), ("m", "D", "in")),
            "D": (("h", "T", "new"), ("h", "D", "in")),
        }
        notes += [
            _STACKED_READING,
            "Notation mapped to the paper's: the course answer's $i, f, g, o, C, H$ are "
            "$g^{u}, g^{f}, g^{c}, g^{o}, m, h$; its primed vectors are the depth dimension's "
            "(superscript D).",
            "Assumed: subscripts of primed (depth) vectors count layers, of unprimed ones time "
            "steps, so $C'_{t-1}, h'_{t-1}$ are $m^{D}_{t,l-1}, h^{D}_{t,l-1}$.",
            "Assumed: $C'_{t}$, read by the time gates in place of $x_{t}$, is the depth memory "
            "entering the block from below, $m^{D}_{t,l-1}$; $U^{TD}$ is its weight.",
            "Assumed: the course answer's 'H_t is used as x_t in depth direction' means the depth "
            "gates read the new $h^{T}_{t,l}$, so the depth LSTM is computed after the time LSTM "
            "(depth priority).",
            "Assumed: its 'initialized as x_t for hidden state and cell state' means "
            "$h^{D}_{t,0} = m^{D}_{t,0} = P x_{t}$, with a projection $P$ so sizes agree when "
            "$k \\ne d$.",
            "Assumed: the output is read at the top, $y_{t} = h^{D}_{t,L}$ (the course answer "
            "does not say).",
        ]
    elif priority == "depth":
        notes.append("Depth priority: the depth LSTM reads $H' = [h^{T}_{t,l}; h^{D}_{t,l-1}]$.")
    block = grid_block(
        _time_depth(),
        transform=transform,
        priority=("D",) if priority == "depth" else (),
        weight_axes=weight_axes,
        reads=reads if stacked else None,
        name=f"gridlstm-{variant}",
        title=_TITLES[variant],
        notes=notes,
    )
    P = sp.MatrixSymbol("P", d, k)
    return GridSequenceModel(
        name=block.cell.name,
        variant=variant,
        block=block,
        boundary=_bottom(True, P * TimedVector("x", k, 0).symbol if stacked else None),
        output=_top(),
        projection=P,
        input=TimedVector("x", k, 0),
        tied=tied,
        priority=priority,
        notes=tuple(notes),
    )


def stacked_lstm_2d(output_form: str = "standard", tied: bool = False) -> GridSequenceModel:
    """A stacked LSTM written as a 2D grid: LSTM along time, identity along depth.

    Layer ``l`` reads ``h^D_{t,l-1} = h_{t,l-1}`` from below; the depth
    dimension copies the new hidden vector up, ``h^D_{t,l} = V^{DT} h^T_{t,l}``
    with ``V^{DT} = I`` numerically, so depth has no memory of its own.

    Examples
    --------
    >>> block = stacked_lstm_2d().block
    >>> [str(s) for s in block.cell.state_symbols]
    ['h^{T}_{t-1,l}', 'm^{T}_{t-1,l}', 'h^{D}_{t,l-1}']
    """
    return _stacked("lstm", output_form, tied)


def stacked_rnn_2d(tied: bool = False) -> GridSequenceModel:
    """A stacked tanh RNN as a 2D grid: tanh along time, identity along depth.

    Examples
    --------
    >>> block = stacked_rnn_2d().block
    >>> str(block.cell.definitions[block.preactivation("T", "alpha")])
    'V^{TD}_{l}*h^{D}_{t,l-1} + V^{TT}_{l}*h^{T}_{t-1,l} + c^{T}_{l}'
    """
    return _stacked("tanh", "standard", tied)


def _stacked(time_kind: str, output_form: str, tied: bool) -> GridSequenceModel:
    transform = LSTMTransform(output_form, biases=True)
    what = "LSTM" if time_kind == "lstm" else "tanh RNN"
    notes = (
        f"Stacked {what}: layer l reads h_{{t,l-1}} from below and h_{{t-1,l}} along time; "
        "the depth dimension only copies h_{t,l} up (V^{DT} = I).",
        f"Output form: {OUTPUT_FORMS[output_form]}." if time_kind == "lstm" else "h = tanh(a).",
    )
    block = grid_block(
        _time_depth(time_kind, "identity"),
        transform=transform,
        priority=("D",),
        weight_axes=() if tied else (ell,),
        reads={"T": (("h", "T", "in"), ("h", "D", "in")), "D": (("h", "T", "new"),)},
        name=f"stacked-{'lstm' if time_kind == 'lstm' else 'rnn'}",
        title=f"Stacked {what}",
        notes=notes,
    )
    return GridSequenceModel(
        name=block.cell.name,
        variant=block.cell.name,
        block=block,
        boundary=_bottom(False, None),
        output=_top(),
        projection=sp.MatrixSymbol("P", d, k),
        input=TimedVector("x", k, 0),
        tied=tied,
        priority="depth",
        notes=notes,
    )
