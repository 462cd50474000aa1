"""The models the numeric side runs: a variant runs its own description."""

from __future__ import annotations

import pytest

from numeric.errors import GradproofInputError
from numeric.gridlstm.models import grid_model, grid_nd
from symbolic.gridlstm.description import describe
from symbolic.gridlstm.sequence_models import grid_lstm_2d


def test_the_stacked_reading_runs_its_own_output_form():
    model = grid_model(variant="stacked")
    assert model.block.transform.output_form == "standard"
    assert model.priority == "depth"
    # The same description as the symbolic stacked reading (with the files' biases).
    assert describe(model) == describe(grid_lstm_2d("stacked", biases=True))
    # teeth: the paper's output form would be a different model
    assert describe(model) != describe(grid_lstm_2d("paper", "paper", "depth", biases=True))
    assert grid_model(variant="seed").cell.equations == model.cell.equations


def test_the_paper_variant_keeps_its_defaults_and_takes_either_form():
    assert grid_model().block.transform.output_form == "paper"
    assert grid_model().priority == "none"
    assert grid_model(output_form="standard").block.transform.output_form == "standard"


@pytest.mark.parametrize(
    "options, message",
    [
        ({"variant": "stacked", "output_form": "paper"}, "variant stacked uses output form"),
        ({"variant": "stacked", "priority": "none"}, "priority is depth"),
        ({"variant": "nope"}, "variant must be one of paper, stacked"),
    ],
)
def test_conflicting_options_are_refused_in_one_line(options, message):
    with pytest.raises(GradproofInputError, match=message) as err:
        grid_model(**options)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "dims, options, message",
    [
        (("time", "width"), {}, "named time or depth"),
        ((), {}, "at least one dimension"),
        (("depth", "depth"), {}, "must differ"),
        (("time", "depth"), {"non_lstm": {"depth2": "relu"}}, "not a dimension of this grid"),
        (("time", "depth"), {"priority": ["width"]}, "not a dimension of this grid"),
        (("time", "depth"), {"priority": ["depth", "depth"]}, "names a dimension twice"),
        (("time", "depth"), {"non_lstm": {"depth": "softplus"}}, "kind must be"),
        (("time", "depth"), {"memory_input": "half"}, "memory input must be"),
        (("time", "depth"), {"output_form": "neither"}, "output form must be"),
    ],
)
def test_bad_n_dimensional_grids_are_refused_in_one_line(dims, options, message):
    with pytest.raises(GradproofInputError, match=message) as err:
        grid_nd(dims, **options)
    assert "\n" not in str(err.value)


def test_an_n_dimensional_grid_places_its_dimensions_and_ties_by_kind():
    grid = grid_nd(
        ("depth", "time", "time2"),
        non_lstm={"depth": "relu"},
        priority=["depth"],
        tied=True,
        peepholes=True,
    )
    assert (grid.time, grid.depth, grid.input) == (("T", "T2"), ("D",), "D")
    assert grid.block.order == ("T", "T2", "D")
    assert grid.shared == (("relu", ("D",)), ("lstm", ("T", "T2")))
    assert grid.block.transform.peepholes
    assert [grid.array_name(x) for x in grid.dimensions] == ["relu", "lstm", "lstm"]
    # the 1D Grid LSTM: one depth dimension, nothing along time
    one = grid_nd(("depth",))
    assert (one.time, one.depth) == ((), ("D",))
