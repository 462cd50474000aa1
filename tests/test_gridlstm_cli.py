"""``gradproof flow gridlstm``: options, the JSON-ready result and its table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from numeric.cli import _parser, main
from numeric.errors import GradproofInputError
from numeric.gridlstm.cli import NO_TIME, format_gridlstm_flow, run_gridlstm_flow
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.flows import depth_flow_map, time_flow
from numeric.gridlstm.models import grid_model, grid_nd
from numeric.gridlstm.weight_files import random_grid_weights, save_grid_weights
from numeric.weights import random_inputs


def _parse(*argv):
    return _parser().parse_args(["flow", "gridlstm", *argv])


def test_cli_result_has_one_entry_per_step_and_per_layer(tmp_path):
    # The key set is checked for every cell in tests/test_flow_cli.py.
    args = _parse("--hidden", "3", "--input", "2", "--layers", "3", "--steps", "5", "--json")
    result = run_gridlstm_flow(args)
    assert len(result["log10_norm"]) == 5 and len(result["log10_norm_depth"]) == 3
    json.dumps(result, allow_nan=False)
    assert "log10 ||dh^D_{T,L}/dh^D_{T,l}||" in format_gridlstm_flow(result)
    # the same run from a weights file gives the same numbers
    path = tmp_path / "w.npz"
    save_grid_weights(path, random_grid_weights(grid_model(), 3, 2, 3, seed=0))
    from_file = run_gridlstm_flow(_parse("--weights", str(path), "--steps", "5"))
    assert from_file["log10_norm_depth"] == result["log10_norm_depth"]
    with pytest.raises(GradproofInputError, match="--hidden 4 disagrees"):
        run_gridlstm_flow(_parse("--weights", str(path), "--hidden", "4"))
    with pytest.raises(GradproofInputError, match="--scale"):
        run_gridlstm_flow(_parse("--weights", str(path), "--scale", "2"))


def test_tied_weights_from_a_file_take_the_default_layer_count(tmp_path):
    path = tmp_path / "tied.npz"
    save_grid_weights(path, random_grid_weights(grid_model(), 3, 2, 4, tied=True, seed=0))
    drawn = run_gridlstm_flow(_parse("--hidden", "3", "--input", "2", "--tied", "--steps", "4"))
    from_file = run_gridlstm_flow(_parse("--weights", str(path), "--tied", "--steps", "4"))
    assert from_file["layers"] == drawn["layers"] == 4
    assert from_file["log10_norm"] == drawn["log10_norm"]
    assert (
        run_gridlstm_flow(_parse("--weights", str(path), "--tied", "--layers", "2"))["layers"] == 2
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--variant", "textbook"), "--variant does not apply to gridlstm; drop it"),
        (("--seed", "-1"), "--seed must be a non-negative integer, got -1"),
        (("--scale", "1e308"), "--scale 1e+308 draws weight entries beyond the largest float64"),
        (("--hidden", "100000"), "Grid LSTM flow over 20 steps, 4 layers of hidden size 100000"),
        (("--steps", "10", "--hidden", "64", "--layers", "128"), "would take at least"),
    ],
)
def test_options_and_sizes_are_refused_in_one_line_before_the_run(
    argv, message, capsys, monkeypatch
):
    if "would take" in message:  # whatever the memory of the machine
        monkeypatch.setattr("numeric.budget.available_memory", lambda: None)
    assert main(["flow", "gridlstm", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert message in captured.err


SMALL = ("--hidden", "3", "--layers", "2", "--steps", "5")  # the default input size, 4

# (options, the grid_nd arguments they mean, the JSON fields they set): 1D, 2D and 3D,
# non-LSTM dimensions, priority, peepholes, tying across dimensions, the input's memory.
GRIDS = [
    pytest.param(("--dims", "depth"), {"dims": ("depth",)}, {"dims": ["depth"]}, id="1d-depth"),
    pytest.param(("--dims", "time"), {"dims": ("time",)}, {"input": None}, id="1d-time"),
    pytest.param(
        ("--dims", "depth,time,time2", "--non-lstm", "depth=relu", "--priority", "depth"),
        {"dims": ("depth", "time", "time2"), "non_lstm": {"depth": "relu"}, "priority": ["depth"]},
        {"non_lstm": {"depth": "relu"}, "priority": "depth", "memory_input": None},
        id="3d-relu-priority",
    ),
    pytest.param(
        ("--non-lstm", "time=tanh", "--output-form", "standard"),
        {"non_lstm": {"time": "tanh"}, "output_form": "standard"},
        {"output_form": "standard"},
        id="2d-tanh-time",
    ),
    pytest.param(("--peepholes",), {"peepholes": True}, {"peepholes": True}, id="peepholes"),
    pytest.param(
        ("--dims", "time,depth,time2", "--tied-dims", "--priority", "time2,depth"),
        {"dims": ("time", "depth", "time2"), "tied": True, "priority": ["time2", "depth"]},
        {"tied_dims": True, "priority": "time2,depth"},
        id="3d-tied-dims",
    ),
    pytest.param(
        ("--memory-input", "projection"),
        {"memory_input": "projection"},
        {"memory_input": "projection"},
        id="memory-projection",
    ),
    pytest.param(("--priority", "depth"), {"priority": ["depth"]}, {}, id="2d-depth-priority"),
]


@pytest.mark.parametrize(("argv", "grid_options", "fields"), GRIDS)
def test_every_grid_option_runs_the_grid_it_names(argv, grid_options, fields, capsys):
    assert main(["flow", "gridlstm", *SMALL, *argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for key, value in fields.items():
        assert result[key] == value, key
    # the numbers are those of the grid the options name, on the same random weights
    options = dict(grid_options)
    grid = grid_nd(options.pop("dims", ("time", "depth")), **options)
    size = 4 if grid.input is not None else 0
    assert result["dims"] == [dim.name for dim in grid.block.dimensions]
    weights = random_grid_weights(grid, 3, size, 2, seed=0)
    inputs, compiled = random_inputs(5, size, 0), compile_grid(grid, 3)
    if grid.time:
        expected = time_flow(compiled, weights, inputs).log10_norm
        np.testing.assert_allclose(result["log10_norm"], expected, rtol=1e-12)
    else:
        assert result["log10_norm"] is None and result["verdict"]["summary"] == NO_TIME
    if grid.depth:
        expected = depth_flow_map(compiled, weights, inputs).log10_norm_depth
        np.testing.assert_allclose(result["log10_norm_depth"], expected, rtol=1e-12)
    else:
        assert result["log10_norm_depth"] is None and result["depth_slope"] is None
    text = format_gridlstm_flow(result)
    assert text.startswith(f"gridlstm {','.join(result['dims'])}")
    assert ("nothing to measure" in text) == (not grid.time or not grid.depth)


def test_the_grid_options_change_the_numbers_and_weight_files_reproduce_them(tmp_path):
    base = run_gridlstm_flow(_parse(*SMALL))
    for argv in (("--peepholes",), ("--memory-input", "projection"), ("--priority", "depth")):
        assert run_gridlstm_flow(_parse(*SMALL, *argv))["log10_norm"] != base["log10_norm"]
    # the paper's zero memory is the default
    assert run_gridlstm_flow(_parse(*SMALL, "--memory-input", "zero")) == base
    argv = ("--dims", "depth,time,time2", "--non-lstm", "depth=relu", "--peepholes", "--tied-dims")
    drawn = run_gridlstm_flow(_parse(*SMALL, *argv))
    grid = grid_nd(
        ("depth", "time", "time2"), non_lstm={"depth": "relu"}, peepholes=True, tied=True
    )
    path = tmp_path / "grid.npz"
    save_grid_weights(path, random_grid_weights(grid, 3, 4, 2, seed=0))
    from_file = run_gridlstm_flow(_parse("--weights", str(path), "--steps", "5", *argv))
    assert from_file == drawn
    # without --tied-dims the grid's weights are named by dimension, not by kind
    with pytest.raises(GradproofInputError, match="no key 'weight_depth_l0'"):
        run_gridlstm_flow(_parse("--weights", str(path), "--steps", "5", *argv[:4]))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--dims", "time,,depth"), "--dims 'time,,depth' has an empty name"),
        (("--dims", ""), "--dims '' has an empty name"),
        (("--priority", ""), "--priority '' has an empty name"),
        (("--non-lstm", ""), "--non-lstm '' has an empty name"),
        (("--dims", "up"), "dimensions are named time or depth with an optional digit 2-9"),
        (("--dims", "time", "--input", "3"), "--input: this grid has no depth dimension"),
        (("--dims", "time", "--plot", "x.pdf"), "--plot draws the depth flow over the (t, l) grid"),
        (("--non-lstm", "depth=softplus"), "--non-lstm 'depth=softplus': expected NAME=FN"),
        (("--non-lstm", "depth"), "--non-lstm 'depth': expected NAME=FN"),
        (("--non-lstm", "depth=relu,depth=tanh"), "--non-lstm names depth twice"),
        (("--non-lstm", "time2=relu"), "'time2' is not a dimension of this grid"),
        (("--priority", "time3"), "'time3' is not a dimension of this grid"),
        (
            ("--non-lstm", "time=tanh,depth=relu", "--peepholes"),
            "--peepholes applies to LSTM dimensions",
        ),
        (
            ("--non-lstm", "time=tanh,depth=relu", "--output-form", "standard"),
            "--output-form applies to LSTM dimensions",
        ),
        (
            ("--non-lstm", "depth=relu", "--memory-input", "shared"),
            "its input dimension depth is non-LSTM (relu), without memory",
        ),
        (("--dims", "time", "--memory-input", "zero"), "this grid has no depth dimension"),
        (
            ("--memory-input", "sometimes"),
            "--memory-input sometimes is not available for gridlstm; choose one of zero, "
            "projection, shared",
        ),
        (
            ("--output-form", "fancy"),
            "--output-form fancy is not available for gridlstm; choose one of paper, standard",
        ),
        (("--non-lstm", "time=tanh,depth=relu", "--tied-dims"), "no two dimensions of this grid"),
        (
            ("--dims", "depth,time,time2", "--hidden", "100000"),
            "Grid LSTM flow over 20 steps, 4 layers of hidden size 100000",
        ),
        (("--dims", "depth", "--hidden", "100000"), "4 layers of hidden size 100000"),
        (("--dims", "time", "--hidden", "100000"), "4 layers of hidden size 100000"),
    ],
)
def test_grid_options_that_do_not_apply_are_refused_in_one_line(argv, message, capsys):
    assert main(["flow", "gridlstm", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert message in captured.err


@pytest.mark.parametrize(
    "argv",
    [("--dims", ""), ("--peepholes",), ("--tied-dims", "--memory-input", "zero")],
)
def test_other_cells_refuse_the_grid_options(argv, capsys):
    assert main(["flow", "rnn", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only to gridlstm; drop" in err
