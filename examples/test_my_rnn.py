"""A template: gradproof's assertions in your own test suite.

Copy this file next to your model's code and run ``pytest``.  It checks two
things a hand-written recurrent network can get wrong:

* ``test_my_step_is_the_lstm``: your step function (and your hand-derived
  Jacobian, if you wrote a backward pass) is the LSTM cell whose derivation
  gradproof verified; a failure names the block, e.g. ``dc_t/dc_{t-1}``.
* ``test_gradient_reaches_the_first_step``: your trained model keeps the
  gradient over the horizon the task needs; a failure prints the measured
  curve, the bound and the verdict.
"""

import numpy as np
import pytest

from numeric.testing import assert_gradient_flow, assert_matches_cell, gradient_flow_of

torch = pytest.importorskip("torch")

HIDDEN, INPUT, HORIZON = 8, 3, 40


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def my_lstm_step(s, x, p):
    """One step of an LSTM written by hand: full state s = [h; c], PyTorch's gate order."""
    h, c = s[:HIDDEN], s[HIDDEN:]
    a = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, g, o = np.split(a, 4)
    c_new = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    return np.concatenate([sigmoid(o) * np.tanh(c_new), c_new])


def my_lstm_jacobian(s, x, p):
    """My hand-derived d[h_t; c_t]/d[h_{t-1}; c_{t-1}] (the backward pass's core)."""
    h, c = s[:HIDDEN], s[HIDDEN:]
    a = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, g, o = np.split(a, 4)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    Wi, Wf, Wg, Wo = np.split(p["weight_hh"], 4)
    c_new = f * c + i * g
    dc_dh = (c * f * (1 - f))[:, None] * Wf + (g * i * (1 - i))[:, None] * Wi
    dc_dh += (i * (1 - g**2))[:, None] * Wg
    dc_dc = np.diag(f)
    through_c = o * (1 - np.tanh(c_new) ** 2)
    dh_dh = (np.tanh(c_new) * o * (1 - o))[:, None] * Wo + through_c[:, None] * dc_dh
    return np.block([[dh_dh, through_c[:, None] * dc_dc], [dc_dh, dc_dc]])


@pytest.fixture(scope="module")
def model():
    """Stands in for your trained model: here a 2-layer LSTM with a forget-gate bias of 1."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2).double()
    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if name.startswith("bias_ih"):
                bias[HIDDEN : 2 * HIDDEN] = 1.0
    return lstm


def test_my_step_is_the_lstm(model):
    layer0 = {k[:-3]: v for k, v in model.state_dict().items() if k.endswith("_l0")}
    assert_matches_cell(my_lstm_step, "lstm", layer0, jacobian=my_lstm_jacobian)


def test_gradient_reaches_the_first_step(model):
    inputs = np.random.default_rng(0).standard_normal((HORIZON, INPUT))
    # The whole 2-layer stack is measured; over 40 steps the gradient must keep
    # at least 1e-6 of its size and must not grow by more than 1e3.
    assert_gradient_flow(model, inputs, horizon=HORIZON, above=-6, below=3)


def test_the_flow_as_a_value(model):
    inputs = np.random.default_rng(0).standard_normal((HORIZON, INPUT))
    flow = gradient_flow_of(model, inputs)
    assert flow.layers == 2
    # The top layer's output depends on the bottom layer's hidden vector at the last step.
    assert flow.log10_norm_depth[0] > -3
