"""Recurrent modules found in whole models' state_dicts: by prefix, type, direction."""

import numpy as np
import pytest

from numeric.errors import GradproofInputError
from numeric.state_dicts import recurrent_modules, select_module
from numeric.weights import random_state_dict, torch_weights

torch = pytest.importorskip("torch")


class Seq2Seq(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.rnn = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
        self.decoder = torch.nn.GRUCell(8, 4)
        self.rnn = torch.nn.RNN(3, 5, nonlinearity="relu")
        self.head = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LSTM(4, 2, proj_size=1))


def _arrays(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def test_every_recurrent_module_of_a_real_model_is_described():
    torch.manual_seed(0)
    found = {m.name: m for m in recurrent_modules(_arrays(Seq2Seq()))}
    assert sorted(found) == ["decoder", "encoder.rnn", "head.1", "rnn"]
    encoder = found["encoder.rnn"]
    assert (encoder.kind, encoder.layers, encoder.bidirectional) == ("lstm", 2, True)
    assert (found["decoder"].kind, found["decoder"].layers) == ("gru", 1)
    assert (found["rnn"].kind, found["head.1"].kind, found["head.1"].proj_size) == (
        "rnn",
        "lstm",
        1,
    )
    assert found["rnn"].proj_size is None


def test_the_chosen_module_keeps_its_own_keys_only():
    torch.manual_seed(1)
    state = _arrays(Seq2Seq())
    _, keys = select_module(state, "gru")  # the one GRU, found by itself
    assert sorted(keys) == ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]
    np.testing.assert_array_equal(keys["weight_hh"], state["decoder.weight_hh"])
    _, keys = select_module(state, "rnn")
    assert sorted(keys) == ["bias_hh_l0", "bias_ih_l0", "weight_hh_l0", "weight_ih_l0"]
    _, keys = select_module(state, "lstm", module="encoder.rnn", direction="reverse", layer=1)
    assert sorted(keys) == sorted(
        f"{t}_l{j}" for j in (0, 1) for t in ("bias_hh", "bias_ih", "weight_hh", "weight_ih")
    )
    np.testing.assert_array_equal(keys["weight_ih_l1"], state["encoder.rnn.weight_ih_l1_reverse"])
    assert keys["weight_ih_l1"].shape == (16, 8)  # layer 1 reads both directions of layer 0
    _, forward = select_module(state, "lstm", module="encoder.rnn", direction="forward", layer=0)
    np.testing.assert_array_equal(forward["weight_hh_l0"], state["encoder.rnn.weight_hh_l0"])
    assert not np.array_equal(forward["weight_hh_l0"], keys["weight_hh_l0"])  # teeth


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {},
            "the weights have 2 lstm modules ('encoder.rnn' (lstm, 2 layers, bidirectional), "
            "'head.1' (lstm, 1 layer)); choose one with --module NAME",
        ),
        ({"module": "encoder"}, "no recurrent module 'encoder' (recurrent modules: 'decoder' (gru"),
        ({"module": "head.1"}, "module 'head.1' is an LSTM with proj_size = 1"),
        ({"module": "encoder.rnn"}, "is bidirectional (its keys ending in _reverse"),
        ({"module": "encoder.rnn", "direction": "reverse"}, "a bidirectional stack of 2 layers"),
        ({"module": "rnn", "direction": "forward"}, "module 'rnn' has no _reverse keys"),
        ({"module": "rnn", "direction": "sideways"}, "--direction must be forward or reverse"),
    ],
)
def test_ambiguous_or_unmeasurable_choices_are_refused_in_one_line(options, message):
    torch.manual_seed(2)
    with pytest.raises(GradproofInputError) as err:
        select_module(_arrays(Seq2Seq()), "lstm", **options)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_no_module_of_the_type_and_no_module_at_all():
    state = {f"rnn.{k}": v for k, v in random_state_dict("gru", 3, 2, 1.0, seed=0).items()}
    state["rnn2.weight_hh"] = np.eye(3)
    with pytest.raises(GradproofInputError, match="no lstm module .* gradproof flow gru"):
        select_module(state, "lstm")
    plain = {"fc.weight": np.eye(2)}
    assert select_module(plain, "lstm") == (None, plain)
    with pytest.raises(GradproofInputError, match="--module selects a recurrent module"):
        select_module(plain, "lstm", module="rnn")


def test_a_bare_module_and_its_prefixed_copy_give_the_same_weights():
    bare = random_state_dict("lstm", 3, 2, 0.9, seed=1, layers=2)
    prefixed = {f"model.encoder.rnn.{k}": v for k, v in bare.items()} | {"model.fc.bias": 0}
    found, keys = select_module(prefixed, "lstm")
    assert found.name == "model.encoder.rnn" and found.layers == 2
    for layer in (0, 1):
        a, b = (torch_weights(s, "lstm", layer).params for s in (keys, bare))
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert select_module(bare, "lstm")[1] == bare
