"""The 2D sequence models: the paper's block, options, the stacked reading."""

from __future__ import annotations

import pytest
import sympy as sp

from symbolic.gridlstm.block import d
from symbolic.gridlstm.sequence_models import grid_lstm_2d, resolve_options


def _names(symbols):
    return [str(s) for s in symbols]


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
    with pytest.raises(ValueError, match="variant must be one of paper, stacked"):
        grid_lstm_2d("stacked-lstm")
    with pytest.raises(ValueError, match="priority"):
        grid_lstm_2d(priority="time")
    with pytest.raises(ValueError, match="output form must be one of"):
        grid_lstm_2d(output_form="pytorch")
    for variant in ("stacked", "seed"):
        with pytest.raises(ValueError, match="stacked reading .* priority is depth"):
            grid_lstm_2d(variant, priority="none")


def test_the_stacked_reading_fixes_its_output_form_and_priority():
    model = grid_lstm_2d("stacked")
    assert model.block.transform.output_form == "standard"
    assert model.priority == "depth"
    # Giving the fixed values explicitly changes nothing.
    same = grid_lstm_2d("stacked", "standard", "depth")
    assert same.cell.equations == model.cell.equations
    with pytest.raises(ValueError) as err:
        grid_lstm_2d("stacked", output_form="paper")
    message = str(err.value)
    assert message == (
        "variant stacked uses output form standard; drop --output-form or choose variant paper"
    )
    assert "\n" not in message
    # The paper variant takes either output form.
    assert grid_lstm_2d("paper", "standard").block.transform.output_form == "standard"


def test_seed_is_an_old_name_of_the_stacked_reading():
    assert grid_lstm_2d("seed").cell.equations == grid_lstm_2d("stacked").cell.equations
    assert grid_lstm_2d("seed").variant == "stacked"
    assert resolve_options("seed") == ("stacked", "standard", "depth")


def test_stacked_variant_reads_depth_memory_and_new_time_hidden():
    model = grid_lstm_2d("stacked")
    block, defs = model.block, model.cell.definitions
    time_gate = defs[block.preactivation("T", "input")]
    depth_gate = defs[block.preactivation("D", "input")]
    assert block.vector("m", "D", "in") in time_gate.free_symbols
    assert block.vector("h", "D", "in") not in time_gate.free_symbols
    assert block.vector("h", "T", "new") in depth_gate.free_symbols
    assert [str(eq.rhs) for eq in model.boundary] == ["P*x_{t}", "P*x_{t}"]
    assert sum("Assumed" in n for n in model.notes) == 5
