"""The gradient over depth and time of stacked networks, against autograd through real modules."""

import warnings
from math import comb

import numpy as np
import pytest

from numeric.check import RTOL
from numeric.errors import GradproofInputError
from numeric.flow import gradient_flow
from numeric.stack import torch_stack
from numeric.stack_depth import log10_norm_depth, time_depth_map

torch = pytest.importorskip("torch")

from test_stack import KINDS, TorchStack, _inputs, _norm_ratio  # noqa: E402 - needs torch


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_depth_equals_autograd_through_the_torch_modules(kind, layers):
    ref = TorchStack(kind, layers, seed=2)
    stack = torch_stack(ref.state, kind)
    inputs = _inputs(seed=3, steps=4)
    T = len(inputs)
    expected = [[ref.node_jacobian(inputs, t, j) for j in range(layers)] for t in range(1, T + 1)]
    depth = time_depth_map(stack, inputs)
    for t in range(T):
        np.testing.assert_allclose(_norm_ratio(depth.log10_norm[t], expected[t]), 1.0, rtol=RTOL)
    np.testing.assert_allclose(
        _norm_ratio(log10_norm_depth(stack, inputs), expected[-1]), 1.0, rtol=RTOL
    )
    assert log10_norm_depth(stack, inputs)[-1] == 0.0
    np.testing.assert_array_equal(depth.log10_norm_depth, log10_norm_depth(stack, inputs))


def test_depth_map_does_not_depend_on_the_chunk_and_keeps_long_horizons_finite():
    ref = TorchStack("lstm", layers=2, seed=10)
    stack = torch_stack(ref.state, "lstm")
    inputs = _inputs(seed=11, steps=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        depth = time_depth_map(stack, inputs)
        flow = gradient_flow(stack, {}, inputs)
    assert np.all(np.isfinite(depth.log10_norm)) and np.all(np.isfinite(flow.log10_norm))
    # Far below float64 at the start of the run, so the rescaling carried it.
    assert depth.log10_norm[0].max() < -400
    short = inputs[:40]
    np.testing.assert_allclose(
        time_depth_map(stack, short, chunk=3).log10_norm, time_depth_map(stack, short).log10_norm
    )


def test_the_rnn_map_counts_paths_at_the_origin():
    # tanh' = 1 at the origin: every step right or up multiplies by 0.5, and
    # the number of monotone paths from (t, l) to (T, L-1) is binomial.
    L, T = 3, 5
    state = {f"{w}_l{j}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh") for j in range(L)}
    logs = time_depth_map(torch_stack(state, "rnn"), np.zeros((T, 2))).log10_norm
    for t in range(1, T + 1):
        for j in range(L):
            right, up = T - t, L - 1 - j
            assert logs[t - 1, j] == pytest.approx(
                np.log10(comb(right + up, up) * 0.5 ** (right + up))
            )


def test_bad_inputs_and_one_layer():
    ref = TorchStack("lstm", layers=2)
    with pytest.raises(GradproofInputError, match="expected \\(T, 2\\)"):
        time_depth_map(torch_stack(ref.state, "lstm"), np.zeros((4, 3)))
    single = {k.removesuffix("_l0"): v for k, v in ref.state.items() if "_l0" in k}
    depth = time_depth_map(torch_stack(single, "lstm"), _inputs(steps=3))
    np.testing.assert_array_equal(depth.log10_norm_depth, [0.0])
    assert depth.depth_slope == 0.0
