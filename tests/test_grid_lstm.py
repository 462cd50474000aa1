"""Grid LSTM cell descriptions: structure, exact block Jacobians, variant differences."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from symbolic.cells import t
from symbolic.derivation import JacobianClaim
from symbolic.explicit import jacobian_mismatches
from symbolic.grid_lstm import (
    Difference,
    Dimension,
    GridVector,
    LSTMTransform,
    d,
    describe,
    differences,
    ell,
    grid_block,
    grid_lstm_2d,
    stacked_lstm_2d,
)
from symbolic.grid_proofs import block_mismatches
from symbolic.jacobians import derivative, step_jacobian_blocks


def _names(symbols):
    return [str(s) for s in symbols]


def test_grid_vector_indexes_time_and_depth():
    v = GridVector("m", "D", d, (0, -1))
    assert str(v.symbol) == "m^{D}_{t,l-1}"
    assert str(v.at(7)) == "m^{D}_{7,l-1}"
    assert str(v.at_point(2, 1)) == "m^{D}_{2,0}"
    with pytest.raises(ValueError, match="offsets"):
        GridVector("h", "T", d, (0,))


def test_paper_block_state_and_reads():
    model = grid_lstm_2d()
    cell = model.cell
    assert _names(cell.state_symbols) == [
        "h^{T}_{t-1,l}",
        "m^{T}_{t-1,l}",
        "h^{D}_{t,l-1}",
        "m^{D}_{t,l-1}",
    ]
    assert _names(cell.new_state_symbols) == [
        "h^{T}_{t,l}",
        "m^{T}_{t,l}",
        "h^{D}_{t,l}",
        "m^{D}_{t,l}",
    ]
    # Both LSTMs read H = [h^T_{t-1,l}; h^D_{t,l-1}], each with its own weights, no biases.
    defs = cell.definitions
    for label in "TD":
        pre = defs[model.block.preactivation(label, "forget")]
        assert {s for s in pre.free_symbols if isinstance(s, sp.MatrixSymbol)} == {
            sp.MatrixSymbol(f"W^{{{label}T}}_{{f,l}}", d, d),
            sp.MatrixSymbol(f"W^{{{label}D}}_{{f,l}}", d, d),
            cell.state_symbols[0],
            cell.state_symbols[2],
        }
    assert not any(p.shape[1] == 1 for p in cell.params)
    assert len(cell.params) == 16


def test_output_forms_differ_as_stated():
    tanh_of_product = grid_lstm_2d(output_form="paper")
    product_of_tanh = grid_lstm_2d(output_form="standard")
    h = tanh_of_product.block.vector("h", "T", "new")
    assert dict(describe(tanh_of_product).output_form)["T"] == "tanh(output gate * new memory)"
    assert dict(describe(product_of_tanh).output_form)["T"] == "output gate * tanh(new memory)"
    assert any("tanh(g^o * m')" in n for n in tanh_of_product.notes)
    assert any("g^o * tanh(m')" in n for n in product_of_tanh.notes)
    assert tanh_of_product.cell.definitions[h] != product_of_tanh.cell.definitions[h]
    with pytest.raises(ValueError, match="output_form"):
        LSTMTransform("tanh-outside")


def test_tied_weights_drop_the_layer_index_and_biases_are_optional():
    tied = grid_lstm_2d(tied=True, biases=True)
    names = _names(tied.cell.params)
    assert "W^{TT}_{f}" in names and "b^{D}_{o}" in names
    assert not any(",l}" in n for n in names)
    assert len(tied.cell.params) == 24


def test_depth_priority_reads_the_new_time_hidden_vector():
    model = grid_lstm_2d(priority="depth")
    block = model.block
    assert block.order == ("T", "D")
    assert block.priority == ("D",)
    pre = model.cell.definitions[block.preactivation("D", "input")]
    assert block.vector("h", "T", "new") in pre.free_symbols
    assert block.vector("h", "T", "in") not in pre.free_symbols


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="variant"):
        grid_lstm_2d("stacked")
    with pytest.raises(ValueError, match="priority"):
        grid_lstm_2d(priority="time")
    with pytest.raises(ValueError, match="seed"):
        grid_lstm_2d("seed", priority="none")
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


@pytest.mark.parametrize(
    "options",
    [
        {"output_form": "paper"},
        {"output_form": "standard"},
        {"priority": "depth"},
        {"variant": "seed"},
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


def test_seed_variant_reads_depth_memory_and_new_time_hidden():
    model = grid_lstm_2d("seed")
    block, defs = model.block, model.cell.definitions
    time_gate = defs[block.preactivation("T", "input")]
    depth_gate = defs[block.preactivation("D", "input")]
    assert block.vector("m", "D", "in") in time_gate.free_symbols
    assert block.vector("h", "D", "in") not in time_gate.free_symbols
    assert block.vector("h", "T", "new") in depth_gate.free_symbols
    assert [str(eq.rhs) for eq in model.boundary] == ["P*x_{t}", "P*x_{t}"]
    assert sum("Assumed" in n for n in model.notes) == 5


def test_differences_between_paper_and_seed_item_by_item():
    diffs = differences(grid_lstm_2d("paper"), grid_lstm_2d("seed"))
    assert list(diffs) == [
        Difference(
            "time gates u, f, c, o read",
            "h^{D}_{t,l-1}, h^{T}_{t-1,l}",
            "h^{T}_{t-1,l}, m^{D}_{t,l-1}",
        ),
        Difference(
            "depth gates u, f, c, o read",
            "h^{D}_{t,l-1}, h^{T}_{t-1,l}",
            "h^{D}_{t,l-1}, h^{T}_{t,l}",
        ),
        Difference("priority (dimensions reading a new hidden vector)", "none", "D"),
        Difference(
            "time output form", "tanh(output gate * new memory)", "output gate * tanh(new memory)"
        ),
        Difference(
            "depth output form", "tanh(output gate * new memory)", "output gate * tanh(new memory)"
        ),
        Difference("time biases", "none", "one per gate"),
        Difference("depth biases", "none", "one per gate"),
        Difference("bottom boundary m^{D}_{t,0}", "0", "P*x_{t}"),
    ]


def test_differences_are_computed_not_written():
    paper = grid_lstm_2d("paper")
    assert differences(paper, paper) == ()
    # Matching the seed's output form and biases removes exactly those items.
    matched = grid_lstm_2d("paper", output_form="standard", biases=True)
    aspects = [diff.aspect for diff in differences(matched, grid_lstm_2d("seed"))]
    assert aspects == [
        "time gates u, f, c, o read",
        "depth gates u, f, c, o read",
        "priority (dimensions reading a new hidden vector)",
        "bottom boundary m^{D}_{t,0}",
    ]
    # The stacked LSTM has no depth memory: the depth state carried differs.
    stacked = [str(x) for x in differences(paper, stacked_lstm_2d())]
    assert "state carried along l (depth): h^{D}, m^{D} vs h^{D}" in stacked


def test_carried_state_per_axis():
    desc = describe(grid_lstm_2d())
    assert dict(desc.carried) == {"t (time)": "h^{T}, m^{T}", "l (depth)": "h^{D}, m^{D}"}
    assert dict(desc.memory_update)["D"] == "candidate gate * input gate + forget gate * memory"
    assert ell == sp.Symbol("l", integer=True)
