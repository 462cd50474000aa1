"""Grid LSTM (Kalchbrenner, Danihelka and Graves, ICLR 2016) as cell descriptions.

An N-dimensional Grid LSTM block sits at a point ``p`` of a grid.  Along each
dimension ``i`` it receives a hidden vector and (for LSTM dimensions) a memory
vector from the neighbouring block ``p - e_i``, concatenates the hidden
vectors ``H = [h_1; ...; h_N]``, and applies one LSTM transform per
dimension, each with its own memory and weights:
``(h'_i, m'_i) = LSTM(H, m_i, W_i)``.  A non-LSTM dimension computes
``h'_i = alpha(V_i H)``.  A priority dimension is computed last and reads the
new hidden vectors of the others.

Every gate weight ``W_i`` (d x Nd) is stored as N blocks of size d x d, one
per read vector, so ``W_i H = sum_j W^{ij} h_j``: the blocks are what the
Jacobians multiply, and they are the column blocks of the weight files.

The 2D sequence model has a time axis ``t`` and a depth axis ``l``; the input
enters at the bottom of the depth dimension (``h^D_{t,0} = P x_t``,
``m^D_{t,0} = 0``) and the output is read at the top, ``h^D_{t,L}``.  The
superscripts T and D name the time and depth dimensions; they are never
transposes (numerator layout needs none).

:func:`differences` compares two sequence models from their equations: which
vectors each gate reads, which state travels along which axis, the memory
update, the output form, biases and the boundary at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from .activations import ACTIVATIONS, activation
from .cells import Cell, Equation, TimedVector, t

__all__ = [
    "GATE_ROLES",
    "OUTPUT_FORMS",
    "PRIORITIES",
    "VARIANTS",
    "Difference",
    "Dimension",
    "GridBlock",
    "GridSequenceModel",
    "GridVector",
    "LSTMTransform",
    "ModelDescription",
    "describe",
    "differences",
    "grid_block",
    "grid_lstm_2d",
    "stacked_lstm_2d",
    "stacked_rnn_2d",
    "d",
    "k",
    "ell",
    "L",
]

#: The depth index of the 2D sequence model (the time index is ``cells.t``).
ell = sp.Symbol("l", integer=True)
#: Hidden size, input size and number of layers of the 2D sequence model.
d, k, L = sp.symbols("d k L", integer=True, positive=True)

#: The four gates of an LSTM transform, by role, in PyTorch's row order.
GATE_ROLES = ("input", "forget", "candidate", "output")
#: The paper's letters for the gates (PyTorch calls them i, f, g, o).
_LETTERS = {"input": "u", "forget": "f", "candidate": "c", "output": "o"}
_GATE_ACTIVATION = {
    "input": "sigmoid",
    "forget": "sigmoid",
    "candidate": "tanh",
    "output": "sigmoid",
}

#: Output forms of the LSTM transform and the formula each one means.
OUTPUT_FORMS = {
    "paper": "h' = tanh(g^o * m') (Kalchbrenner et al. 2016)",
    "standard": "h' = g^o * tanh(m') (Hochreiter and Schmidhuber; PyTorch)",
}
#: Variants of the 2D sequence model.
VARIANTS = ("paper", "seed")
#: Priority options of the 2D sequence model.
PRIORITIES = ("none", "depth")


@dataclass(frozen=True)
class GridVector:
    """A column vector at a grid point shifted by ``offsets`` from ``axes``.

    Duck-typed like :class:`symbolic.cells.TimedVector` (``symbol``, ``rows``,
    ``at``), so a :class:`~symbolic.cells.Cell` can hold it; the first axis is
    time.

    Examples
    --------
    >>> v = GridVector("h", "T", d, (-1, 0))
    >>> v.symbol
    h^{T}_{t-1,l}
    >>> v.at(5)
    h^{T}_{4,l}
    >>> v.at_point(3, 2)
    h^{T}_{2,2}
    """

    base: str
    label: str
    rows: sp.Expr
    offsets: tuple[int, ...]
    axes: tuple[sp.Symbol, ...] = (t, ell)

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.axes):
            raise ValueError(f"{self.base}: {len(self.offsets)} offsets for {len(self.axes)} axes")

    @property
    def symbol(self) -> sp.MatrixSymbol:
        """The template symbol at the symbolic grid point ``axes``."""
        return self.at_point(*self.axes)

    def at(self, time: int | sp.Expr) -> sp.MatrixSymbol:
        """The symbol with the time (first) axis set to ``time``."""
        return self.at_point(time, *self.axes[1:])

    def at_point(self, *point: int | sp.Expr) -> sp.MatrixSymbol:
        """The symbol at a given grid point (one index per axis)."""
        if len(point) != len(self.axes):
            raise ValueError(f"{self.base}: need {len(self.axes)} indices, got {len(point)}")
        index = ",".join(
            sp.latex(sp.sympify(p) + o).replace(" ", "")
            for p, o in zip(point, self.offsets, strict=True)
        )
        head = f"{self.base}^{{{self.label}}}" if self.label else self.base
        return sp.MatrixSymbol(f"{head}_{{{index}}}", self.rows, 1)


@dataclass(frozen=True)
class LSTMTransform:
    """The LSTM transform ``(h', m') = LSTM(H, m, W)`` with a chosen output form.

    ``g^u = sigma(W^u H)``, ``g^f = sigma(W^f H)``, ``g^o = sigma(W^o H)``,
    ``g^c = tanh(W^c H)``, ``m' = g^f * m + g^u * g^c`` and either
    ``h' = tanh(g^o * m')`` (``"paper"``) or ``h' = g^o * tanh(m')``
    (``"standard"``); with ``biases`` each pre-activation gains ``+ b``.

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> vec = lambda name: sp.MatrixSymbol(name, n, 1)
    >>> W = {role: (sp.MatrixSymbol(f"W_{role[0]}", n, n),) for role in GATE_ROLES}
    >>> eqs = LSTMTransform("standard").equations(
    ...     (vec("x"),), vec("m"), W, {},
    ...     {role: vec(f"a_{role[0]}") for role in GATE_ROLES},
    ...     {role: vec(f"g_{role[0]}") for role in GATE_ROLES}, vec("h'"), vec("m'"))
    >>> [str(eq.lhs) for eq in eqs[-4:]]
    ['a_o', 'g_o', "m'", "h'"]
    >>> str(eqs[-2].rhs)
    'HadamardProduct(g_c, g_i) + HadamardProduct(g_f, m)'
    """

    output_form: str = "paper"
    biases: bool = False

    def __post_init__(self) -> None:
        if self.output_form not in OUTPUT_FORMS:
            raise ValueError(
                f"output_form must be one of {', '.join(OUTPUT_FORMS)}, got {self.output_form!r}"
            )

    def equations(
        self,
        reads: Sequence[sp.MatrixExpr],
        memory: sp.MatrixExpr,
        weights: Mapping[str, Sequence[sp.MatrixSymbol]],
        biases: Mapping[str, sp.MatrixSymbol],
        preactivations: Mapping[str, sp.MatrixSymbol],
        gates: Mapping[str, sp.MatrixSymbol],
        hidden: sp.MatrixSymbol,
        new_memory: sp.MatrixSymbol,
    ) -> tuple[Equation, ...]:
        """Pre-activations, gates, new memory and new hidden vector, in order.

        ``weights[role][j]`` multiplies ``reads[j]``; ``biases[role]`` is used
        only when :attr:`biases` is set.
        """
        out = []
        for role in GATE_ROLES:
            terms = [w * v for w, v in zip(weights[role], reads, strict=True)]
            if self.biases:
                terms.append(biases[role])
            out.append(Equation(preactivations[role], sp.MatAdd(*terms)))
            act = activation(_GATE_ACTIVATION[role])
            out.append(Equation(gates[role], act(preactivations[role])))
        g = gates
        write = HadamardProduct(g["input"], g["candidate"])
        out.append(Equation(new_memory, HadamardProduct(g["forget"], memory) + write))
        tanh = activation("tanh")
        if self.output_form == "paper":
            h = tanh(HadamardProduct(g["output"], new_memory))
        else:
            h = HadamardProduct(g["output"], tanh(new_memory))
        out.append(Equation(hidden, h))
        return tuple(out)


@dataclass(frozen=True)
class Dimension:
    """One dimension of a grid block.

    Parameters
    ----------
    label : str
        Superscript naming the dimension (``"T"``).
    name : str
        Word for it (``"time"``).
    axis : sympy.Symbol
        The grid index it runs along (``t``).
    kind : str
        ``"lstm"``, or the registry name of ``alpha`` for a non-LSTM
        dimension ``h' = alpha(V H)`` (no memory).
    """

    label: str
    name: str
    axis: sp.Symbol
    kind: str = "lstm"

    def __post_init__(self) -> None:
        if self.kind != "lstm" and self.kind not in ACTIVATIONS:
            raise ValueError(
                f"dimension {self.label}: kind must be 'lstm' or one of {sorted(ACTIVATIONS)}, "
                f"got {self.kind!r}"
            )

    @property
    def has_memory(self) -> bool:
        """Whether the dimension carries a memory vector (LSTM dimensions)."""
        return self.kind == "lstm"


#: A vector a gate may read: (base "h" or "m", dimension label, "in" or "new").
VectorRef = tuple[str, str, str]


@dataclass(frozen=True)
class GridBlock:
    """A grid block: its :class:`Cell` and what each symbol of it means.

    ``cell.state`` lists, per dimension in order, the incoming hidden vector
    and (LSTM dimensions) memory; ``cell.new_state`` the outgoing ones.
    """

    cell: Cell
    dimensions: tuple[Dimension, ...]
    transform: LSTMTransform
    order: tuple[str, ...]
    reads: tuple[tuple[str, tuple[VectorRef, ...]], ...]
    roles: tuple[tuple[sp.MatrixSymbol, tuple[str, str]], ...]
    vectors: tuple[tuple[sp.MatrixSymbol, VectorRef], ...]
    weight_axes: tuple[sp.Symbol, ...]

    def dimension(self, label: str) -> Dimension:
        """The dimension with this label."""
        for dim in self.dimensions:
            if dim.label == label:
                return dim
        raise KeyError(f"no dimension {label!r}; labels: {[x.label for x in self.dimensions]}")

    def vector(self, base: str, label: str, where: str) -> sp.MatrixSymbol:
        """The symbol of ``h`` or ``m`` of dimension ``label``, ``"in"`` or ``"new"``."""
        for sym, ref in self.vectors:
            if ref == (base, label, where):
                return sym
        raise KeyError(f"block has no vector {(base, label, where)}")

    def preactivation(self, label: str, role: str) -> sp.MatrixSymbol:
        """The named pre-activation of gate ``role`` (``"alpha"`` for non-LSTM) of a dimension."""
        for sym, key in self.roles:
            if key == (label, role):
                return sym
        raise KeyError(f"block has no pre-activation for {(label, role)}")

    def gate(self, label: str, role: str) -> sp.MatrixSymbol:
        """The gate vector ``g^{role}`` of an LSTM dimension."""
        return _gate_of(self.cell, self.preactivation(label, role))

    @property
    def priority(self) -> tuple[str, ...]:
        """Dimensions whose gates read another dimension's *new* hidden vector."""
        return tuple(
            label
            for label, refs in self.reads
            if any(where == "new" and other != label for _, other, where in refs)
        )


