"""The N-dimensional Grid LSTM block: grid vectors, dimensions, reads, exact Jacobians."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from symbolic.cells import t
from symbolic.explicit import jacobian_mismatches
from symbolic.gated import ClosedFormClaim, sigmoid_slope
from symbolic.gridlstm.block import Dimension, GridVector, d, grid_block
from symbolic.gridlstm.transform import OUTPUT_FORMS, LSTMTransform
from symbolic.jacobians import step_jacobian_blocks


def _names(symbols):
    return [str(s) for s in symbols]


def test_grid_vector_indexes_time_and_depth():
    v = GridVector("m", "D", d, (0, -1))
    assert str(v.symbol) == "m^{D}_{t,l-1}"
    assert str(v.at(7)) == "m^{D}_{7,l-1}"
    assert str(v.at_point(2, 1)) == "m^{D}_{2,0}"
    with pytest.raises(ValueError, match="offsets"):
        GridVector("h", "T", d, (0,))


def test_a_dimension_of_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="kind"):
        Dimension("X", "x", t, "softplus")


def test_n_dimensional_block_with_priority_and_a_non_lstm_dimension():
    i, j, k = sp.symbols("i j k", integer=True)
    block = grid_block(
        [Dimension("1", "one", i), Dimension("2", "two", j), Dimension("3", "three", k, "tanh")],
        priority=("1",),
    )
    cell = block.cell
    assert _names(cell.state_symbols) == [
        "h^{1}_{i-1,j,k}",
        "m^{1}_{i-1,j,k}",
        "h^{2}_{i,j-1,k}",
        "m^{2}_{i,j-1,k}",
        "h^{3}_{i,j,k-1}",
    ]
    assert block.order == ("2", "3", "1")
    reads = dict(block.reads)
    assert reads["1"] == (("h", "1", "in"), ("h", "2", "new"), ("h", "3", "new"))
    assert reads["3"] == (("h", "1", "in"), ("h", "2", "in"), ("h", "3", "in"))
    # a non-LSTM dimension has no memory and one weight block per read vector
    assert str(cell.definitions[block.preactivation("3", "alpha")]) == (
        "V^{31}*h^{1}_{i-1,j,k} + V^{32}*h^{2}_{i,j-1,k} + V^{33}*h^{3}_{i,j,k-1}"
    )


def test_small_block_with_a_non_lstm_dimension_has_exact_jacobians():
    i, j = sp.symbols("i j", integer=True)
    block = grid_block([Dimension("1", "one", i, "tanh"), Dimension("2", "two", j, "identity")])
    assert jacobian_mismatches(block.cell, block.cell.with_sizes(d=2)) == []


def _peephole_block(output_form):
    i, j = sp.symbols("i j", integer=True)
    transform = LSTMTransform(output_form, biases=True, peepholes=True)
    return grid_block([Dimension("1", "one", i), Dimension("2", "two", j)], transform=transform)


@pytest.mark.parametrize("output_form", sorted(OUTPUT_FORMS))
def test_block_with_peepholes_has_exact_jacobians_and_a_wrong_block_is_caught(output_form):
    block = _peephole_block(output_form)
    cell, sizes = block.cell, block.cell.with_sizes(d=2)
    assert jacobian_mismatches(cell, sizes) == []
    # The memory block without its peephole terms: what it is without peepholes.
    blocks = [list(row) for row in step_jacobian_blocks(cell)]
    blocks[1][1] = DiagMatrix(block.gate("1", "forget"))
    assert jacobian_mismatches(cell, sizes, blocks=blocks) == [(1, 1)]


def test_peepholes_add_one_term_per_gate_reading_the_incoming_memory():
    block = _peephole_block("standard")
    cell = block.cell
    params = {p.name: p for p in cell.params}
    u, f, c = (block.gate("1", role) for role in ("input", "forget", "candidate"))
    m = block.vector("m", "1", "in")
    memory = step_jacobian_blocks(cell)[1][1]
    forget = DiagMatrix(f)
    through_f = DiagMatrix(m) * sigmoid_slope(f) * DiagMatrix(params["p^{1}_{f}"])
    through_u = DiagMatrix(c) * sigmoid_slope(u) * DiagMatrix(params["p^{1}_{u}"])
    closed = forget + through_f + through_u
    assert ClosedFormClaim(cell, memory, closed, sizes=(2,)).check_exact().passed
    for wrong in (forget, forget + through_f, forget + through_u):
        assert not ClosedFormClaim(cell, memory, wrong, sizes=(2,)).check_exact().passed
