"""Gradient flow through the compiled 2D grid: over the (t, l) grid and along time."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.check import RTOL, check_jacobian
from numeric.errors import GradproofInputError
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.flows import (
    DECAY_CONVENTION,
    DepthFlow,
    depth_decay_phrase,
    depth_flow_map,
    time_flow,
)
from numeric.gridlstm.models import grid_model, grid_nd
from numeric.gridlstm.weight_files import random_grid_weights

HIDDEN, INPUT, LAYERS = 3, 2, 3


def _setup(name="gridlstm", **options):
    model = grid_model(name, **options)
    weights = random_grid_weights(model, HIDDEN, INPUT, LAYERS, seed=4)
    return compile_grid(model, HIDDEN), weights


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


def test_depth_decay_is_said_in_words_with_its_sign():
    # A gradient ten times smaller per layer going down: log10 norms -3, -2, -1 at l = 0, 1, 2
    # (and 0 at the top, l = 3): it decays by 1 decade per layer.
    shrinking = DepthFlow(np.array([[-3.0, -2.0, -1.0]]))
    assert shrinking.depth_slope == pytest.approx(1.0)
    assert shrinking.depth_decay == "decays by 1.000 decades per layer going down from the output"
    growing = DepthFlow(np.array([[0.3, 0.2, 0.1]]))
    assert growing.depth_decay.startswith("grows by 0.100 decades per layer")
    assert DepthFlow(np.array([[-np.inf, -1.0, -0.5]])).depth_decay.startswith("reaches exactly")
    assert depth_decay_phrase(None) == depth_decay_phrase(-np.inf)
    assert "log10" in DECAY_CONVENTION and "smaller at the lower layers" in DECAY_CONVENTION


def test_the_measured_grid_lstm_decays_along_depth_in_words():
    grid, weights = _setup()
    flow = depth_flow_map(grid, weights, np.random.default_rng(2).standard_normal((4, INPUT)))
    logs = flow.log10_norm_depth
    # smaller at the bottom than at the top (log 0) is what "decays" says
    assert logs[0] < logs[-1] < 0
    assert flow.depth_decay.startswith("decays by ")


def test_a_grid_without_time_or_depth_says_which_flow_it_has():
    for dims, measure, message in [
        (("depth",), time_flow, "no dimension along time"),
        (("time",), depth_flow_map, "no dimension along depth"),
    ]:
        grid = grid_nd(dims)
        weights = random_grid_weights(grid, HIDDEN, INPUT, LAYERS)
        with pytest.raises(GradproofInputError, match=message) as err:
            measure(compile_grid(grid, HIDDEN), weights, np.ones((2, INPUT)))
        assert "\n" not in str(err.value)
    # the 1D Grid LSTM still has its depth flow, and no path from an earlier step
    grid = grid_nd(("depth",))
    weights = random_grid_weights(grid, HIDDEN, INPUT, LAYERS)
    flow = depth_flow_map(compile_grid(grid, HIDDEN), weights, np.ones((2, INPUT)))
    assert np.all(np.isfinite(flow.log10_norm_depth)) and np.all(flow.log10_norm[0] == -np.inf)
