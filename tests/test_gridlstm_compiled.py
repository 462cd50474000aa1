"""The compiled 2D grid models: block and time Jacobians, parameters from the weight file."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.check import RTOL, check_jacobian
from numeric.compile import compile_cell
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.models import grid_model, grid_nd
from numeric.gridlstm.weight_files import random_grid_weights

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
        ("gridlstm", {"variant": "stacked"}),
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


@pytest.mark.parametrize("dims", [("depth",), ("time", "depth"), ("depth", "time", "time2")])
def test_a_block_without_input_compiles_as_a_cell_and_agrees_with_the_grid(dims):
    # The block as a plain cell has no input: compile_cell steps it with x of size 0.
    grid = grid_nd(dims, non_lstm={"time2": "relu"} if "time2" in dims else None, peepholes=True)
    cell = grid.block.cell
    compiled = compile_cell(cell, d=HIDDEN)
    cg = compile_grid(grid, HIDDEN)
    weights = random_grid_weights(grid, HIDDEN, INPUT, LAYERS, seed=2)
    params = dict(zip((p.name for p in cell.params), cg.block_params(weights, 0), strict=True))
    no_input = np.zeros(0)
    s = 0.7 * np.random.default_rng(3).standard_normal(compiled.state_size)
    assert check_jacobian(
        lambda v: compiled.step(v, no_input, params),
        lambda v: compiled.jacobian(v, no_input, params),
        s,
    )
    # the grid orders the same vectors time first, then depth (input dimension first)
    refs = dict(cg.grid.block.vectors)
    order = [(base, label) for base, label, _ in (refs[v] for v in cell.state_symbols)]
    grid_order = list(cg.grid.time_vectors + cg.grid.depth_vectors)
    rows = np.concatenate(
        [np.arange(HIDDEN) + HIDDEN * order.index(ref) for ref in grid_order]
    ).astype(int)
    parts = np.split(s[rows], len(grid_order))
    time_out, depth_out, J = cg.block(
        parts[: cg.time_vectors], parts[cg.time_vectors :], cg.block_params(weights, 0)
    )
    np.testing.assert_allclose(
        np.concatenate(time_out + depth_out), compiled.step(s, no_input, params)[rows], rtol=RTOL
    )
    np.testing.assert_allclose(
        J, compiled.jacobian(s, no_input, params)[np.ix_(rows, rows)], rtol=RTOL, atol=RTOL
    )
