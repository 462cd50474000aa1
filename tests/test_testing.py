"""numeric.testing: each assertion passes a correct implementation and fails a wrong one."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from numeric.testing import assert_matches_cell
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
