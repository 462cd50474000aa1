"""Parity with PyTorch in float64: forward states and full-state step Jacobians.

The compiled cells read PyTorch ``state_dict``s through
:func:`numeric.weights.torch_weights`, so these tests check the weight
layouts (gate order, bias placement) as much as the cell equations.
"""

from __future__ import annotations

import numpy as np
import pytest

from numeric.check import RTOL
from numeric.compile import compile_cell
from numeric.torch_parity import torch_cell, torch_jacobian, torch_step
from numeric.weights import torch_weights
from symbolic.gru import gru
from symbolic.lstm import lstm
from symbolic.rnn import elman_rnn

torch = pytest.importorskip("torch")

CELLS = {
    "rnn-tanh": (elman_rnn("tanh"), "RNNCell", {"nonlinearity": "tanh"}),
    "rnn-relu": (elman_rnn("relu"), "RNNCell", {"nonlinearity": "relu"}),
    "lstm": (lstm(), "LSTMCell", {}),
    "gru": (gru(), "GRUCell", {}),
}
SIZES = [(2, 1), (3, 4), (8, 5)]


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``||a - b|| / ||b||`` over the batch (norms over the trailing axes).

    Where ``b`` is zero (every relu unit off) the error is ``||a||``: ``a`` must be zero too.
    """
    axes = tuple(range(1, np.ndim(b)))
    diff, size = np.linalg.norm(a - b, axis=axes), np.linalg.norm(b, axis=axes)
    return float(np.max(np.where(size > 0, diff / np.where(size > 0, size, 1.0), diff)))


def _state_dict(kind: str, hidden: int, inputs: int, seed: int, **options) -> dict:
    """A PyTorch cell's own state_dict, float64, weights spread to saturate some gates."""
    _, name, kwargs = CELLS[kind]
    torch.manual_seed(seed)
    module = getattr(torch.nn, name)(inputs, hidden, dtype=torch.float64, **kwargs, **options)
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(3.0)
    return {k: v.numpy().copy() for k, v in module.state_dict().items()}


def _compiled(cell, state, layer=None):
    weights = torch_weights(state, cell.name, layer)
    return compile_cell(cell, n=weights.hidden, m=weights.input_size), weights.params


def _point(compiled, inputs, seed, batch=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, compiled.state_size)), rng.standard_normal((batch, inputs))


@pytest.mark.parametrize(("hidden", "inputs"), SIZES)
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_forward_state_equals_pytorch(kind, hidden, inputs):
    cell = CELLS[kind][0]
    state = _state_dict(kind, hidden, inputs, seed=hidden)
    compiled, params = _compiled(cell, state)
    s, x = _point(compiled, inputs, seed=hidden)
    assert _relative_error(compiled.step(s, x, params), torch_step(cell, state, s, x)) <= RTOL


@pytest.mark.parametrize(("hidden", "inputs"), SIZES)
@pytest.mark.parametrize("kind", sorted(CELLS))
def test_step_jacobian_equals_torch_autograd(kind, hidden, inputs):
    cell = CELLS[kind][0]
    state = _state_dict(kind, hidden, inputs, seed=10 + hidden)
    compiled, params = _compiled(cell, state)
    s, x = _point(compiled, inputs, seed=10 + hidden)
    expected = torch_jacobian(cell, state, s, x)
    assert expected.shape == (len(s), compiled.state_size, compiled.state_size)
    assert _relative_error(compiled.jacobian(s, x, params), expected) <= RTOL


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cells_without_bias_load_as_zero_bias(kind):
    cell = CELLS[kind][0]
    state = _state_dict(kind, 4, 3, seed=5, bias=False)
    assert not any(k.startswith("bias") for k in state)
    compiled, params = _compiled(cell, state)
    s, x = _point(compiled, 3, seed=5)
    assert _relative_error(compiled.step(s, x, params), torch_step(cell, state, s, x)) <= RTOL
    assert (
        _relative_error(compiled.jacobian(s, x, params), torch_jacobian(cell, state, s, x)) <= RTOL
    )


@pytest.mark.parametrize(("kind", "module"), [("lstm", "LSTM"), ("gru", "GRU")])
def test_layer_k_of_a_multilayer_module(kind, module):
    """Layer 1 of a two-layer module maps (layer 0's new h, its own old state) to its new state."""
    cell = CELLS[kind][0]
    hidden, inputs = 5, 3
    torch.manual_seed(7)
    net = getattr(torch.nn, module)(inputs, hidden, num_layers=2, dtype=torch.float64)
    state = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 1, inputs))
    h0 = rng.standard_normal((2, 1, hidden))
    c0 = rng.standard_normal((2, 1, hidden))
    with torch.no_grad():
        if kind == "lstm":
            _, (hn, cn) = net(torch.as_tensor(x), (torch.as_tensor(h0), torch.as_tensor(c0)))
            old = np.concatenate([h0[1, 0], c0[1, 0]])
            new = np.concatenate([hn[1, 0].numpy(), cn[1, 0].numpy()])
        else:
            _, hn = net(torch.as_tensor(x), torch.as_tensor(h0))
            old, new = h0[1, 0], hn[1, 0].numpy()
    compiled, params = _compiled(cell, state, layer=1)
    assert _relative_error(compiled.step(old, hn[0, 0].numpy(), params)[None], new[None]) <= RTOL


def test_swapping_the_input_and_forget_rows_breaks_parity():
    """Reading PyTorch's gates in the order f, i, g, o must fail the same comparison."""
    cell = lstm()
    state = _state_dict("lstm", 6, 2, seed=3)
    swapped = {}
    for key, value in state.items():
        i, f, g, o = np.split(value, 4)
        swapped[key] = np.concatenate([f, i, g, o])
    compiled, params = _compiled(cell, swapped)
    s, x = _point(compiled, 2, seed=3)
    assert _relative_error(compiled.step(s, x, params), torch_step(cell, state, s, x)) > 1e-3


def test_folding_b_hn_into_b_in_breaks_gru_parity():
    """The reset gate multiplies b_hn: adding it to b_in instead must fail parity."""
    cell = gru()
    state = _state_dict("gru", 6, 2, seed=4)
    compiled, params = _compiled(cell, state)
    wrong = dict(
        params, **{"b_{in}": params["b_{in}"] + params["b_{hn}"], "b_{hn}": 0 * params["b_{hn}"]}
    )
    s, x = _point(compiled, 2, seed=4)
    expected = torch_step(cell, state, s, x)
    assert _relative_error(compiled.step(s, x, params), expected) <= RTOL
    assert _relative_error(compiled.step(s, x, wrong), expected) > 1e-3


def test_textbook_gru_is_not_pytorch_gru():
    """The textbook reset placement is a different function, so it has no torch counterpart."""
    state = _state_dict("gru", 4, 2, seed=6)
    compiled, params = _compiled(gru("textbook"), state)
    s, x = _point(compiled, 2, seed=6)
    assert _relative_error(compiled.step(s, x, params), torch_step(gru(), state, s, x)) > 1e-3
    with pytest.raises(ValueError, match="PyTorch has no cell"):
        torch_cell(gru("textbook"), state)
    with pytest.raises(ValueError, match="PyTorch has no cell"):
        torch_cell(lstm("no_forget"), state)
