"""numeric.testing: each assertion passes a correct implementation and fails a wrong one."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from numeric.cli import main
from numeric.testing import assert_gradient_flow, assert_matches_cell, gradient_flow_of
from symbolic.gru import gru

torch = pytest.importorskip("torch")

H, M = 3, 2


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


@pytest.fixture(scope="module")
def lstm_params():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(M, H).double()
    return {k: v.detach().numpy() for k, v in cell.state_dict().items()}


def lstm_step(s, x, p):
    """One LSTM step in NumPy, PyTorch's gate order i, f, g, o."""
    h, c = s[:H], s[H:]
    a = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, o = _sigmoid(a[:H]), _sigmoid(a[H : 2 * H]), _sigmoid(a[3 * H :])
    g = np.tanh(a[2 * H : 3 * H])
    c_new = f * c + i * g
    return np.concatenate([o * np.tanh(c_new), c_new])


def lstm_jacobian(s, x, p, forget_term=True):
    """Hand-derived d[h_t; c_t]/d[h_{t-1}; c_{t-1}] of :func:`lstm_step`."""
    h, c = s[:H], s[H:]
    a = p["weight_ih"] @ x + p["bias_ih"] + p["weight_hh"] @ h + p["bias_hh"]
    i, f, o = _sigmoid(a[:H]), _sigmoid(a[H : 2 * H]), _sigmoid(a[3 * H :])
    g = np.tanh(a[2 * H : 3 * H])
    c_new = f * c + i * g
    Wi, Wf, Wg, Wo = (p["weight_hh"][k * H : (k + 1) * H] for k in range(4))
    dc_dh = (
        (c * f * (1 - f))[:, None] * Wf
        + (g * i * (1 - i))[:, None] * Wi
        + (i * (1 - g**2))[:, None] * Wg
    )
    dc_dc = np.diag(f) if forget_term else np.zeros((H, H))
    through_c = o * (1 - np.tanh(c_new) ** 2)
    dh_dh = (np.tanh(c_new) * o * (1 - o))[:, None] * Wo + through_c[:, None] * dc_dh
    dh_dc = through_c[:, None] * np.diag(f)
    return np.block([[dh_dh, dh_dc], [dc_dh, dc_dc]])


def test_numpy_lstm_and_its_hand_jacobian_pass(lstm_params):
    assert_matches_cell(lstm_step, "lstm", lstm_params, jacobian=lstm_jacobian)


def test_missing_forget_gate_term_names_the_memory_block(lstm_params):
    def wrong(s, x, p):
        return lstm_jacobian(s, x, p, forget_term=False)

    with pytest.raises(AssertionError, match=r"your jacobian: dc_t/dc_\{t-1\}\[\d, \d\]"):
        assert_matches_cell(lstm_step, "lstm", lstm_params, jacobian=wrong)


@pytest.fixture(scope="module")
def gru_cell():
    torch.manual_seed(1)
    return torch.nn.GRUCell(M, H).double()


def _gru_params(module):
    return {k: v.detach() for k, v in module.state_dict().items()}


def torch_gru_step(s, x, p, textbook=False):
    """A GRU step on tensors; ``textbook`` puts the reset gate inside ``W_hn (r * h)``."""
    gi = p["weight_ih"] @ x + p["bias_ih"]
    Wr, Wz, Wn = p["weight_hh"].split(H)
    br, bz, bn = p["bias_hh"].split(H)
    r = torch.sigmoid(gi[:H] + Wr @ s + br)
    z = torch.sigmoid(gi[H : 2 * H] + Wz @ s + bz)
    recurrent = Wn @ (r * s) + bn if textbook else r * (Wn @ s + bn)
    n = torch.tanh(gi[2 * H :] + recurrent)
    return (1 - z) * n + z * s


def test_torch_gru_step_passes(gru_cell):
    assert_matches_cell(torch_gru_step, "gru", _gru_params(gru_cell))


def test_torch_module_passes(gru_cell):
    class Step(torch.nn.Module):
        def forward(self, s, x, p):
            return gru_cell(x[None], s[None])[0]

    assert_matches_cell(Step(), "gru", _gru_params(gru_cell))


def test_textbook_reset_gate_fails_against_pytorch_gru(gru_cell):
    def textbook(s, x, p):
        return torch_gru_step(s, x, p, textbook=True)

    with pytest.raises(AssertionError, match=r"new state h_t\[\d\] is .* the cell gives"):
        assert_matches_cell(textbook, "gru", _gru_params(gru_cell))
    # ... and passes against the textbook cell, whose parameters it reads by PyTorch's names.
    assert_matches_cell(textbook, gru("textbook"), _gru_params(gru_cell))


