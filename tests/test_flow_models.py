"""``gradproof flow`` on whole PyTorch models: modules found by prefix, stacks measured whole,
spectra; the CLI's JSON against the library and against torch.autograd in float64."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from numeric.check import RTOL
from numeric.cli import main
from numeric.flow import gradient_flow
from numeric.lyapunov import check_lyapunov_bound, lyapunov_exponents
from numeric.singular_values import log10_singular_values
from numeric.stack import layer_lyapunov_exponents, torch_stack
from numeric.stack_depth import log10_norm_depth
from numeric.weights import random_inputs, random_state_dict

torch = pytest.importorskip("torch")

from test_stack import KINDS, TorchStack, _norm_ratio  # noqa: E402 - needs torch

HIDDEN, INPUT = 3, 2


class Model(torch.nn.Module):
    """What a user trains: a recurrent module and a linear read-out, maybe more."""

    def __init__(self, kind="lstm", layers=2, encoder=False, **options):
        super().__init__()
        self.rnn = KINDS[kind](INPUT, HIDDEN, num_layers=layers, batch_first=True, **options)
        if encoder:
            self.encoder = torch.nn.Module()
            self.encoder.rnn = KINDS[kind](INPUT, HIDDEN, batch_first=True)
        self.fc = torch.nn.Linear(HIDDEN * (2 if options.get("bidirectional") else 1), 1)


def _save(tmp_path, module, name="model"):
    """The model's state_dict as .pt and as .npz; both paths."""
    state = module.double().state_dict()
    torch.save(state, tmp_path / f"{name}.pt")
    np.savez(tmp_path / f"{name}.npz", **{k: v.numpy() for k, v in state.items()})
    return str(tmp_path / f"{name}.pt"), str(tmp_path / f"{name}.npz")


def _inputs_file(tmp_path, inputs):
    np.save(tmp_path / "x.npy", inputs)
    return str(tmp_path / "x.npy")


