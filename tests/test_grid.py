"""The compiled 2D grid models, their weight files, gradient flow and the CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from numeric.check import RTOL, check_jacobian
from numeric.errors import GradproofInputError
from numeric.grid import (
    GRID_MODELS,
    compile_grid,
    depth_flow_map,
    grid_model,
    grid_weight_shapes,
    load_grid_weights,
    random_grid_weights,
    save_grid_weights,
    time_flow,
)
from numeric.grid_cli import add_gridlstm_arguments, format_gridlstm_flow, run_gridlstm_flow
from numeric.grid_figures import compare_depth_flow, plot_depth_flow

HIDDEN, INPUT, LAYERS = 3, 2, 3


def _setup(name="gridlstm", **options):
    model = grid_model(name, **options)
    weights = random_grid_weights(model, HIDDEN, INPUT, LAYERS, seed=4)
    return compile_grid(model, HIDDEN), weights


@pytest.mark.parametrize(
    "name, options",
    [
        ("gridlstm", {}),
        ("gridlstm", {"output_form": "standard", "priority": "depth"}),
        ("gridlstm", {"variant": "seed"}),
        ("stacked-lstm", {}),
        ("stacked-rnn", {}),
    ],
)
def test_block_and_time_jacobians_match_finite_differences(name, options):
    grid, weights = _setup(name, **options)
    rng = np.random.default_rng(1)
    params = grid.block_params(weights, 1)
    nt, n = grid.time_vectors * HIDDEN, (grid.time_vectors + grid.depth_vectors) * HIDDEN
    point = 0.7 * rng.standard_normal((2, n))  # a batch of two points

    def block(v):
        parts = np.split(v, n // HIDDEN, axis=-1)
        time_out, depth_out, _ = grid.block(parts[: nt // HIDDEN], parts[nt // HIDDEN :], params)
        return np.concatenate(time_out + depth_out, axis=-1)

    def block_jacobian(v):
        parts = np.split(v, n // HIDDEN, axis=-1)
        return grid.block(parts[: nt // HIDDEN], parts[nt // HIDDEN :], params)[2]

    assert check_jacobian(block, block_jacobian, point)
    model = grid.time_model(weights)
    x = rng.standard_normal(INPUT)
    s = 0.7 * rng.standard_normal(model.state_size)
    assert check_jacobian(lambda v: model.step(v, x), lambda v: model.jacobian(v, x), s)
    # teeth: the time Jacobian without the path through the layers below fails
    wrong = lambda v: np.triu(model.jacobian(v, x), -nt + 1)  # noqa: E731
    assert not check_jacobian(lambda v: model.step(v, x), wrong, s)


def test_depth_flow_is_the_partial_derivative_at_the_last_step():
    grid, weights = _setup()
    n = HIDDEN
    inputs = np.random.default_rng(2).standard_normal((4, INPUT))
    flow = depth_flow_map(grid, weights, inputs)
    # Inputs of every block of the last column, from a forward run.
    params = [grid.block_params(weights, j) for j in range(LAYERS)]
    time_state = [[np.zeros(n), np.zeros(n)] for _ in range(LAYERS)]
    for x in inputs:
        depth = grid.bottom(weights, x)
        time_in, depth_in = [], []
        for j in range(LAYERS):
            time_in.append(time_state[j])
            depth_in.append(depth)
            time_state[j], depth, _ = grid.block(time_state[j], depth, params[j])
    for level in range(LAYERS):
        memory = depth_in[level][1]

        def top(h, level=level, memory=memory):
            depth = [h, np.broadcast_to(memory, h.shape)]
            for j in range(level, LAYERS):
                time = [np.broadcast_to(v, h.shape) for v in time_in[j]]
                _, depth, _ = grid.block(time, depth, params[j])
            return depth[0]

        def top_jacobian(h, level=level, memory=memory):
            depth, J = [h, memory], np.eye(2 * n)[:, :n]
            for j in range(level, LAYERS):
                _, depth, B = grid.block(time_in[j], depth, params[j])
                J = B[2 * n :, 2 * n :] @ J
            return J[:n]

        h = depth_in[level][0]
        assert check_jacobian(top, top_jacobian, h)
        expected = np.log10(np.linalg.norm(top_jacobian(h), 2))
        assert flow.log10_norm_depth[level] == pytest.approx(expected, rel=RTOL, abs=RTOL)
    assert flow.log10_norm.shape == (len(inputs), LAYERS)


def test_long_horizons_stay_finite_and_time_flow_has_one_entry_per_step():
    grid, weights = _setup("stacked-rnn")
    inputs = np.random.default_rng(0).standard_normal((300, INPUT))
    flow = depth_flow_map(grid, weights, inputs)
    assert np.all(np.isfinite(flow.log10_norm))
    assert flow.log10_norm[0].max() < flow.log10_norm[-1].max()
    assert time_flow(grid, weights, inputs[:10]).log10_norm.shape == (10,)


def test_weight_file_round_trips(tmp_path):
    for tied in (False, True):
        model = grid_model()
        weights = random_grid_weights(model, HIDDEN, INPUT, LAYERS, tied=tied, seed=3)
        path = tmp_path / f"grid-{tied}.npz"
        save_grid_weights(path, weights)
        loaded = load_grid_weights(path, model, layers=LAYERS if tied else None, tied=tied)
        assert (loaded.hidden, loaded.input_size, loaded.layers, loaded.tied) == (
            HIDDEN,
            INPUT,
            LAYERS,
            tied,
        )
        assert set(loaded.arrays) == set(grid_weight_shapes(model, HIDDEN, INPUT, LAYERS, tied))
        for key, value in weights.arrays.items():
            np.testing.assert_array_equal(loaded.arrays[key], value)
        grid = compile_grid(model, HIDDEN)
        inputs = np.ones((3, INPUT))
        np.testing.assert_array_equal(
            depth_flow_map(grid, loaded, inputs).log10_norm,
            depth_flow_map(grid, weights, inputs).log10_norm,
        )


def test_weight_file_columns_are_time_then_depth_and_rows_are_i_f_g_o():
    model = grid_model()
    weights = random_grid_weights(model, 2, 1, 1)
    grid = compile_grid(model, 2)
    params = dict(
        zip([p.name for p in model.cell.params], grid.block_params(weights, 0), strict=True)
    )
    W = weights.layer("weight_time", 0)
    np.testing.assert_array_equal(params["W^{TT}_{f,l}"], W[2:4, :2])
    np.testing.assert_array_equal(params["W^{TD}_{c,l}"], W[4:6, 2:])
    np.testing.assert_array_equal(params["b^{D}_{o,l}"], weights.layer("bias_depth", 0)[6:])


def _arrays():
    return dict(random_grid_weights(grid_model(), HIDDEN, INPUT, 2, seed=0).arrays)


@pytest.mark.parametrize(
    "edit, options, message",
    [
        (lambda a: a.pop("bias_depth_l1"), {}, "no key 'bias_depth_l1'; expected shape (12,)"),
        (
            lambda a: a.update(weight_time_l0=np.zeros((12, 5))),
            {},
            "key 'weight_time_l0' has shape (12, 5), expected (12, 6)",
        ),
        (lambda a: a.update(extra=np.zeros(1)), {}, "unexpected key 'extra'"),
        (lambda a: a.pop("input_projection"), {}, "no key 'input_projection'"),
        (lambda a: None, {"hidden": 4}, "--hidden 4 disagrees"),
        (lambda a: None, {"input_size": 9}, "--input 9 disagrees"),
        (lambda a: None, {"layers": 3}, "--layers 3 disagrees"),
        (lambda a: None, {"tied": True, "layers": 2}, "'weight_time_l0'; drop --tied"),
        (
            lambda a: a.update(
                weight_time=a.pop("weight_time_l0"),
            ),
            {},
            "tied key 'weight_time'",
        ),
    ],
)
def test_bad_weight_files_name_the_key(edit, options, message):
    arrays = _arrays()
    edit(arrays)
    with pytest.raises(GradproofInputError) as err:
        load_grid_weights(arrays, grid_model(), **options)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_tied_weights_need_the_number_of_layers(tmp_path):
    weights = random_grid_weights(grid_model(), HIDDEN, INPUT, 2, tied=True)
    with pytest.raises(GradproofInputError, match="--layers"):
        load_grid_weights(dict(weights.arrays), grid_model(), tied=True)


def _parse(*argv):
    parser = argparse.ArgumentParser()
    add_gridlstm_arguments(parser, common=True)
    return parser.parse_args(list(argv))


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


def test_heat_map_files_are_deterministic(tmp_path):
    maps = compare_depth_flow(hidden=2, input_size=1, layers=3, steps=4)
    assert set(maps) == set(GRID_MODELS)
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    plot_depth_flow(first, maps, "test")
    plot_depth_flow(second, maps, "test")
    assert first.read_bytes() == second.read_bytes()
    pdf = tmp_path / "a.pdf"
    plot_depth_flow(pdf, maps, "test")
    assert b"CreationDate" not in pdf.read_bytes()


def test_grid_lstm_loses_less_per_layer_than_the_stacked_lstm():
    maps = compare_depth_flow(hidden=8, input_size=2, layers=6, steps=5, scale=1.0, seed=0)
    assert maps["gridlstm"].depth_slope < maps["stacked-lstm"].depth_slope
