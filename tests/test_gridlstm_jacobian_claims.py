"""Exact checks of the block Jacobian: structured blocks against elementwise ones."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.verify import check_numeric
from symbolic.derivation import JacobianClaim
from symbolic.gridlstm.block import d
from symbolic.gridlstm.derivations import jacobian_derivation
from symbolic.gridlstm.jacobian_claims import BlockJacobianClaim, block_mismatches, priority_half
from symbolic.gridlstm.sequence_models import grid_lstm_2d
from symbolic.jacobians import derivative, step_jacobian_blocks


@pytest.mark.parametrize(
    "options",
    [
        {"output_form": "paper"},
        {"output_form": "standard"},
        {"priority": "depth"},
        {"variant": "stacked"},
    ],
)
def test_block_jacobian_equals_the_elementwise_jacobian_at_d2(options):
    assert block_mismatches(grid_lstm_2d(**options), size=2) == []


def test_the_project_checker_agrees_on_a_block():
    # One block through the project's own JacobianClaim (slower: full inlining).
    model = grid_lstm_2d()
    cell, block = model.cell, model.block
    h_new, m_in = block.vector("h", "D", "new"), block.vector("m", "D", "in")
    expr = derivative(h_new, m_in, cell.definitions)
    assert JacobianClaim(cell, h_new, m_in, expr, sizes=(2,)).check_exact().passed


def test_memory_blocks_are_the_constant_error_carousels():
    model = grid_lstm_2d()
    blocks = step_jacobian_blocks(model.cell)
    # rows/columns: h^T, m^T, h^D, m^D
    assert blocks[1][1] == DiagMatrix(model.block.gate("T", "forget"))
    assert blocks[3][3] == DiagMatrix(model.block.gate("D", "forget"))
    assert blocks[1][3] == sp.ZeroMatrix(d, d) and blocks[3][1] == sp.ZeroMatrix(d, d)


def test_a_wrong_block_fails_the_exact_check():
    model = grid_lstm_2d()
    cell, block = model.cell, model.block
    m_new, m_in = block.vector("m", "T", "new"), block.vector("m", "T", "in")
    right = derivative(m_new, m_in, cell.definitions)
    assert JacobianClaim(cell, m_new, m_in, right, sizes=(2,)).check_exact().passed
    # The carousel without its forget gate is the 1997 cell, not this one.
    wrong = sp.Identity(d)
    assert not JacobianClaim(cell, m_new, m_in, wrong, sizes=(2,)).check_exact().passed
    # The right formula with the depth block of the weight in place of the time block.
    h_new, h_in = block.vector("h", "T", "new"), block.vector("h", "T", "in")
    good = derivative(h_new, h_in, cell.definitions)
    swapped = good.xreplace(
        {sp.MatrixSymbol("W^{TT}_{o,l}", d, d): sp.MatrixSymbol("W^{TD}_{o,l}", d, d)}
    )
    assert swapped != good
    assert block_mismatches(model, _replace(cell, 0, 0, swapped)) == [(0, 0)]


def test_a_wrong_priority_block_fails_the_composed_check():
    model = grid_lstm_2d(priority="depth")
    cell, block = model.cell, model.block
    # Forgetting the path through the new h^T_{t,l}: the no-priority formula.
    no_priority = grid_lstm_2d().cell
    h_new, h_in = block.vector("h", "D", "new"), block.vector("h", "T", "in")
    wrong = derivative(h_new, h_in, no_priority.definitions)
    assert block_mismatches(model, _replace(cell, 2, 0, wrong)) == [(2, 0)]


def _replace(cell, i, j, expr):
    blocks = [list(row) for row in step_jacobian_blocks(cell)]
    blocks[i][j] = expr
    return blocks


def test_priority_blocks_pass_exactly_and_numerically_and_a_wrong_one_fails():
    model = grid_lstm_2d(priority="depth")
    steps = jacobian_derivation(priority="depth").steps
    step = next(
        s for s in steps if (str(s.lhs.out), str(s.lhs.wrt)) == ("h^{D}_{t,l}", "m^{T}_{t-1,l}")
    )
    assert step.claim.check_exact().passed
    assert check_numeric(step.claim).passed
    # Without the path through h^T_{t,l} the block would be zero: both checks catch it.
    wrong = BlockJacobianClaim(
        model.cell,
        step.claim.out,
        step.claim.wrt,
        sp.ZeroMatrix(*step.claim.expr.shape),
        sizes=(2,),
        half=priority_half(model),
        through=model.block.vector("h", "T", "new"),
    )
    assert not wrong.check_exact().passed
    assert not check_numeric(wrong).passed