def _flow(capsys, *argv):
    assert main(["flow", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _refused(capsys, tmp_path, *argv):
    """The one-line refusal of ``flow argv``: exit code 2, nothing on stdout, no file written."""
    before = sorted(tmp_path.iterdir())
    assert main(["flow", *argv, "--plot", str(tmp_path / "refused.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("gradproof: error: ")
    assert sorted(tmp_path.iterdir()) == before
    return err


def _logs(values):
    return np.array([-np.inf if v is None else v for v in values], dtype=float)


def _module_state(path, prefix):
    from numeric.loading import load_state_dict

    return {
        k.removeprefix(prefix): v
        for k, v in load_state_dict(path).items()
        if k.startswith(prefix) and "." not in k.removeprefix(prefix)
    }


# A model's state_dict: its recurrent module found by itself, or by --module.


def test_a_model_loads_by_itself_from_pt_and_npz_and_with_module(tmp_path, capsys):
    torch.manual_seed(0)
    pt, npz = _save(tmp_path, Model("lstm", layers=2))
    x = _inputs_file(tmp_path, random_inputs(8, INPUT, seed=1))
    answers = [
        _flow(capsys, "lstm", "--weights", path, "--inputs", x, *extra)
        for path in (pt, npz)
        for extra in ([], ["--module", "rnn"])
    ]
    assert all(a == answers[0] for a in answers[1:])
    stack = torch_stack(_module_state(npz, "rnn."), "lstm")
    inputs = np.load(x)
    flow = gradient_flow(stack, {}, inputs)
    result = answers[0]
    assert (result["layers"], result["hidden"], result["steps"]) == (2, HIDDEN, 8)
    np.testing.assert_array_equal(_logs(result["log10_norm"]), flow.log10_norm)
    np.testing.assert_array_equal(result["log10_norm_depth"], log10_norm_depth(stack, inputs))
    assert result["layer_bounds"] == [None, None] and result["log10_bound"] is None


def test_two_recurrent_modules_need_module_and_the_refusal_lists_them(tmp_path, capsys):
    torch.manual_seed(1)
    pt, _ = _save(tmp_path, Model("gru", layers=1, encoder=True))
    err = _refused(capsys, tmp_path, "gru", "--weights", pt, "--steps", "4")
    assert (
        "the weights have 2 gru modules ('encoder.rnn' (gru, 1 layer), 'rnn' (gru, 1 layer))" in err
    )
    assert "--module NAME" in err
    err = _refused(capsys, tmp_path, "gru", "--weights", pt, "--module", "decoder")
    assert "no recurrent module 'decoder'" in err and "'encoder.rnn'" in err
    chosen = _flow(capsys, "gru", "--weights", pt, "--module", "encoder.rnn", "--steps", "4")
    other = _flow(capsys, "gru", "--weights", pt, "--module", "rnn", "--steps", "4")
    assert chosen["log10_norm"] != other["log10_norm"]  # each module its own weights
    # a module of another type in the same file is not a candidate
    torch.manual_seed(2)
    mixed = Model("lstm", layers=1)
    mixed.encoder = torch.nn.Module()
    mixed.encoder.rnn = torch.nn.GRU(INPUT, HIDDEN)
    pt, _ = _save(tmp_path, mixed, "mixed")
    assert _flow(capsys, "gru", "--weights", pt, "--steps", "4")["hidden"] == HIDDEN
    assert "no rnn module" in _refused(capsys, tmp_path, "rnn", "--weights", pt)


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stacked_norms_and_depth_of_a_model_match_autograd(tmp_path, capsys, kind, layers):
    ref = TorchStack(kind, layers, seed=3, hidden=HIDDEN)
    np.savez(tmp_path / "w.npz", **{f"rnn.{k}": v for k, v in ref.state.items()}, fc=np.ones(3))
    inputs = np.random.default_rng(4).standard_normal((5, INPUT))
    x = _inputs_file(tmp_path, inputs)
    result = _flow(capsys, kind, "--weights", str(tmp_path / "w.npz"), "--inputs", x)
    assert set(result) >= {"log10_norm", "log10_norm_depth", "depth_slope", "layer_bounds"}
    np.testing.assert_allclose(
        _norm_ratio(result["log10_norm"], ref.products(inputs)), 1.0, rtol=RTOL
    )
    top = [ref.node_jacobian(inputs, len(inputs), j) for j in range(layers)]
    np.testing.assert_allclose(_norm_ratio(result["log10_norm_depth"], top), 1.0, rtol=RTOL)
    # teeth: the bottom layer alone is another network
    alone = _flow(capsys, kind, "--weights", str(tmp_path / "w.npz"), "--inputs", x, "--layer", "0")
    assert not np.allclose(_norm_ratio(alone["log10_norm"], ref.products(inputs)), 1.0, rtol=1e-3)


def test_layer_keeps_its_meaning_and_one_layer_modules_keep_their_bound(tmp_path, capsys):
    torch.manual_seed(5)
    pt, _ = _save(tmp_path, Model("rnn", layers=2))
    state = _module_state(pt, "rnn.")
    one = {k.replace("_l1", ""): v for k, v in state.items() if k.endswith("_l1")}
    np.savez(tmp_path / "layer1.npz", **one)
    x = _inputs_file(tmp_path, np.random.default_rng(6).standard_normal((6, HIDDEN)))
    by_layer = _flow(capsys, "rnn", "--weights", pt, "--layer", "1", "--inputs", x)
    alone = _flow(capsys, "rnn", "--weights", str(tmp_path / "layer1.npz"), "--inputs", x)
    assert by_layer == alone and by_layer["log10_bound"] is not None
    torch.manual_seed(7)
    pt, _ = _save(tmp_path, Model("rnn", layers=1), "single")  # names weight_hh_l0
    single = _flow(capsys, "rnn", "--weights", pt, "--steps", "5")
    assert "layers" not in single and single["verdict"]["step_bound"] is not None


# Bidirectional modules and proj_size.


def test_bidirectional_needs_a_direction_and_reverse_reads_the_inputs_backwards(tmp_path, capsys):
    torch.manual_seed(8)
    model = Model("gru", layers=1, bidirectional=True).double()
    pt, _ = _save(tmp_path, model)
    inputs = np.random.default_rng(9).standard_normal((5, INPUT))
    x = _inputs_file(tmp_path, inputs)
    err = _refused(capsys, tmp_path, "gru", "--weights", pt, "--inputs", x)
    assert "module 'rnn' is bidirectional" in err and "--direction forward or" in err
    reverse = _flow(capsys, "gru", "--weights", pt, "--inputs", x, "--direction", "reverse")
    forward = _flow(capsys, "gru", "--weights", pt, "--inputs", x, "--direction", "forward")
    # The reverse half of the module is a one-direction GRU run over x_T, ..., x_1.
    state = model.rnn.state_dict()
    backward = torch.nn.GRU(INPUT, HIDDEN, dtype=torch.float64)
    backward.load_state_dict(
        {k.removesuffix("_reverse"): state[k] for k in state if "reverse" in k}
    )
    xs = torch.as_tensor(inputs)
    with torch.no_grad():
        both = model.rnn(xs[None])[0][0, 0, HIDDEN:]  # the reverse half's output at t = 1
        np.testing.assert_allclose(backward(xs.flip(0))[0][-1], both, rtol=RTOL)
    ref = TorchStack("gru", 1, hidden=HIDDEN)
    ref.module = backward
    products = ref.products(inputs[::-1].copy())
    np.testing.assert_allclose(_norm_ratio(reverse["log10_norm"], products), 1.0, rtol=RTOL)
    assert not np.allclose(_norm_ratio(forward["log10_norm"], products), 1.0, rtol=1e-3)  # teeth
    err = _refused(capsys, tmp_path, "gru", "--weights", str(tmp_path / "model.npz"))
    assert "bidirectional" in err


def test_a_bidirectional_stack_is_refused_whole_and_measured_by_layer(tmp_path, capsys):
    torch.manual_seed(10)
    pt, _ = _save(tmp_path, Model("lstm", layers=2, bidirectional=True))
    err = _refused(capsys, tmp_path, "lstm", "--weights", pt, "--direction", "forward")
    assert "is a bidirectional stack of 2 layers, which is not one recurrence along time" in err
    assert "--layer K --direction forward|reverse" in err
    layer = _flow(capsys, "lstm", "--weights", pt, "--layer", "1", "--direction", "reverse")
    assert layer["hidden"] == HIDDEN and "layers" not in layer


def test_proj_size_is_refused_naming_it(tmp_path, capsys):
    torch.manual_seed(11)
    pt, npz = _save(tmp_path, Model("lstm", layers=2, proj_size=2))
    for path in (pt, npz):
        err = _refused(capsys, tmp_path, "lstm", "--weights", path)
        assert "is an LSTM with proj_size = 2 (key weight_hr_l0)" in err


# Spectra.


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_spectrum_json_equals_the_library_for_a_stack(tmp_path, capsys, kind):
    argv = [kind, "--layers", "2", "--hidden", "3", "--input", "2", "--steps", "7", "--seed", "4"]
    result = _flow(capsys, *argv, "--spectrum", "4")
    without = _flow(capsys, *argv)
    assert {k: v for k, v in result.items() if k in without} == without
    stack = torch_stack(random_state_dict(kind, 3, 2, 1.0, seed=4, layers=2), kind)
    inputs = random_inputs(7, 2, seed=4)
    np.testing.assert_array_equal(
        result["log10_singular_values"], log10_singular_values(stack, {}, inputs, count=4)
    )
    np.testing.assert_array_equal(
        result["lyapunov_exponents"], lyapunov_exponents(stack, {}, inputs, count=4)
    )
    top = np.array(result["log10_singular_values"])[:, 0]  # another method: to rounding
    np.testing.assert_allclose(top, result["log10_norm"], rtol=0, atol=1e-12)
    checks = result["layer_lyapunov_checks"]
    if kind == "gru":
        assert checks == [None, None]
        return
    tops = layer_lyapunov_exponents(stack, inputs, count=1)
    for j, check in enumerate(checks):
        assert check["passed"] and check["largest_exponent"] == tops[j][0]
        assert check["ln_step_bound"] == pytest.approx(0.0, abs=1e-12)  # sigma_max 1 per layer


def test_spectrum_of_one_cell_checks_lambda_1_against_ln_b_and_can_fail(capsys, monkeypatch):
    argv = ["rnn", "--hidden", "4", "--steps", "30", "--scale", "0.8", "--spectrum", "2"]
    result = _flow(capsys, *argv)
    from numeric.weights import torch_weights
    from symbolic.rnn import elman_rnn

    params = torch_weights(random_state_dict("rnn", 4, 4, 0.8, seed=0), "rnn").params
    inputs = random_inputs(30, 4, seed=0)
    expected = log10_singular_values(elman_rnn("tanh"), params, inputs, count=2)
    np.testing.assert_array_equal(result["log10_singular_values"], expected)
    exponents = lyapunov_exponents(elman_rnn("tanh"), params, inputs, count=2)
    np.testing.assert_array_equal(result["lyapunov_exponents"], exponents)
    check = result["lyapunov_check"]
    assert check["passed"] and check["ln_step_bound"] == pytest.approx(np.log(0.8), rel=RTOL)
    assert check["largest_exponent"] == max(result["lyapunov_exponents"])
    assert main(["flow", *argv]) == 0
    text = capsys.readouterr().out
    assert "lambda_1 <= ln B: holds (largest Lyapunov exponent" in text
    assert text.strip().splitlines()[-1].startswith("verdict: vanishing guaranteed")
    # teeth: exponents above ln B are reported as a failure, in JSON and in text
    import numeric.spectrum_answers as answers

    monkeypatch.setattr(answers, "lyapunov_exponents", lambda *a, **k: np.array([0.1, -1.0]))
    assert _flow(capsys, *argv)["lyapunov_check"]["passed"] is False
    assert main(["flow", *argv]) == 0
    assert (
        "lambda_1 <= ln B: FAILS (largest Lyapunov exponent 0.1 per step >"
        in capsys.readouterr().out
    )
    assert not check_lyapunov_bound(np.array([0.1]), _bound(0.8)).passed


def _bound(value):
    from numeric.bounds import EvaluatedBound

    return EvaluatedBound(value, "sigma_max(W)", 1.0, value, None)


def test_random_layers_draw_a_stack_and_one_layer_is_the_default(capsys):
    small = ["--hidden", "3", "--input", "2", "--steps", "6"]
    assert _flow(capsys, "lstm", *small, "--layers", "1") == _flow(capsys, "lstm", *small)
    stacked = _flow(capsys, "lstm", *small, "--layers", "3")
    stack = torch_stack(random_state_dict("lstm", 3, 2, 1.0, seed=0, layers=3), "lstm")
    inputs = random_inputs(6, 2, seed=0)
    np.testing.assert_array_equal(
        _logs(stacked["log10_norm"]), gradient_flow(stack, {}, inputs).log10_norm
    )
    assert stacked["layers"] == 3 and len(stacked["log10_norm_depth"]) == 3


def test_the_stacked_plot_is_the_time_by_layer_map(tmp_path, capsys):
    argv = ["flow", "gru", "--layers", "2", "--hidden", "3", "--steps", "5"]
    for name in ("a.png", "b.png"):
        assert main([*argv, "--plot", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert "2 layers of hidden 3" in out and "log10 ||dh^(L-1)_T/dh^(l)_T||" in out
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rnn", "--module", "rnn"], "--module selects weights in --weights; pass --weights too"),
        (["rnn", "--direction", "reverse"], "--direction selects weights in --weights"),
        (["gridlstm", "--spectrum", "2"], "--spectrum does not apply to gridlstm; drop it"),
        (["rnn", "--hidden", "3", "--spectrum", "4"], "give at most --spectrum 3"),
        (["rnn", "--spectrum", "0"], "--spectrum must be a positive integer, got 0"),
        (["rnn", "--tied"], "--tied applies only to gridlstm"),
        (
            ["symbolic.rnn:elman_rnn", "--size", "n=2", "--size", "m=1", "--layers", "2"],
            "--layers describes PyTorch weights",
        ),
        # the spectra cost about 8 N^3 a step more: refused where the flow alone is not
        (
            ["rnn", "--hidden", "512", "--steps", "60000", "--spectrum", "4"],
            "would take at least 1.12 hours (runs over 1 hour are not started); lower --steps, "
            "--hidden, --input or --spectrum",
        ),
    ],
)
def test_bad_options_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, argv, message):
    assert message in _refused(capsys, tmp_path, *argv)


def test_the_spectrum_is_what_puts_that_run_over_the_limit():
    from numeric.budget import TIME_LIMIT, flow_cost, spectrum_cost

    flow = flow_cost(60000, 512, 4, 512 * (512 + 4 + 2))
    assert flow.seconds < TIME_LIMIT < (flow + spectrum_cost(60000, 512, 4)).seconds


def test_file_only_options_with_weights(tmp_path, capsys):
    torch.manual_seed(12)
    pt, _ = _save(tmp_path, Model("rnn", layers=2))
    assert "--layers describes random weights" in _refused(
        capsys, tmp_path, "rnn", "--weights", pt, "--layers", "2"
    )
    assert "has no _reverse keys; drop --direction" in _refused(
        capsys, tmp_path, "rnn", "--weights", pt, "--direction", "forward"
    )
    np.savez(tmp_path / "named.npz", W=np.eye(2), U=np.ones((2, 1)), b=np.zeros(2))
    assert "--module applies to PyTorch state_dicts, not to symbolic.rnn:elman_rnn" in _refused(
        capsys,
        tmp_path,
        "symbolic.rnn:elman_rnn",
        "--weights",
        str(tmp_path / "named.npz"),
        "--module",
        "rnn",
    )


def test_the_command_runs_blas_on_one_thread_unless_told_otherwise():
    code = (
        "import os, sys; from numeric.cli_common import limit_blas_threads; "
        "limit_blas_threads(); print(os.environ.get('OPENBLAS_NUM_THREADS'), "
        "os.environ.get('OMP_NUM_THREADS'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert ran.stdout.split() == ["1", "1"], ran.stderr
    env["OMP_NUM_THREADS"] = "2"  # the user's choice stands
    ran = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert ran.stdout.split() == ["None", "2"], ran.stderr
