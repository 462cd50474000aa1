"""``gradproof flow gridlstm``: options, the JSON-ready result and its table."""

from __future__ import annotations

import argparse
import json

import pytest

from numeric.errors import GradproofInputError
from numeric.flow_cli import add_flow_parser
from numeric.gridlstm.cli import format_gridlstm_flow, run_gridlstm_flow
from numeric.gridlstm.models import grid_model
from numeric.gridlstm.weight_files import random_grid_weights, save_grid_weights


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_flow_parser(parser.add_subparsers())
    return parser.parse_args(["flow", "gridlstm", *argv])


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
    from numeric.cli import main

    if "would take" in message:  # whatever the memory of the machine
        monkeypatch.setattr("numeric.budget.available_memory", lambda: None)
    assert main(["flow", "gridlstm", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert message in captured.err
