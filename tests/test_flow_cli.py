"""``gradproof flow`` and ``gradproof sweep``: output, files, and every bad input."""

import argparse
import json
import math
import os
import re
import stat

import numpy as np
import pytest
from example_cells import OWN

from numeric.check import RTOL
from numeric.cli import main
from numeric.errors import GradproofInputError
from numeric.flow_cli import add_flow_parser
from numeric.sweep_cli import add_sweep_parser, parse_scales, scales_count

FLOW_KEYS = {
    "cell",
    "hidden",
    "steps",
    "gamma",
    "sigma_max",
    "spectral_radius",
    "log10_norm",
    "log10_bound",
    "verdict",
}


SWEEP_KEYS = {
    "cell",
    "hidden",
    "steps",
    "seeds",
    "gamma",
    "scale",
    "step_bound",
    "decay_rate",
    "mean_decay_rate",
    "bound_rate",
    "measured_crossing",
    "input",
    "init",
    "input_scale",
    "bias_scale",
}


VERDICT_KEYS = {
    "step_bound",
    "vanishing_guaranteed",
    "exploding_possible",
    "decay_rate",
    "measured",
    "summary",
}


def run(argv):
    parser = argparse.ArgumentParser(prog="gradproof")
    commands = parser.add_subparsers(dest="command", required=True)
    add_flow_parser(commands)
    add_sweep_parser(commands)
    args = parser.parse_args(argv)
    return args.func(args)


