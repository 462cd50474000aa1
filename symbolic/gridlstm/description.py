"""What a 2D sequence model does, read off its equations, and where two models differ.

:func:`describe` reads off a model's equations which vectors each gate reads,
which state travels along which axis, the memory update, the output form,
the biases, the priority and the boundary at the bottom;
:func:`differences` compares two descriptions aspect by aspect, so the
differences between two models are computed, never written by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..activations import ACTIVATIONS
from .block import GridBlock, VectorRef
from .sequence_models import GridSequenceModel
from .transform import _LETTERS

__all__ = ["Difference", "ModelDescription", "describe", "differences"]


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
        return " ⊙ ".join(_structure(a, names) for a in expr.args)
    if isinstance(expr, sp.MatAdd):
        return " + ".join(sorted(_structure(a, names) for a in expr.args))
    if isinstance(expr, sp.ZeroMatrix):
        return "0"
    return str(expr)


def describe(model: GridSequenceModel) -> ModelDescription:
    """Read a :class:`ModelDescription` off a model's equations.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> desc = describe(grid_lstm_2d())
    >>> dict(desc.reads)[("T", "forget")]
    'h^{D}_{t,l-1}, h^{T}_{t-1,l}'
    >>> dict(desc.carried)["l (depth)"]
    'h^{D}, m^{D}'
    >>> dict(desc.output_form)["T"]
    'tanh(output gate ⊙ new memory)'
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
            block.gate(owner, role): f"{role} gate"
            for _, (owner, role) in block.roles
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
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> for diff in differences(grid_lstm_2d("paper"), grid_lstm_2d("stacked")):
    ...     print(diff)
    time gates u, f, c, o read: h^{D}_{t,l-1}, h^{T}_{t-1,l} vs h^{T}_{t-1,l}, m^{D}_{t,l-1}
    depth gates u, f, c, o read: h^{D}_{t,l-1}, h^{T}_{t-1,l} vs h^{D}_{t,l-1}, h^{T}_{t,l}
    priority (dimensions reading a new hidden vector): none vs D
    time output form: tanh(output gate ⊙ new memory) vs output gate ⊙ tanh(new memory)
    depth output form: tanh(output gate ⊙ new memory) vs output gate ⊙ tanh(new memory)
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