def test_wrong_jacobian_of_a_user_step_is_named():
    params = {"W": np.array([[0.5, -0.2], [0.1, 0.3]]), "U": np.ones((2, 1)), "b": np.zeros(2)}

    def step(s, x, p):
        return np.tanh(p["W"] @ s + p["U"] @ x + p["b"])

    def transposed(s, x, p):  # the classic slip: W^T diag(f') instead of diag(f') W
        return p["W"].T * (1 - step(s, x, p) ** 2)

    assert_matches_cell(
        step, "rnn", params, jacobian=lambda s, x, p: (1 - step(s, x, p) ** 2)[:, None] * p["W"]
    )
    with pytest.raises(AssertionError, match=r"your jacobian: dh_t/dh_\{t-1\}\[\d, \d\]"):
        assert_matches_cell(step, "rnn", params, jacobian=transposed)


def test_argument_errors_are_value_errors_naming_the_parameter(lstm_params):
    params = {"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    with pytest.raises(ValueError, match="'V'"):
        assert_matches_cell(lambda s, x, p: s, "rnn", {**params, "V": np.eye(2)})
    with pytest.raises(ValueError, match="'b' has shape"):
        assert_matches_cell(lambda s, x, p: s, "rnn", {**params, "b": np.zeros(3)})
    with pytest.raises(ValueError, match="weight_hh"):
        assert_matches_cell(lstm_step, "lstm", {**lstm_params, "weight_hh": np.eye(3)})


def test_shape_of_the_users_state_is_checked():
    params = {"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}
    with pytest.raises(AssertionError, match=re.escape("has shape (3,), expected (2,)")):
        assert_matches_cell(lambda s, x, p: np.zeros(3), "rnn", params)


def test_import_does_not_load_torch():
    code = "import numeric.testing, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# gradient_flow_of and assert_gradient_flow


def _vanishing_rnn():
    torch.manual_seed(2)
    rnn = torch.nn.RNN(2, 8).double()
    with torch.no_grad():
        rnn.weight_hh_l0 *= 0.5 / torch.linalg.matrix_norm(rnn.weight_hh_l0, 2)
    return rnn


def test_a_tanh_rnn_vanishing_faster_than_the_band_fails_naming_the_horizon():
    inputs = np.random.default_rng(0).standard_normal((30, 2))
    with pytest.raises(AssertionError) as caught:
        assert_gradient_flow(_vanishing_rnn(), inputs, horizon=30, above=-3)
    message = str(caught.value)
    assert "below the band [-3, inf] at horizon 30" in message
    assert "bound over 30 steps" in message and "vanishing guaranteed" in message
    # A band the flow does meet passes and returns the measurement.
    result = assert_gradient_flow(_vanishing_rnn(), inputs, horizon=30, above=-30, below=0)
    assert result.log10_norm[29] <= result.log10_bound[29] + 1e-9


def test_a_live_stack_is_measured_as_flow_measures_its_state_dict(tmp_path, capsys):
    torch.manual_seed(3)
    gru = torch.nn.GRU(2, 4, num_layers=2).double()
    inputs = np.random.default_rng(1).standard_normal((12, 2))
    result = gradient_flow_of(gru, inputs)
    weights, xs = tmp_path / "gru.npz", tmp_path / "x.npy"
    np.savez(weights, **{k: v.detach().numpy() for k, v in gru.state_dict().items()})
    np.save(xs, inputs)
    assert main(["flow", "gru", "--weights", str(weights), "--inputs", str(xs), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert result.layers == expected["layers"] == 2
    np.testing.assert_array_equal(result.log10_norm, expected["log10_norm"])
    assert result.log10_norm_depth == expected["log10_norm_depth"]
    assert result.verdict == expected["verdict"]


def test_a_whole_models_state_dict_needs_the_cell():
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn, self.fc = torch.nn.LSTM(2, 3).double(), torch.nn.Linear(3, 1)

    state = Model().state_dict()
    inputs = np.zeros((5, 2))
    assert gradient_flow_of(state, inputs, cell="lstm").hidden == 3
    with pytest.raises(ValueError, match="cell="):
        gradient_flow_of(state, inputs)


def test_argument_errors_of_the_flow_helpers_are_value_errors():
    rnn, inputs = _vanishing_rnn(), np.zeros((5, 2))
    with pytest.raises(ValueError, match="give the band"):
        assert_gradient_flow(rnn, inputs, horizon=5)
    with pytest.raises(ValueError, match=r"horizon must be an integer in 1..5"):
        assert_gradient_flow(rnn, inputs, horizon=6, above=-1)
    with pytest.raises(ValueError, match=r"expected \(T, 2\)"):
        gradient_flow_of(rnn, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="params="):
        gradient_flow_of("rnn", inputs)