def run_json(argv, capsys):
    assert run([*argv, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    return json.loads(out)


def _weights_file(path, W, U, b, suffix=""):
    state = {
        f"weight_hh{suffix}": W,
        f"weight_ih{suffix}": U,
        f"bias_ih{suffix}": b,
        f"bias_hh{suffix}": np.zeros_like(b),
    }
    np.savez(path, **state)
    return str(path)


def test_flow_json_has_the_documented_keys_and_the_bound_holds(capsys):
    report = run_json(["flow", "rnn", "--hidden", "6", "--scale", "0.8", "--steps", "40"], capsys)
    assert set(report) == FLOW_KEYS
    assert (report["cell"], report["hidden"], report["steps"], report["gamma"]) == (
        "rnn",
        6,
        40,
        1.0,
    )
    assert report["sigma_max"] == pytest.approx(0.8, rel=RTOL)
    assert 0 <= report["spectral_radius"] <= report["sigma_max"] * (1 + RTOL)
    norms, bound = np.array(report["log10_norm"]), np.array(report["log10_bound"])
    assert norms.shape == bound.shape == (40,)
    assert np.all(norms <= bound + 1e-9)
    np.testing.assert_allclose(bound, np.log10(0.8) * np.arange(1, 41), rtol=RTOL)
    verdict = report["verdict"]
    assert verdict["vanishing_guaranteed"] and verdict["measured"] == "vanishing"
    assert verdict["decay_rate"] < 0


def test_flow_text_table_and_verdict(capsys):
    argv = ["flow", "rnn", "--activation", "relu", "--hidden", "5", "--steps", "20"]
    assert run([*argv, "--scale", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "Elman RNN (relu)" in out and "log10 bound" in out
    assert out.strip().splitlines()[-1].startswith("verdict: exploding possible, not implied")
    # sigma_max is rescaled to 1 up to rounding: no guarantee may rest on that last bit.
    assert run(argv) == 0
    assert "verdict: borderline: B = sigma_max(W) = 1," in capsys.readouterr().out


def test_flow_from_weight_inputs_and_h0_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    W = 0.5 * np.linalg.qr(rng.standard_normal((3, 3)))[0]
    weights = _weights_file(tmp_path / "w.npz", W, rng.standard_normal((3, 2)), np.zeros(3), "_l1")
    np.save(tmp_path / "x.npy", rng.standard_normal((7, 2)))
    np.save(tmp_path / "h0.npy", rng.standard_normal(3))
    argv = [
        "flow",
        "rnn",
        "--weights",
        weights,
        "--layer",
        "1",
        "--inputs",
        str(tmp_path / "x.npy"),
    ]
    report = run_json([*argv, "--h0", str(tmp_path / "h0.npy")], capsys)
    assert (report["hidden"], report["steps"]) == (3, 7)
    assert report["sigma_max"] == pytest.approx(0.5, rel=RTOL)
    assert report["spectral_radius"] == pytest.approx(0.5, rel=RTOL)


def test_exactly_zero_gradients_are_null_in_valid_json(tmp_path, capsys):
    weights = _weights_file(tmp_path / "w.npz", np.eye(2), np.zeros((2, 1)), -np.ones(2))
    report = run_json(["flow", "rnn", "--activation", "relu", "--weights", weights], capsys)
    assert report["log10_norm"] == [None] * 100
    assert report["verdict"]["decay_rate"] is None
    assert report["verdict"]["measured"] == "vanishing"


@pytest.mark.parametrize("suffix", ["png", "pdf", "svg"])
def test_plots_are_deterministic_and_written_atomically(tmp_path, suffix, capsys):
    paths = [tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"]
    for path in paths:
        assert run(["flow", "rnn", "--hidden", "4", "--steps", "30", "--plot", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in paths]
    capsys.readouterr()


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


def test_plots_get_the_umask_permissions_new_or_replaced(tmp_path, umask_027, capsys):
    plot = tmp_path / "f.png"
    argv = ["flow", "rnn", "--hidden", "2", "--steps", "5", "--plot", str(plot)]
    assert run(argv) == 0
    assert stat.S_IMODE(plot.stat().st_mode) == umask_027
    plot.chmod(0o600)  # what the scratch files of tempfile.mkstemp left
    assert run(argv) == 0
    assert stat.S_IMODE(plot.stat().st_mode) == umask_027
    for command in (["sweep", "rnn", "--scales", "1", "--seeds", "1"], ["flow", "gridlstm"]):
        plot.unlink()
        assert run([*command, "--hidden", "2", "--steps", "3", "--plot", str(plot)]) == 0
        assert stat.S_IMODE(plot.stat().st_mode) == umask_027, command
    capsys.readouterr()


@pytest.mark.parametrize("command", [["flow", "rnn"], ["flow", "gridlstm"], ["sweep", "rnn"]])
def test_a_plot_that_cannot_be_written_leaves_no_file_and_prints_nothing(
    command, tmp_path, capsys, monkeypatch
):
    """The output is printed only once the plot is in place; a full disk is one line."""
    old = tmp_path / "f.svg"
    old.write_text("the old plot")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("numeric.outputs.os.replace", full_disk)
    argv = [*command, "--hidden", "2", "--steps", "3", "--plot", str(old), "--json"]
    if command[0] == "sweep":
        argv += ["--scales", "1", "--seeds", "1"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.splitlines()[-1] == (
        f"gradproof: error: cannot write plot '{old}': No space left on device; "
        "choose a writable path"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["f.svg"] and old.read_text() == "the old plot"


def test_weights_past_float64_answer_null_in_json_and_the_plot_is_written(tmp_path, capsys):
    """sigma_max of a 3 x 3 matrix of 1e308 is 3e308, past float64: null, not Infinity."""
    weights = _weights_file(
        tmp_path / "w.npz", np.full((3, 3), 1e308), np.ones((3, 2)), np.zeros(3)
    )
    plot = tmp_path / "f.png"
    report = run_json(
        ["flow", "rnn", "--weights", weights, "--steps", "5", "--plot", str(plot)], capsys
    )
    assert report["sigma_max"] is None and report["verdict"]["summary"]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # The bound B^k in log space is finite: k log10(3e308).
    exact = math.log10(3) + 308
    np.testing.assert_allclose(report["log10_bound"], exact * np.arange(1, 6), rtol=1e-12)


def test_weights_past_float64_print_their_size_not_inf(tmp_path, capsys):
    weights = _weights_file(
        tmp_path / "w.npz", np.full((3, 3), 1e308), np.ones((3, 2)), np.zeros(3)
    )
    assert run(["flow", "rnn", "--weights", weights, "--steps", "5"]) == 0
    out = capsys.readouterr().out
    assert "B = sigma_max(W) = 3e+308, gamma 1, sigma_max 3e+308" in out
    assert "inf" not in out.replace("-inf", "")  # the norms are exactly zero: -inf
    assert "1            -inf      308.477121" in out


def test_sweep_json_progress_and_plot(tmp_path, capsys):
    plot = tmp_path / "sweep.png"
    argv = ["sweep", "rnn", "--scales", "0.5:1.5:3", "--steps", "30", "--seeds", "2"]
    report = run_json([*argv, "--hidden", "4", "--plot", str(plot)], capsys)
    assert set(report) == SWEEP_KEYS
    assert plot.read_bytes()[:4] == b"\x89PNG"
    np.testing.assert_allclose(report["step_bound"], [0.5, 1.0, 1.5])
    rates = np.array(report["decay_rate"])
    assert rates.shape == (3, 2)
    # The bound caps every measured rate (with the per-step rounding allowance).
    assert np.all(rates <= np.array(report["bound_rate"])[:, None] + 1e-9)
    np.testing.assert_allclose(report["mean_decay_rate"], rates.mean(axis=1), rtol=RTOL)
    assert run([*argv, "--hidden", "4"]) == 0
    captured = capsys.readouterr()
    assert captured.err.count("sweep ") == 6 and "sweep 6/6" in captured.err
    assert "below B = 1 vanishing is guaranteed" in captured.out


def test_sweep_at_the_origin_changes_sign_at_one_and_the_default_does_not(capsys):
    argv = ["sweep", "rnn", "--scales", "0.75:1.25:6", "--steps", "30", "--seeds", "2"]
    argv += ["--hidden", "6", "--input", "2"]
    origin = ["--init", "orthogonal", "--input-scale", "0", "--bias-scale", "0"]
    report = run_json([*argv, *origin], capsys)
    assert (report["init"], report["input_scale"], report["bias_scale"]) == ("orthogonal", 0, 0)
    B, mean = np.array(report["step_bound"]), np.array(report["mean_decay_rate"])
    # at the origin every step Jacobian is W: the measured rate is the bound's
    np.testing.assert_allclose(mean, report["bound_rate"], atol=1e-12)
    (change,) = np.flatnonzero((mean[:-1] < 0) & (mean[1:] >= 0))
    assert B[change] < 1 < B[change + 1] and B[change] < report["measured_crossing"] < B[change + 1]
    assert run([*argv, *origin]) == 0
    out = capsys.readouterr().out
    assert "biases times 0" in out and "inputs: standard normal times 0, 2 per step" in out
    assert "crosses 0 at B = 1.00" in out
    # teeth: the default draw saturates the units and does not change sign at all
    report = run_json(argv, capsys)
    assert report["measured_crossing"] is None and max(report["mean_decay_rate"]) < 0


def test_parse_scales():
    np.testing.assert_allclose(parse_scales("0.5:1.5:11")[[0, 5, 10]], [0.5, 1.0, 1.5])
    for text in ("1:2", "a,b", "1:2:0", "0,1", "-1:1:3", "1,inf", "nan:1:3", "1:2:1e3"):
        with pytest.raises(GradproofInputError, match="--scales"):
            parse_scales(text)
    # the count is read without making the scales: the budget is checked first
    assert scales_count("0.5:1.5:100000000000") == 10**11


def test_sweep_at_the_ends_of_float64_answers_without_warnings(capsys):
    """B = 1.8e308 averages over seeds without overflow; weights that underflow to 0 give
    B = 0, whose bound rate is -inf: null in JSON, -inf in text."""
    top = "1.7976931348623157e308"
    argv = ["sweep", "rnn", "--hidden", "4", "--steps", "5", "--seeds", "3", "--scales"]
    report = run_json([*argv, top], capsys)
    assert report["step_bound"] == [pytest.approx(float(top), rel=1e-12)]
    assert report["bound_rate"] == [pytest.approx(308.2547, abs=1e-4)]
    assert run([*argv, top]) == 0
    assert "1.7977e+308" in capsys.readouterr().out
    report = run_json([*argv, "1e-320,1"], capsys)
    assert report["step_bound"][0] < 1e-300 and report["step_bound"][1] == pytest.approx(1.0)


def _bad_cases(tmp):
    weights = _weights_file(tmp / "w.npz", np.eye(3), np.ones((3, 2)), np.zeros(3))
    nan_weights = _weights_file(
        tmp / "nan.npz", np.full((3, 3), np.nan), np.ones((3, 2)), np.zeros(3)
    )
    np.save(tmp / "x_bad.npy", np.zeros((5, 4)))
    np.save(tmp / "h0_bad.npy", np.zeros(5))
    return [
        (["flow", "rnn", "--weights", str(tmp / "missing.npz")], "cannot read weights file"),
        (["flow", "rnn", "--weights", nan_weights], "contains NaN or inf"),
        (["flow", "rnn", "--weights", weights, "--hidden", "4"], "drop it when using --weights"),
        (
            ["flow", "rnn", "--weights", weights, "--hidden", "4", "--scale", "2"],
            "--hidden, --scale describe random weights; drop them",
        ),
        (["flow", "rnn", "--layer", "0"], "pass --weights too"),
        (["flow", "rnn", "--steps", "0"], "--steps must be a positive integer"),
        (["flow", "rnn", "--steps", "-5"], "--steps must be a positive integer"),
        (["flow", "rnn", "--scale", "-1"], "--scale must be a positive number"),
        (
            ["flow", "rnn", "--weights", weights, "--inputs", str(tmp / "x_bad.npy")],
            "expected \\(T, in\\)",
        ),
        (
            ["flow", "rnn", "--hidden", "3", "--h0", str(tmp / "h0_bad.npy")],
            "expected \\(N,\\) = \\(3,\\)",
        ),
        (["flow", "rnn", "--plot", str(tmp / "flow.jpg")], "use a .png, .pdf or .svg"),
        (["flow", "rnn", "--plot", str(tmp / "no" / "such" / "dir.png")], "cannot write plot"),
        (["sweep", "rnn", "--scales", "1:2"], "--scales"),
        (["sweep", "rnn", "--seeds", "0"], "--seeds must be at least 1"),
        (["sweep", "rnn", "--steps", "0", "--scales", "1"], "--steps must be a positive integer"),
        (["sweep", "rnn", "--input-scale", "-1"], "--input-scale must be a non-negative number"),
        (["sweep", "rnn", "--bias-scale", "inf"], "--bias-scale must be a non-negative number"),
        (
            ["sweep", f"{OWN}:indrnn", "--size", "n=2", "--size", "m=1", "--bias-scale", "0"],
            "--bias-scale scales the biases of PyTorch weights",
        ),
    ]


def test_every_bad_input_raises_and_writes_nothing(tmp_path, capsys):
    for argv, message in _bad_cases(tmp_path):
        before = sorted(tmp_path.rglob("*"))
        if "--plot" not in argv:
            argv = [*argv, "--plot", str(tmp_path / "out.png")]
        with pytest.raises(GradproofInputError, match=message) as err:
            run(argv)
        assert "\n" not in str(err.value)
        assert sorted(tmp_path.rglob("*")) == before, argv
        assert capsys.readouterr().out == "", argv


def test_main_turns_bad_input_into_one_line_and_exit_code_2(capsys):
    assert main(["flow", "rnn", "--steps", "0", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("gradproof: error: --steps")


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["lstm", "--variant", "no_forget"], set()),
        (["gru"], set()),
        (
            ["gridlstm", "--layers", "2"],
            {
                "input",
                "layers",
                "tied",
                "output_form",
                "priority",
                "log10_norm_depth",
                "depth_slope",
                "dims",
                "non_lstm",
                "peepholes",
                "tied_dims",
                "memory_input",
            },
        ),
    ],
)
def test_every_flow_cell_answers_with_the_same_json_keys(capsys, args, extra):
    assert main(["flow", *args, "--hidden", "3", "--input", "2", "--steps", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == FLOW_KEYS | extra
    assert set(result["verdict"]) == VERDICT_KEYS
    # no bound declared for gated cells: every bound field is null
    for key in ("gamma", "sigma_max", "spectral_radius", "log10_bound"):
        assert result[key] is None
    assert result["verdict"]["step_bound"] is result["verdict"]["vanishing_guaranteed"] is None
    assert len(result["log10_norm"]) == 6


@pytest.mark.parametrize("name", ["indrnn", "mgu", "peephole_lstm", "antisymmetric_rnn"])
def test_user_cells_answer_with_the_same_json_keys(capsys, name):
    sizes = ["--size", "n=3", "--size", "m=2"]
    assert main(["flow", f"{OWN}:{name}", *sizes, "--steps", "6", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == FLOW_KEYS and set(result["verdict"]) == VERDICT_KEYS
    assert (result["log10_bound"] is None) == (name in ("mgu", "peephole_lstm"))


HIDDEN_ONE = [
    ["flow", "rnn", "--hidden", "1", "--input", "2", "--steps", "5"],
    ["flow", "rnn", "--activation", "relu", "--hidden", "1", "--steps", "5"],
    ["flow", "lstm", "--hidden", "1", "--steps", "5"],
    ["flow", "lstm", "--variant", "no_forget", "--hidden", "1", "--steps", "5"],
    ["flow", "gru", "--hidden", "1", "--steps", "5"],
    ["flow", "gru", "--variant", "textbook", "--hidden", "1", "--steps", "5"],
    ["flow", "gridlstm", "--hidden", "1", "--layers", "2", "--steps", "5"],
    ["sweep", "rnn", "--hidden", "1", "--scales", "0.5,1.5", "--seeds", "1", "--steps", "10"],
    ["flow", f"{OWN}:mgu", "--size", "n=1", "--size", "m=1", "--steps", "5"],
    ["flow", f"{OWN}:peephole_lstm", "--size", "n=1", "--size", "m=1", "--steps", "5"],
    [
        "sweep",
        f"{OWN}:indrnn",
        "--size",
        "n=1",
        "--size",
        "m=1",
        "--scales",
        "0.5,1.5",
        "--seeds",
        "1",
        "--steps",
        "10",
    ],
]


@pytest.mark.parametrize("argv", HIDDEN_ONE, ids=lambda a: " ".join(a[:2]))
def test_hidden_size_one_for_every_cell_and_command(argv, capsys):
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hidden"] == 1
    if argv[0] == "flow":
        norms = np.array([-np.inf if v is None else v for v in result["log10_norm"]])
        assert len(norms) == 5 and not np.any(np.isnan(norms))
        if result["log10_bound"] is not None:  # the declared bound holds at size 1 too
            assert np.all(norms <= np.array(result["log10_bound"]) + 1e-9)
    else:
        rates, bound_rates = np.array(result["decay_rate"]), np.array(result["bound_rate"])
        assert np.all(rates <= bound_rates[:, None] + 1e-9)


def test_hidden_size_one_with_real_torch_weights_matches_autograd(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.RNN(2, 1, dtype=torch.float64)
    path = tmp_path / "rnn.pt"
    torch.save(module.state_dict(), path)
    x = np.random.default_rng(0).standard_normal((8, 2))
    np.save(tmp_path / "x.npy", x)
    assert (
        main(
            [
                "flow",
                "rnn",
                "--weights",
                str(path),
                "--layer",
                "0",
                "--inputs",
                str(tmp_path / "x.npy"),
                "--json",
            ]
        )
        == 0
    )
    measured = json.loads(capsys.readouterr().out)["log10_norm"]
    cell = torch.nn.RNNCell(2, 1, dtype=torch.float64)
    cell.load_state_dict({k[:-3]: v for k, v in module.state_dict().items()})
    h, jacobians = torch.zeros(1, dtype=torch.float64), []
    for xt in torch.as_tensor(x):
        jacobians.append(torch.autograd.functional.jacobian(lambda v, xt=xt: cell(xt, v), h))
        h = cell(xt, h)
    P, expected = torch.eye(1, dtype=torch.float64), []
    for J in reversed(jacobians):
        P = P @ J
        expected.append(float(torch.log10(P.abs().max())))
    np.testing.assert_allclose(measured, expected, rtol=1e-9)


def test_a_cell_with_no_input_runs_from_the_command_line(tmp_path, capsys):
    path = tmp_path / "free.py"
    path.write_text(
        "from symbolic import CellBuilder, SigmaMax, StepBound, elementwise\n"
        "def free():\n"
        "    cb = CellBuilder('free')\n"
        "    (n,) = cb.sizes('n')\n"
        "    h, W = cb.state('h', n), cb.matrix('W', n, n)\n"
        "    cb.update(h, elementwise('tanh', W * h))\n"
        "    return cb.build(StepBound(SigmaMax(W)))\n"
    )
    argv = ["flow", f"{path}:free", "--size", "n=3", "--scale", "0.8", "--steps", "30", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verdict"]["vanishing_guaranteed"] and len(result["log10_norm"]) == 30
    assert np.all(np.array(result["log10_norm"]) <= np.array(result["log10_bound"]) + 1e-9)


def _help_defaults(add_parser):
    """``{option: (default, gridlstm default)}`` read off the printed help of a command."""
    parser = argparse.ArgumentParser(prog="gradproof")
    text = add_parser(parser.add_subparsers()).format_help()
    options = text[text.index("options:") :]
    defaults = {}
    for entry in re.split(r"\n  (?=-)", options)[1:]:
        words = " ".join(entry.split())
        found = re.search(r"\(default ([^;)]+)(?:; gridlstm ([^)]+))?\)", words)
        if found:
            defaults[words.split()[0].rstrip(",")] = (found[1], found[2] or found[1])
    return defaults


def _flow_json(capsys, *argv):
    assert main(["flow", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_flow_help_states_the_defaults_each_cell_uses(capsys):
    defaults = _help_defaults(add_flow_parser)
    rnn = {option: value for option, (value, _) in defaults.items()}
    grid = {option: value for option, (_, value) in defaults.items()}
    assert rnn["--hidden"] != grid["--hidden"] and rnn["--steps"] != grid["--steps"]
    # The Elman RNN: the default run is the run with every stated default given,
    # and a different value changes it (each option counts).
    small = ["--hidden", "3", "--steps", "4"]
    stated = {
        "--activation": (rnn["--activation"], "relu"),
        "--input": (rnn["--input"], "5"),
        "--scale": (rnn["--scale"], "0.5"),
        "--seed": (rnn["--seed"], "1"),
        "--layers": (rnn["--layers"], "2"),
    }
    base = _flow_json(capsys, "rnn", *small)
    for option, (value, other) in stated.items():
        assert _flow_json(capsys, "rnn", *small, option, value) == base, option
        assert _flow_json(capsys, "rnn", *small, option, other) != base, option
    default = _flow_json(capsys, "rnn")
    assert (str(default["hidden"]), str(default["steps"])) == (rnn["--hidden"], rnn["--steps"])
    assert default["sigma_max"] == pytest.approx(float(rnn["--scale"]), rel=RTOL)
    # The Grid LSTM reports its sizes and form; scale and seed are checked by re-running.
    default = _flow_json(capsys, "gridlstm")
    for option in ("--hidden", "--input", "--layers", "--steps", "--output-form", "--priority"):
        assert str(default[option[2:].replace("-", "_")]) == grid[option], option
    small = ["--hidden", "2", "--layers", "1", "--steps", "3"]
    base = _flow_json(capsys, "gridlstm", *small)
    for option, other in (("--scale", "0.5"), ("--seed", "1")):
        assert _flow_json(capsys, "gridlstm", *small, option, grid[option]) == base, option
        assert _flow_json(capsys, "gridlstm", *small, option, other) != base, option
    # every default the help states is one of those checked here
    assert set(defaults) == {
        "--activation",
        "--hidden",
        "--input",
        "--scale",
        "--seed",
        "--steps",
        "--output-form",
        "--priority",
        "--layers",
    }


def test_sweep_help_states_the_defaults_it_uses(capsys):
    defaults = {option: value for option, (value, _) in _help_defaults(add_sweep_parser).items()}
    assert set(defaults) == {
        "--activation",
        "--hidden",
        "--input",
        "--scales",
        "--steps",
        "--seeds",
        "--input-scale",
        "--bias-scale",
    }
    report = run_json(["sweep", "rnn"], capsys)
    for key in ("hidden", "input", "steps", "seeds"):
        assert str(report[key]) == defaults["--" + key], key
    assert report["scale"] == parse_scales(defaults["--scales"]).tolist()
    assert report["input_scale"] == float(defaults["--input-scale"])
    assert report["bias_scale"] == float(defaults["--bias-scale"])
    assert report["init"] == "gaussian" and "gaussian (default)" in _sweep_help()
    small = ["sweep", "rnn", "--hidden", "3", "--scales", "0.9", "--seeds", "1", "--steps", "5"]
    base = run_json(small, capsys)
    assert run_json([*small, "--activation", defaults["--activation"]], capsys) == base
    assert run_json([*small, "--activation", "sigmoid"], capsys) != base


def _sweep_help():
    parser = argparse.ArgumentParser(prog="gradproof")
    return " ".join(add_sweep_parser(parser.add_subparsers()).format_help().split())
