"""Weight files, random weights, inputs and initial states: mapping and every bad input."""

import numpy as np
import pytest

from numeric.check import RTOL
from numeric.errors import GradproofInputError
from numeric.loading import load_npz
from numeric.weights import (
    cell_sizes,
    named_params,
    random_inputs,
    random_state_dict,
    torch_weights,
)
from symbolic.registry import TorchLayout
from symbolic.rnn import elman_rnn


def _state(hidden=3, inputs=2, suffix=""):
    rng = np.random.default_rng(0)
    return {
        f"weight_ih{suffix}": rng.standard_normal((hidden, inputs)),
        f"weight_hh{suffix}": rng.standard_normal((hidden, hidden)),
        f"bias_ih{suffix}": rng.standard_normal(hidden),
        f"bias_hh{suffix}": rng.standard_normal(hidden),
    }


def test_rnn_mapping_round_trips_through_an_npz(tmp_path):
    state = _state()
    np.savez(tmp_path / "w.npz", **state)
    tw = torch_weights(load_npz(tmp_path / "w.npz"), "rnn")
    assert (tw.hidden, tw.input_size) == (3, 2)
    np.testing.assert_array_equal(tw.params["W"], state["weight_hh"])
    np.testing.assert_array_equal(tw.params["U"], state["weight_ih"])
    np.testing.assert_array_equal(tw.params["b"], state["bias_ih"] + state["bias_hh"])
    assert cell_sizes(elman_rnn(), tw.params) == {"n": 3, "m": 2}


def test_layer_selects_the_suffixed_names():
    state = {**_state(4, 2, "_l0"), **_state(4, 4, "_l1")}
    state["weight_hh_l1"] = 2 * state["weight_hh_l1"]
    tw = torch_weights(state, "rnn", layer=1)
    np.testing.assert_array_equal(tw.params["W"], state["weight_hh_l1"])
    assert tw.input_size == 4
    with pytest.raises(GradproofInputError, match="multi-layer names .*--layer K"):
        torch_weights(state, "rnn")
    with pytest.raises(GradproofInputError, match="no key 'weight_hh_l2'"):
        torch_weights(state, "rnn", layer=2)
    with pytest.raises(GradproofInputError, match="drop --layer"):
        torch_weights(_state(), "rnn", layer=0)
    with pytest.raises(GradproofInputError, match="--layer must be >= 0"):
        torch_weights(state, "rnn", layer=-1)


def test_module_without_biases_gets_zero_biases():
    state = {k: v for k, v in _state().items() if k.startswith("weight")}
    assert not torch_weights(state, "rnn").params["b"].any()
    del state["weight_ih"]
    with pytest.raises(GradproofInputError, match="no key 'weight_ih'"):
        torch_weights(state, "rnn")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "weight_hh",
            np.zeros((3, 4)),
            r"'weight_hh' has shape \(3, 4\), expected \(H, H\) = \(4, 4\)",
        ),
        ("weight_hh", np.zeros(3), r"'weight_hh' has shape \(3,\), expected a matrix \(H, H\)"),
        (
            "weight_ih",
            np.zeros((4, 2)),
            r"'weight_ih' has shape \(4, 2\), expected \(H, in\) = \(3, in\)",
        ),
        ("bias_hh", np.zeros((3, 1)), r"'bias_hh' has shape \(3, 1\), expected \(H,\) = \(3,\)"),
        ("bias_ih", None, r"no key 'bias_ih'"),
        ("weight_hh", None, r"no key 'weight_hh'"),
        ("bias_ih", np.array([0.0, np.nan, 0.0]), r"'bias_ih' contains NaN or inf"),
        ("weight_ih", np.array([["a", "b"]] * 3), r"'weight_ih' has dtype <U1"),
    ],
)
def test_bad_state_dicts_name_the_key(key, value, message):
    state = _state()
    if value is None:
        del state[key]
    else:
        state[key] = value
    with pytest.raises(GradproofInputError, match=message) as err:
        torch_weights(state, "rnn")
    assert "\n" not in str(err.value)


def test_unknown_cell_and_bad_layouts():
    with pytest.raises(GradproofInputError, match="cell 'grid' is neither a registered name"):
        torch_weights(_state(), "grid")
    with pytest.raises(GradproofInputError, match="cell 'gridlstm' has no PyTorch weight layout"):
        torch_weights(_state(), "gridlstm")
    with pytest.raises(ValueError, match="not a gate slice"):
        TorchLayout(gates=("r", "z", "n"), params={"W_r": (("weight_hh", "q"),)})


@pytest.mark.parametrize("init", ["gaussian", "orthogonal"])
def test_random_weights_have_the_requested_sigma_max(init):
    state = random_state_dict("rnn", 16, 3, 1.25, seed=7, init=init)
    assert np.linalg.norm(state["weight_hh"], 2) == pytest.approx(1.25, rel=RTOL)
    again = random_state_dict("rnn", 16, 3, 1.25, seed=7, init=init)
    assert all(np.array_equal(state[k], again[k]) for k in state)
    other = random_state_dict("rnn", 16, 3, 1.25, seed=8, init=init)
    assert not np.array_equal(state["weight_hh"], other["weight_hh"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden": 0}, "--hidden must be a positive integer"),
        ({"input_size": -1}, "--input must be a positive integer"),
        ({"scale": 0.0}, "--scale must be a positive number"),
        ({"scale": float("nan")}, "--scale must be a positive number"),
        ({"seed": -3}, "--seed must be a non-negative integer"),
        ({"init": "uniform"}, "--init must be one of"),
    ],
)
def test_bad_random_weight_settings(kwargs, message):
    settings = {"hidden": 4, "input_size": 2, "scale": 1.0, "seed": 0, **kwargs}
    with pytest.raises(GradproofInputError, match=message):
        random_state_dict("rnn", **settings)


