"""Descriptions of the 2D sequence models and the differences between two of them."""

from __future__ import annotations

import sympy as sp

from symbolic.gridlstm.block import ell
from symbolic.gridlstm.description import Difference, describe, differences
from symbolic.gridlstm.sequence_models import grid_lstm_2d, stacked_lstm_2d


def test_differences_between_paper_and_stacked_reading_item_by_item():
    diffs = differences(grid_lstm_2d("paper"), grid_lstm_2d("stacked"))
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
            "time output form", "tanh(output gate ⊙ new memory)", "output gate ⊙ tanh(new memory)"
        ),
        Difference(
            "depth output form", "tanh(output gate ⊙ new memory)", "output gate ⊙ tanh(new memory)"
        ),
        Difference("time biases", "none", "one per gate"),
        Difference("depth biases", "none", "one per gate"),
        Difference("bottom boundary m^{D}_{t,0}", "0", "P*x_{t}"),
    ]


def test_differences_are_computed_not_written():
    paper = grid_lstm_2d("paper")
    assert differences(paper, paper) == ()
    # Matching the stacked reading's output form and biases removes exactly those items.
    matched = grid_lstm_2d("paper", output_form="standard", biases=True)
    aspects = [diff.aspect for diff in differences(matched, grid_lstm_2d("stacked"))]
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
    assert dict(desc.memory_update)["D"] == "candidate gate ⊙ input gate + forget gate ⊙ memory"
    assert ell == sp.Symbol("l", integer=True)
