"""The Grid LSTM's block Jacobian checked exactly against SymPy's elementwise Jacobian.

A :class:`BlockJacobianClaim` is a :class:`~symbolic.derivation.JacobianClaim`
for one block of the 4 x 4 block Jacobian of a grid block.  With depth priority the depth LSTM reads the
new ``h^T_{t,l}``; its blocks are checked against the elementwise Jacobians
composed through ``h^T_{t,l}`` by the chain rule, using the priority
dimension alone (:func:`priority_half`), since SymPy's elementwise Jacobian
of the fully inlined block takes minutes at size 2.
:func:`block_mismatches` lists the blocks that fail.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..cells import Cell
from ..derivation import JacobianClaim, Outcome
from ..explicit import elementwise_jacobian, exactly_equal, explicit
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


@dataclass(frozen=True)
class BlockJacobianClaim(JacobianClaim):
    """A block of the Grid LSTM's Jacobian, checked exactly against SymPy's elementwise one.

    Without ``through``: ``expr`` equals ``Matrix.jacobian`` of the block's
    output with every named vector inlined, as :class:`JacobianClaim`
    checks.  With
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
            if composed:
                half = self.half.definitions
                reference = elementwise_jacobian(
                    self.out, self.through, subs, half
                ) * elementwise_jacobian(self.through, self.wrt, subs, full_defs)
                if self.wrt in self.half.state_symbols:
                    reference += elementwise_jacobian(self.out, self.wrt, subs, half)
            else:
                reference = elementwise_jacobian(self.out, self.wrt, subs, defs)
            if not exactly_equal(explicit(self.expr, subs, defs), reference):
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