def test_random_inputs_depend_on_the_seed_only():
    xs = random_inputs(5, 2, seed=1)
    assert xs.shape == (5, 2)
    # Inputs depend on the seed only, not on the network drawn with it.
    np.testing.assert_array_equal(xs, random_inputs(5, 2, seed=1))
    for steps in (0, -4):
        with pytest.raises(GradproofInputError, match="--steps must be a positive integer"):
            random_inputs(steps, 2, seed=1)


def test_cell_sizes_checks_every_parameter():
    cell = elman_rnn()
    good = {"W": np.eye(3), "U": np.ones((3, 2)), "b": np.zeros(3)}
    with pytest.raises(GradproofInputError, match="parameter 'b' of cell 'rnn' is missing"):
        cell_sizes(cell, {"W": np.eye(3), "U": np.ones((3, 2))})
    with pytest.raises(GradproofInputError, match=r"'b' has shape \(3, 1\), expected 1-D"):
        cell_sizes(cell, {**good, "b": np.zeros((3, 1))})
    with pytest.raises(
        GradproofInputError, match=r"'U' has shape \(4, 2\), expected \(n, m\) = \(3, 2\)"
    ):
        cell_sizes(cell, {**good, "U": np.ones((4, 2))})


def test_layer_mapping_reproduces_a_two_layer_torch_rnn():
    torch = pytest.importorskip("torch")
    from numeric.compile import compile_cell

    torch.manual_seed(1)
    module = torch.nn.RNN(3, 4, num_layers=2, dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    xs = np.random.default_rng(2).standard_normal((6, 3))
    with torch.no_grad():
        output, h_n = module(torch.as_tensor(xs))
    cell = elman_rnn("tanh")
    sequence = xs
    for layer in (0, 1):
        tw = torch_weights(state, "rnn", layer=layer)
        cc = compile_cell(cell, **cell_sizes(cell, tw.params))
        h, outputs = np.zeros(4), []
        for x in sequence:
            h = cc.step(h, x, tw.params)
            outputs.append(h)
        sequence = np.array(outputs)
        np.testing.assert_allclose(h, h_n[layer].numpy(), rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(sequence, output.numpy(), rtol=RTOL, atol=RTOL)


@pytest.mark.parametrize("weight_hh", [np.zeros(()), np.zeros((0, 0)), np.zeros((4, 0))])
@pytest.mark.parametrize(("cell", "rows"), [("rnn", "H"), ("lstm", "4H"), ("gru", "3H")])
def test_empty_or_scalar_weight_hh_says_what_shape_is_expected(weight_hh, cell, rows):
    state = {**_state(), "weight_hh": weight_hh}
    with pytest.raises(GradproofInputError) as err:
        torch_weights(state, cell)
    message = str(err.value)
    assert message.startswith(
        f"key 'weight_hh' has shape {weight_hh.shape}, expected a matrix ({rows}, H) "
        "with hidden size H >= 1"
    )
    assert "(in, in)" not in message  # the old message's placeholder, read as the input size


def test_wrong_row_count_names_the_hidden_size_and_the_gates():
    state = {**_state(), "weight_hh": np.zeros((3, 4))}
    with pytest.raises(GradproofInputError) as err:
        torch_weights(state, "lstm")
    assert str(err.value) == (
        "key 'weight_hh' has shape (3, 4), expected (4H, H) = (16, 4) for hidden size H = 4 "
        "(its column count; 4 gates stacked by rows); check the cell type and --layer"
    )


def test_named_params_refuse_empty_and_non_real_arrays():
    cell = elman_rnn()
    good = {"W": np.eye(3), "U": np.ones((3, 2)), "b": np.zeros(3)}
    with pytest.raises(GradproofInputError, match=r"'W' has shape \(0, 0\), which holds no number"):
        named_params({**good, "W": np.zeros((0, 0))}, cell)
    with pytest.raises(GradproofInputError, match="'b' has complex dtype complex128"):
        named_params({**good, "b": np.zeros(3, dtype=complex)}, cell)
    with pytest.raises(GradproofInputError, match="'b' has dtype bool"):
        named_params({**good, "b": np.zeros(3, dtype=bool)}, cell)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_random_layers_load_into_the_torch_module_and_layer_0_is_the_one_layer_draw(kind):
    torch = pytest.importorskip("torch")
    state = random_state_dict(kind, 4, 3, 0.7, seed=5, layers=3)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    module = module(3, 4, num_layers=3, dtype=torch.float64)
    # every key and shape of the module (the LSTM's peephole vectors are extra, for its variant)
    module.load_state_dict({k: torch.as_tensor(state[k]) for k in module.state_dict()})
    one = random_state_dict(kind, 4, 3, 0.7, seed=5)
    assert all(np.array_equal(state[f"{k}_l0"], v) for k, v in one.items())
    for layer in range(3):
        W = state[f"weight_hh_l{layer}"]
        assert np.linalg.norm(W, 2) == pytest.approx(0.7, rel=RTOL)
    assert not np.array_equal(state["weight_hh_l1"], state["weight_hh_l2"])  # drawn apart
    with pytest.raises(GradproofInputError, match="--layers must be a positive integer"):
        random_state_dict(kind, 4, 3, 0.7, seed=5, layers=0)