def _gate_of(cell: Cell, pre: sp.MatrixSymbol) -> sp.MatrixSymbol:
    for eq in cell.equations:
        if isinstance(eq.rhs, ElementwiseApplyFunction) and eq.rhs.expr == pre:
            return eq.lhs
    raise KeyError(f"no gate applies an activation to {pre}")


def _offsets(axes: Sequence[sp.Symbol], axis: sp.Symbol, step: int) -> tuple[int, ...]:
    return tuple(step if a == axis else 0 for a in axes)


def grid_block(
    dimensions: Sequence[Dimension],
    *,
    transform: LSTMTransform | None = None,
    priority: Sequence[str] = (),
    weight_axes: Sequence[sp.Symbol] = (),
    reads: Mapping[str, Sequence[VectorRef]] | None = None,
    hidden: sp.Expr = d,
    name: str = "grid",
    title: str = "Grid LSTM block",
    notes: Sequence[str] = (),
) -> GridBlock:
    """An N-dimensional Grid LSTM block as a :class:`GridBlock`.

    Parameters
    ----------
    dimensions : sequence of Dimension
        The dimensions, in the order of ``H = [h_1; ...; h_N]``.
    transform : LSTMTransform, optional
        Output form and biases of every LSTM dimension (default: the paper's,
        without biases).
    priority : sequence of str
        Labels of priority dimensions, computed last in this order; each reads
        the new hidden vectors of every dimension computed before it.
    weight_axes : sequence of sympy.Symbol
        Axes along which the weights differ (``(l,)``: one set per layer);
        weights are shared along every other axis (tied).
    reads : mapping, optional
        Override: for a dimension label, the vectors its gates read, as
        ``(base, label, "in" | "new")``.  Used by the seed's reading.
    hidden : sympy.Expr
        Size of every hidden and memory vector.

    Examples
    --------
    >>> i, j = sp.symbols("i j", integer=True)
    >>> block = grid_block([Dimension("1", "first", i), Dimension("2", "second", j, "tanh")])
    >>> [str(s) for s in block.cell.state_symbols]
    ['h^{1}_{i-1,j}', 'm^{1}_{i-1,j}', 'h^{2}_{i,j-1}']
    >>> str(block.cell.definitions[block.preactivation("2", "alpha")])
    'V^{21}*h^{1}_{i-1,j} + V^{22}*h^{2}_{i,j-1}'
    """
    transform = transform or LSTMTransform()
    dims = tuple(dimensions)
    labels = [dim.label for dim in dims]
    if len(set(labels)) != len(labels):
        raise ValueError(f"dimension labels must differ, got {labels}")
    unknown = [p for p in priority if p not in labels]
    if unknown:
        raise ValueError(f"priority names unknown dimensions {unknown}; labels: {labels}")
    axes = tuple(dim.axis for dim in dims)
    order = tuple([x for x in labels if x not in priority] + list(priority))

    def vec(base: str, label: str, offsets: tuple[int, ...]) -> GridVector:
        return GridVector(base, label, hidden, offsets, axes)

    here = (0,) * len(axes)
    incoming, outgoing, symbols = [], [], []
    for dim in dims:
        back = _offsets(axes, dim.axis, -1)
        for base in ("h", "m") if dim.has_memory else ("h",):
            incoming.append(vec(base, dim.label, back))
            outgoing.append(vec(base, dim.label, here))
            symbols.append((incoming[-1].symbol, (base, dim.label, "in")))
            symbols.append((outgoing[-1].symbol, (base, dim.label, "new")))
    lookup = {ref: sym for sym, ref in symbols}

    if reads is None:
        reads = {}
        done: list[str] = []
        for label in order:
            where = {x: "new" if (label in priority and x in done) else "in" for x in labels}
            reads[label] = tuple(("h", x, where[x]) for x in labels)
            done.append(label)
    missing = [x for x in labels if x not in reads]
    if missing:
        raise ValueError(f"reads lists no vectors for dimensions {missing}")
    for label in labels:
        for ref in reads[label]:
            if ref not in lookup:
                raise ValueError(f"dimension {label} reads unknown vector {ref}")

    index = ",".join(sp.latex(a) for a in weight_axes)

    def param(head: str, sub: str, rows: sp.Expr, cols: sp.Expr) -> sp.MatrixSymbol:
        subscript = ",".join(x for x in (sub, index) if x)
        return sp.MatrixSymbol(f"{head}_{{{subscript}}}" if subscript else head, rows, cols)

    def weight_name(owner: str, ref: VectorRef) -> str:
        base, label, _ = ref
        return f"W^{{{owner}{label}}}" if base == "h" else f"U^{{{owner}{label}}}"

    equations, intermediates, params = [], [], []
    roles = []
    for label in order:
        dim = next(x for x in dims if x.label == label)
        refs = tuple(reads[label])
        read_vectors = [lookup[ref] for ref in refs]
        if dim.has_memory:
            pre = {r: vec("a", f"{_LETTERS[r]},{label}", here) for r in GATE_ROLES}
            gate = {r: vec("g", f"{_LETTERS[r]},{label}", here) for r in GATE_ROLES}
            weights = {
                r: tuple(
                    param(weight_name(label, ref), _LETTERS[r], hidden, hidden) for ref in refs
                )
                for r in GATE_ROLES
            }
            biases = {r: param(f"b^{{{label}}}", _LETTERS[r], hidden, 1) for r in GATE_ROLES}
            equations += transform.equations(
                read_vectors,
                lookup[("m", label, "in")],
                weights,
                biases,
                {r: v.symbol for r, v in pre.items()},
                {r: v.symbol for r, v in gate.items()},
                lookup[("h", label, "new")],
                lookup[("m", label, "new")],
            )
            for r in GATE_ROLES:
                intermediates += [pre[r], gate[r]]
                params += list(weights[r])
                roles.append((pre[r].symbol, (label, r)))
            if transform.biases:
                params += [biases[r] for r in GATE_ROLES]
        else:
            pre_v = vec("a", label, here)
            blocks = [param(f"V^{{{label}{ref[1]}}}", "", hidden, hidden) for ref in refs]
            terms = [w * v for w, v in zip(blocks, read_vectors, strict=True)]
            bias = param(f"c^{{{label}}}", "", hidden, 1)
            if transform.biases:
                terms.append(bias)
            equations.append(Equation(pre_v.symbol, sp.MatAdd(*terms)))
            alpha = activation(dim.kind)
            equations.append(Equation(lookup[("h", label, "new")], alpha(pre_v.symbol)))
            intermediates.append(pre_v)
            params += blocks + ([bias] if transform.biases else [])
            roles.append((pre_v.symbol, (label, "alpha")))

    cell = Cell(
        name=name,
        title=title,
        state=tuple(incoming),
        new_state=tuple(outgoing),
        inputs=(),
        params=tuple(params),
        equations=tuple(equations),
        intermediates=tuple(intermediates),
        dims=(hidden,) if isinstance(hidden, sp.Symbol) else (),
        notes=tuple(notes),
    )
    return GridBlock(
        cell=cell,
        dimensions=dims,
        transform=transform,
        order=order,
        reads=tuple((x, tuple(reads[x])) for x in labels),
        roles=tuple(roles),
        vectors=tuple(symbols),
        weight_axes=tuple(weight_axes),
    )


