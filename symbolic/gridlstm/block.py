"""The N-dimensional Grid LSTM block (Kalchbrenner, Danihelka and Graves, ICLR 2016).

An N-dimensional Grid LSTM block sits at a point ``p`` of a grid.  Along each
dimension ``i`` it receives a hidden vector and (for LSTM dimensions) a memory
vector from the neighbouring block ``p - e_i``, concatenates the hidden
vectors ``H = [h_1; ...; h_N]``, and applies one LSTM transform
(:mod:`symbolic.gridlstm.transform`) per dimension, each with its own memory
and weights: ``(h'_i, m'_i) = LSTM(H, m_i, W_i)``.  A non-LSTM dimension
computes ``h'_i = alpha(V_i H)``.  A priority dimension is computed last and
reads the new hidden vectors of the others.

Every gate weight ``W_i`` (d x Nd) is stored as N blocks of size d x d, one
per read vector, so ``W_i H = sum_j W^{ij} h_j``: the blocks are what the
Jacobians multiply, and they are the column blocks of the weight files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..activations import ACTIVATIONS, activation
from ..cells import Cell, Equation, t
from .transform import _LETTERS, GATE_ROLES, PEEPHOLE_READS, LSTMTransform

__all__ = ["Dimension", "GridBlock", "GridVector", "d", "ell", "grid_block"]

#: The depth index of the 2D sequence model (the time index is ``cells.t``).
ell = sp.Symbol("l", integer=True)
#: Hidden size: the size of every hidden and memory vector of a block.
d = sp.Symbol("d", integer=True, positive=True)


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
        Output form, biases and peepholes of every LSTM dimension (default:
        the paper's, without biases or peepholes).  Peephole weights are the
        vectors ``p^{i}_{u}``, ``p^{i}_{f}``, ``p^{i}_{o}`` of dimension ``i``.
    priority : sequence of str
        Labels of priority dimensions, computed last in this order; each reads
        the new hidden vectors of every dimension computed before it.
    weight_axes : sequence of sympy.Symbol
        Axes along which the weights differ (``(l,)``: one set per layer);
        weights are shared along every other axis (tied).
    reads : mapping, optional
        Override: for a dimension label, the vectors its gates read, as
        ``(base, label, "in" | "new")``.  Used by the stacked reading.
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
            peepholes = {r: param(f"p^{{{label}}}", _LETTERS[r], hidden, 1) for r in PEEPHOLE_READS}
            equations += transform.equations(
                read_vectors,
                lookup[("m", label, "in")],
                weights,
                biases,
                {r: v.symbol for r, v in pre.items()},
                {r: v.symbol for r, v in gate.items()},
                lookup[("h", label, "new")],
                lookup[("m", label, "new")],
                peepholes,
            )
            for r in GATE_ROLES:
                intermediates += [pre[r], gate[r]]
                params += list(weights[r])
                roles.append((pre[r].symbol, (label, r)))
            if transform.biases:
                params += [biases[r] for r in GATE_ROLES]
            if transform.peepholes:
                params += list(peepholes.values())
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
