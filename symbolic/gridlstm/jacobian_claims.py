"""The Grid LSTM's block Jacobian checked exactly against SymPy's elementwise Jacobian.

A :class:`BlockJacobianClaim` is a :class:`~symbolic.derivation.JacobianClaim`
for one block of the 4 x 4 block Jacobian of a grid block, checked with a
faster entrywise expansion.  With depth priority the depth LSTM reads the
new ``h^T_{t,l}``; its blocks are checked against the elementwise Jacobians
composed through ``h^T_{t,l}`` by the chain rule, using the priority
dimension alone (:func:`priority_half`), since SymPy's elementwise Jacobian
of the fully inlined block takes minutes at size 2.
:func:`block_mismatches` lists the blocks that fail.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import DiagMatrix, HadamardProduct
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from ..cells import Cell
from ..derivation import JacobianClaim, Outcome
from ..explicit import exactly_equal
from ..jacobians import step_jacobian_blocks
from ..printers import text
from .sequence_models import GridSequenceModel
from .transform import GATE_ROLES

__all__ = ["BlockJacobianClaim", "block_mismatches", "priority_half"]


def priority_half(model: GridSequenceModel, label: str = "D") -> Cell:
    """The priority dimension alone, with the new hidden vectors it reads as free inputs.

    Its inputs are the new hidden vectors its gates read, its state its own
    incoming hidden vector and memory; used to state and check the chain
    rule through ``h^T_{t,l}``.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> half = priority_half(grid_lstm_2d(priority="depth"))
    >>> [str(s) for s in half.input_symbols + half.state_symbols]
    ['h^{T}_{t,l}', 'h^{D}_{t,l-1}', 'm^{D}_{t,l-1}']
    """
    block = model.block
    refs = dict(block.reads)[label]
    cell = block.cell
    index = {s: v for v in cell.state + cell.new_state for s in (v.symbol,)}
    free = [block.vector(*ref) for ref in refs if ref[2] == "new"]
    own_in = [block.vector("h", label, "in"), block.vector("m", label, "in")]
    outs = [block.vector("h", label, "new"), block.vector("m", label, "new")]
    own = {block.preactivation(label, r) for r in GATE_ROLES} | set(outs)
    own |= {block.gate(label, r) for r in GATE_ROLES}
    equations = tuple(eq for eq in cell.equations if eq.lhs in own)
    used = set().union(*(eq.rhs.free_symbols for eq in equations))
    return Cell(
        name=f"{cell.name}-{label}-half",
        title=f"{block.dimension(label).name} LSTM of the block",
        state=tuple(index[s] for s in own_in),
        new_state=tuple(index[s] for s in outs),
        inputs=tuple(index[s] for s in free),
        params=tuple(p for p in cell.params if p in used),
        equations=equations,
        intermediates=tuple(v for v in cell.intermediates if v.symbol in own),
        dims=cell.dims,
    )


def _entrywise(expr: sp.Basic, sizes: dict, definitions: dict, cache: dict) -> sp.ImmutableMatrix:
    """``expr`` as an explicit matrix, evaluated node by node with explicit operands.

    Named vectors are inlined from ``definitions``; other symbols become their
    entries.  Equal to :func:`symbolic.explicit.explicit`, without building
    ``as_explicit`` of whole products (which costs tens of seconds here).
    """
    if expr in cache:
        return cache[expr]
    args = [
        _entrywise(a, sizes, definitions, cache) for a in expr.args if isinstance(a, sp.MatrixExpr)
    ]
    if isinstance(expr, sp.MatrixSymbol):
        if expr in definitions:
            out = _entrywise(definitions[expr], sizes, definitions, cache)
        else:
            out = sp.ImmutableMatrix(expr.xreplace(sizes).as_explicit())
    elif isinstance(expr, sp.MatMul):
        scalar = sp.Mul(*(a for a in expr.args if not isinstance(a, sp.MatrixExpr)))
        out = functools.reduce(lambda x, y: x * y, args) * scalar
    elif isinstance(expr, sp.MatAdd):
        out = functools.reduce(lambda x, y: x + y, args)
    elif isinstance(expr, HadamardProduct):
        out = functools.reduce(lambda x, y: x.multiply_elementwise(y), args)
    elif isinstance(expr, DiagMatrix):
        out = sp.diag(*args[0])
    elif isinstance(expr, ElementwiseApplyFunction):
        out = args[0].applyfunc(expr.function)
    elif isinstance(expr, (sp.Identity, sp.ZeroMatrix)):
        out = expr.xreplace(sizes).as_explicit()
    else:
        raise TypeError(f"no entrywise rule for {type(expr).__name__}")
    cache[expr] = sp.ImmutableMatrix(out)
    return cache[expr]


def _atoms_as_symbols(*matrices: sp.MatrixBase) -> list[sp.MatrixBase]:
    """Replace every ``exp(...)`` and ``tanh(...)`` by a symbol, the same on all sides.

    A substitution preserves identities, so equality afterwards proves
    equality before; it spares ``expand`` from splitting ``exp`` of sums.
    """
    atoms = set().union(*(m.atoms(sp.exp, sp.tanh) for m in matrices))
    ordered = sorted(atoms, key=sp.default_sort_key)
    rep = {a: sp.Symbol(f"atom{i}") for i, a in enumerate(ordered)}
    return [m.xreplace(rep) for m in matrices]


def _jacobian(f: sp.MatrixBase, v: sp.MatrixSymbol, subs: dict) -> sp.MatrixBase:
    return f.jacobian(list(sp.Matrix(v.xreplace(subs).as_explicit())))


@dataclass(frozen=True)
class BlockJacobianClaim(JacobianClaim):
    """A block of the Grid LSTM's Jacobian, checked exactly against SymPy's elementwise one.

    Without ``through``: ``expr`` equals ``Matrix.jacobian`` of the block's
    output with every named vector inlined, as :class:`JacobianClaim`
    checks, with a faster entrywise expansion (:func:`_entrywise`).  With
    ``through`` (the new ``h^T_{t,l}`` a priority dimension reads):
    ``expr`` equals ``J_half(wrt) + J_half(through) J(through, wrt)``, where
    ``J_half`` is the elementwise Jacobian of the priority dimension alone
    (``half``, with ``through`` a free vector) and ``J(through, wrt)`` that
    of ``through``; ``through`` stays a free symbol on both sides.  Inlining
    it instead makes SymPy's Jacobian take minutes at size 2.  Numerically
    (:mod:`numeric.verify`), like any :class:`JacobianClaim`: central
    differences of the whole block.
    """

    half: Cell | None = None
    through: sp.MatrixSymbol | None = None

    def check_exact(self) -> Outcome:
        full_defs = self.cell.definitions
        composed = self.through is not None and self.out in self.half.new_state_symbols
        defs = {k: v for k, v in full_defs.items() if not (composed and k == self.through)}
        for size in self.sizes:
            subs = {d: size for d in self.cell.dims}
            cache: dict = {}
            if composed:
                half = _entrywise(self.out, subs, self.half.definitions, {})
                through = _entrywise(self.through, subs, full_defs, {})
                reference = _jacobian(half, self.through, subs) * _jacobian(through, self.wrt, subs)
                if self.wrt in self.half.state_symbols:
                    reference += _jacobian(half, self.wrt, subs)
            else:
                reference = _jacobian(_entrywise(self.out, subs, defs, cache), self.wrt, subs)
            claimed = _entrywise(self.expr, subs, defs, cache)
            if not exactly_equal(*_atoms_as_symbols(claimed, reference)):
                return Outcome(
                    "exact", False, f"differs from the elementwise Jacobian at size {size}"
                )
        how = f", composed through {text(self.through)}" if composed else ""
        sizes = ", ".join(map(str, self.sizes))
        return Outcome("exact", True, f"equals the elementwise Jacobian{how} at sizes {sizes}")


def block_mismatches(model: GridSequenceModel, blocks=None, size: int = 2) -> list[tuple[int, int]]:
    """Blocks ``(i, j)`` of the block Jacobian that differ from the elementwise ones.

    Like :func:`symbolic.explicit.jacobian_mismatches`, through
    :class:`BlockJacobianClaim` (composed through ``h^T_{t,l}`` under
    priority).  ``blocks`` defaults to the structured ones.

    Examples
    --------
    >>> from symbolic.gridlstm.sequence_models import grid_lstm_2d
    >>> block_mismatches(grid_lstm_2d(output_form="standard"))
    []
    """
    cell = model.cell
    blocks = step_jacobian_blocks(cell) if blocks is None else blocks
    half = priority_half(model) if model.block.priority else None
    through = model.block.vector("h", "T", "new") if half is not None else None
    wrong = []
    for i, out in enumerate(cell.new_state_symbols):
        for j, wrt in enumerate(cell.state_symbols):
            claim = BlockJacobianClaim(
                cell, out, wrt, blocks[i][j], sizes=(size,), half=half, through=through
            )
            if not claim.check_exact().passed:
                wrong.append((i, j))
    return wrong