@dataclass(frozen=True)
class GridSequenceModel:
    """A 2D (time x depth) model over sequences: one block, the bottom and the top.

    ``block`` is the block at ``(t, l)``; ``boundary`` defines the depth
    vectors entering the first layer from the input ``x_t``; ``output`` says
    where the output is read.
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
    variant : {"paper", "seed"}
        ``"paper"``: Kalchbrenner et al.: both LSTM transforms read
        ``H = [h^T_{t-1,l}; h^D_{t,l-1}]``.  ``"seed"``: the seed answer's
        stacked reading (see the model's notes for what had to be assumed).
    output_form : {"paper", "standard"}, optional
        Default: ``"paper"`` for the paper, ``"standard"`` for the seed.
    priority : {"none", "depth"}, optional
        ``"depth"``: the depth LSTM reads the new ``h^T_{t,l}``.  Default
        ``"none"`` for the paper; the seed's reading is depth-first by
        construction and accepts only ``"depth"``.
    biases : bool, optional
        Default: none for the paper (its notation omits them), one per gate
        for the seed (it writes them).
    tied : bool
        Share the weights across layers (drop the layer index ``l``).

    Examples
    --------
    >>> model = grid_lstm_2d()
    >>> [str(s) for s in model.cell.state_symbols]
    ['h^{T}_{t-1,l}', 'm^{T}_{t-1,l}', 'h^{D}_{t,l-1}', 'm^{D}_{t,l-1}']
    >>> str(model.cell.definitions[model.block.preactivation("D", "forget")])
    'W^{DD}_{f,l}*h^{D}_{t,l-1} + W^{DT}_{f,l}*h^{T}_{t-1,l}'
    >>> dict(describe(model).output_form)["D"]
    'tanh(output gate * new memory)'
    >>> [str(eq.rhs) for eq in grid_lstm_2d("seed").boundary]
    ['P*x_{t}', 'P*x_{t}']
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    if priority is not None and priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    seed = variant == "seed"
    if seed and priority == "none":
        raise ValueError(
            "the seed's reading has the depth LSTM read the new time hidden vector H_t; "
            "its priority is 'depth'"
        )
    output_form = output_form or ("standard" if seed else "paper")
    priority = priority or ("depth" if seed else "none")
    biases = seed if biases is None else biases
    transform = LSTMTransform(output_form, biases)
    weight_axes = () if tied else (ell,)
    form = OUTPUT_FORMS[output_form]
    notes = [
        "Superscripts T and D name the time and depth dimensions (not transposes).",
        f"Output form: {form}.",
        "Biases: one per gate, $b^{T}_{u}, \\dots, b^{D}_{o}$."
        if biases
        else "Biases: none (the paper's notation).",
        "Weights tied along depth: one set shared by all layers."
        if tied
        else "Weights untied: one set per layer l.",
        "$W^{TD}_{f,l}$ is the block of the time dimension's forget-gate weight that multiplies "
        "$h^{D}$; the paper's gate weight is $W^{T}_{f} = [W^{TT}_{f}, W^{TD}_{f}]$ "
        "($d \\times 2d$); weight-file rows i, f, g, o are the gates u, f, c, o.",
        "Input enters at the bottom of the depth dimension, output is read at the top, "
        "$y_{t} = h^{D}_{t,L}$.",
    ]
    if seed:
        reads = {
            "T": (("h", "T", "in"), ("m", "D", "in")),
            "D": (("h", "T", "new"), ("h", "D", "in")),
        }
        notes += [
            "Seed variant (stacked reading), notation mapped to the paper's: the seed's "
            "$i, f, g, o, C, H$ are $g^{u}, g^{f}, g^{c}, g^{o}, m, h$; its primed vectors are "
            "the depth dimension's (superscript D).",
            "Assumed: subscripts of primed (depth) vectors count layers, of unprimed ones time "
            "steps, so $C'_{t-1}, h'_{t-1}$ are $m^{D}_{t,l-1}, h^{D}_{t,l-1}$.",
            "Assumed: $C'_{t}$, read by the time gates in place of $x_{t}$, is the depth memory "
            "entering the block from below, $m^{D}_{t,l-1}$; $U^{TD}$ is its weight.",
            "Assumed: 'H_t is used as x_t in depth direction' means the depth gates read the new "
            "$h^{T}_{t,l}$, so the depth LSTM is computed after the time LSTM (depth priority).",
            "Assumed: 'initialized as x_t for hidden state and cell state' means "
            "$h^{D}_{t,0} = m^{D}_{t,0} = P x_{t}$, with a projection $P$ so sizes agree when "
            "$k \\ne d$.",
            "Assumed: the output is read at the top, $y_{t} = h^{D}_{t,L}$ (the seed does not say).",
        ]
    elif priority == "depth":
        notes.append("Depth priority: the depth LSTM reads $H' = [h^{T}_{t,l}; h^{D}_{t,l-1}]$.")
    block = grid_block(
        _time_depth(),
        transform=transform,
        priority=("D",) if priority == "depth" else (),
        weight_axes=weight_axes,
        reads=reads if seed else None,
        name=f"gridlstm-{variant}",
        title="2D Grid LSTM, seed's stacked reading"
        if seed
        else "2D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016)",
        notes=notes,
    )
    P = sp.MatrixSymbol("P", d, k)
    return GridSequenceModel(
        name=block.cell.name,
        variant=variant,
        block=block,
        boundary=_bottom(True, P * TimedVector("x", k, 0).symbol if seed else None),
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
        variant="stacked",
        block=block,
        boundary=_bottom(False, None),
        output=_top(),
        projection=sp.MatrixSymbol("P", d, k),
        input=TimedVector("x", k, 0),
        tied=tied,
        priority="depth",
        notes=notes,
    )


# --- descriptions and differences -------------------------------------------------------------


@dataclass(frozen=True)
class ModelDescription:
    """What a 2D sequence model does, read off its equations.

    Every field maps an aspect to a short text; :func:`differences` compares
    two descriptions field by field.
    """

    reads: tuple[tuple[tuple[str, str], str], ...]
    carried: tuple[tuple[str, str], ...]
    memory_update: tuple[tuple[str, str], ...]
    output_form: tuple[tuple[str, str], ...]
    biases: tuple[tuple[str, str], ...]
    priority: str
    boundary: tuple[tuple[str, str], ...]


def _vector_names(block: GridBlock) -> dict[sp.MatrixSymbol, VectorRef]:
    return dict(block.vectors)


def _structure(expr: sp.Basic, names: Mapping[sp.Basic, str]) -> str:
    """Text for an expression with known symbols replaced by role names."""
    if expr in names:
        return names[expr]
    if isinstance(expr, ElementwiseApplyFunction):
        fn = next((n for n, a in ACTIVATIONS.items() if a.function == expr.function), "f")
        return f"{fn}({_structure(expr.expr, names)})"
    if isinstance(expr, HadamardProduct):
        return " * ".join(_structure(a, names) for a in expr.args)
    if isinstance(expr, sp.MatAdd):
        return " + ".join(sorted(_structure(a, names) for a in expr.args))
    if isinstance(expr, sp.ZeroMatrix):
        return "0"
    return str(expr)


def describe(model: GridSequenceModel) -> ModelDescription:
    """Read a :class:`ModelDescription` off a model's equations.

    Examples
    --------
    >>> desc = describe(grid_lstm_2d())
    >>> dict(desc.reads)[("T", "forget")]
    'h^{D}_{t,l-1}, h^{T}_{t-1,l}'
    >>> dict(desc.carried)["l (depth)"]
    'h^{D}, m^{D}'
    >>> dict(desc.output_form)["T"]
    'tanh(output gate * new memory)'
    """
    block, cell = model.block, model.cell
    defs = cell.definitions
    vectors = _vector_names(block)
    reads = []
    biases = []
    for label in (dim.label for dim in block.dimensions):
        with_bias = False
        for pre, (owner, role) in block.roles:
            if owner != label:
                continue
            rhs = defs[pre]
            read = sorted(str(s) for s in rhs.free_symbols if s in vectors)
            reads.append(((label, role), ", ".join(read)))
            with_bias |= any(p in rhs.free_symbols and p.shape[1] == 1 for p in cell.params)
        biases.append((label, "one per gate" if with_bias else "none"))
    axis_names = {dim.axis: f"{dim.axis} ({dim.name})" for dim in block.dimensions}
    carried = []
    for dim in block.dimensions:
        along = [
            f"{ref[0]}^{{{ref[1]}}}"
            for sym, ref in block.vectors
            if ref[2] == "in" and block.dimension(ref[1]).axis == dim.axis
        ]
        carried.append((axis_names[dim.axis], ", ".join(along)))
    memory_update, output_form = [], []
    for dim in block.dimensions:
        if not dim.has_memory:
            continue
        names = {
            _gate_of(cell, pre): f"{role} gate"
            for pre, (owner, role) in block.roles
            if owner == dim.label
        }
        names[block.vector("m", dim.label, "in")] = "memory"
        names[block.vector("m", dim.label, "new")] = "new memory"
        memory_update.append(
            (dim.label, _structure(defs[block.vector("m", dim.label, "new")], names))
        )
        output_form.append(
            (dim.label, _structure(defs[block.vector("h", dim.label, "new")], names))
        )
    boundary = tuple((str(eq.lhs), _structure(eq.rhs, {})) for eq in model.boundary)
    return ModelDescription(
        reads=tuple(reads),
        carried=tuple(carried),
        memory_update=tuple(memory_update),
        output_form=tuple(output_form),
        biases=tuple(biases),
        priority=", ".join(block.priority) or "none",
        boundary=boundary,
    )


@dataclass(frozen=True)
class Difference:
    """One aspect in which two models differ: ``left`` in the first, ``right`` in the second."""

    aspect: str
    left: str
    right: str

    def __str__(self) -> str:
        return f"{self.aspect}: {self.left} vs {self.right}"


def differences(a: GridSequenceModel, b: GridSequenceModel) -> tuple[Difference, ...]:
    """Where two 2D sequence models differ, computed from their descriptions.

    Gates of one dimension that read the same vectors in both models and
    differ in the same way are reported together.

    Examples
    --------
    >>> for diff in differences(grid_lstm_2d("paper"), grid_lstm_2d("seed")):
    ...     print(diff)
    time gates u, f, c, o read: h^{D}_{t,l-1}, h^{T}_{t-1,l} vs h^{T}_{t-1,l}, m^{D}_{t,l-1}
    depth gates u, f, c, o read: h^{D}_{t,l-1}, h^{T}_{t-1,l} vs h^{D}_{t,l-1}, h^{T}_{t,l}
    priority (dimensions reading a new hidden vector): none vs D
    time output form: tanh(output gate * new memory) vs output gate * tanh(new memory)
    depth output form: tanh(output gate * new memory) vs output gate * tanh(new memory)
    time biases: none vs one per gate
    depth biases: none vs one per gate
    bottom boundary m^{D}_{t,0}: 0 vs P*x_{t}
    """
    da, db = describe(a), describe(b)
    names = {dim.label: dim.name for dim in a.block.dimensions + b.block.dimensions}
    out: list[Difference] = []

    grouped: dict[tuple[str, str, str], list[str]] = {}
    ra, rb = dict(da.reads), dict(db.reads)
    for key in list(ra) + [x for x in rb if x not in ra]:
        left, right = ra.get(key, "nothing"), rb.get(key, "nothing")
        if left != right:
            grouped.setdefault((key[0], left, right), []).append(key[1])
    for (label, left, right), roles in grouped.items():
        letters = ", ".join(_LETTERS.get(r, r) for r in roles)
        out.append(Difference(f"{names[label]} gates {letters} read", left, right))

    def compare(aspect: str, left: tuple, right: tuple) -> None:
        la, lb = dict(left), dict(right)
        for key in list(la) + [x for x in lb if x not in la]:
            if la.get(key, "none") != lb.get(key, "none"):
                out.append(
                    Difference(
                        aspect.format(names.get(key, key)), la.get(key, "none"), lb.get(key, "none")
                    )
                )

    compare("state carried along {}", da.carried, db.carried)
    if da.priority != db.priority:
        out.append(
            Difference(
                "priority (dimensions reading a new hidden vector)", da.priority, db.priority
            )
        )
    compare("{} memory update", da.memory_update, db.memory_update)
    compare("{} output form", da.output_form, db.output_form)
    compare("{} biases", da.biases, db.biases)
    compare("bottom boundary {}", da.boundary, db.boundary)
    return tuple(out)
