"""Cells gradproof does not ship, end to end: derive, verify, compile, flow, against torch.

The four cells of ``notebooks/own_cells.py`` enter exactly as a user's cell
does, as ``file.py:function``; torch implementations written here from the
papers' equations are the independent reference (float64, autograd).
"""

import json
import shutil

import numpy as np
import pytest
from example_cells import OWN
from tex_build import pdflatex

from numeric.bounds import evaluate_bound
from numeric.cli import main
from numeric.compile import compile_cell
from numeric.flow import gradient_flow
from numeric.weights import cell_sizes, random_inputs, random_params
from symbolic import family

NAMES = ("indrnn", "mgu", "peephole_lstm", "antisymmetric_rnn")
SIZES = {"n": 3, "m": 2}


def spec(name):
    return f"{OWN}:{name}"


def _torch_step(name, params):
    """The cell's step ``s -> s'`` over the full state, written from its paper."""
    torch = pytest.importorskip("torch")
    P = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in params.items()}
    sig, tanh = torch.sigmoid, torch.tanh

    def indrnn(s, x):
        return torch.relu(P["W"] @ x + P["u"] * s + P["b"])

    def mgu(s, x):
        f = sig(P["W_f"] @ s + P["U_f"] @ x + P["b_f"])
        g = tanh(P["W_h"] @ (f * s) + P["U_h"] @ x + P["b_h"])
        return (1 - f) * s + f * g

    def peephole_lstm(s, x):
        n = len(s) // 2
        h, c = s[:n], s[n:]

        def pre(k):
            return P[f"W_{k}"] @ x + P[f"U_{k}"] @ h + P[f"b_{k}"]

        i = sig(pre("i") + P["p_i"] * c)
        f = sig(pre("f") + P["p_f"] * c)
        c_new = f * c + i * tanh(pre("g"))
        o = sig(pre("o") + P["p_o"] * c_new)
        return torch.cat([o * tanh(c_new), c_new])

    def antisymmetric_rnn(s, x):
        A = P["W"] - P["W"].T - P["gamma"] * torch.eye(len(s), dtype=torch.float64)
        return s + P["epsilon"] * tanh(A @ s + P["V"] @ x + P["b"])

    return locals()[name]


def _torch_log10_norms(name, params, inputs, s0):
    """``log10 ||ds_T/ds_{T-k}||_2`` by autograd Jacobians of each step, multiplied out."""
    torch = pytest.importorskip("torch")
    step = _torch_step(name, params)
    s = torch.as_tensor(s0)
    jacobians = []
    for x in torch.as_tensor(inputs):
        jacobians.append(torch.autograd.functional.jacobian(lambda v, x=x: step(v, x), s))
        s = step(s, x)
    P, out = torch.eye(len(s0), dtype=torch.float64), []
    for J in reversed(jacobians):
        P = P @ J
        out.append(float(torch.log10(torch.linalg.matrix_norm(P, 2))))
    return np.array(out)


@pytest.mark.parametrize("name", NAMES)
def test_step_jacobian_and_flow_match_torch_autograd(name):
    torch = pytest.importorskip("torch")
    cell = family(spec(name)).cell()
    params = random_params(cell, SIZES, scale=0.9, seed=3)
    model = compile_cell(cell, **cell_sizes(cell, params))
    rng = np.random.default_rng(0)
    s, x = rng.standard_normal(model.state_size), rng.standard_normal(2)
    step = _torch_step(name, params)
    ours = model.jacobian(s, x, params)
    theirs = torch.autograd.functional.jacobian(
        lambda v: step(v, torch.as_tensor(x)), torch.as_tensor(s)
    ).numpy()
    np.testing.assert_allclose(
        model.step(s, x, params), step(torch.as_tensor(s), torch.as_tensor(x)).numpy(), rtol=1e-12
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)

    inputs = random_inputs(12, 2, seed=1)
    flow = gradient_flow(model, params, inputs, 0.1 * s)
    np.testing.assert_allclose(
        flow.log10_norm, _torch_log10_norms(name, params, inputs, 0.1 * s), rtol=1e-9
    )


def test_a_wrong_jacobian_is_caught_by_the_same_comparison():
    """Teeth: IndRNN's Jacobian without its relu' factor differs from autograd."""
    torch = pytest.importorskip("torch")
    cell = family(spec("indrnn")).cell()
    params = random_params(cell, SIZES, scale=0.9, seed=3)
    s, x = np.array([-3.0, 1.0, -3.0]), np.array([-2.0, 0.3])
    a = params["W"] @ x + params["u"] * s + params["b"]
    assert np.any(a < 0), "the point must switch a unit off for relu' to matter"
    step = _torch_step("indrnn", params)
    theirs = torch.autograd.functional.jacobian(
        lambda v: step(v, torch.as_tensor(x)), torch.as_tensor(s)
    ).numpy()
    assert not np.allclose(np.diag(params["u"]), theirs, rtol=1e-9)


def _npz(tmp_path, params):
    path = tmp_path / "weights.npz"
    np.savez(path, **params)
    return str(path)


@pytest.mark.parametrize("name", NAMES)
def test_flow_cli_reads_weights_keyed_by_parameter_names(name, tmp_path, capsys):
    cell = family(spec(name)).cell()
    params = random_params(cell, SIZES, scale=0.9, seed=5)
    assert (
        main(["flow", spec(name), "--weights", _npz(tmp_path, params), "--steps", "10", "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    inputs = random_inputs(10, 2, seed=0)
    expected = _torch_log10_norms(
        name, params, inputs, np.zeros(compile_cell(cell, **SIZES).state_size)
    )
    measured = np.array([-np.inf if v is None else v for v in report["log10_norm"]])
    np.testing.assert_allclose(measured, expected, rtol=1e-9)
    bound = evaluate_bound(cell, params)
    if bound is None:
        assert report["gamma"] is report["sigma_max"] is report["log10_bound"] is None
    else:
        np.testing.assert_allclose(report["log10_bound"], np.log10(bound.value) * np.arange(1, 11))
        assert np.all(measured <= np.array(report["log10_bound"]) + 1e-9)


def test_flow_cli_names_the_bound_and_its_matrix(tmp_path, capsys):
    assert (
        main(["flow", spec("antisymmetric_rnn"), "--size", "n=4", "--size", "m=2", "--steps", "20"])
        == 0
    )
    out = capsys.readouterr().out
    assert "step bound B = epsilon" in out and "sigma_max(W - W^T - gamma I)" in out
    assert "verdict: exploding possible, not implied: B = " in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.pop("u"), "parameter 'u' of cell 'indrnn' is missing"),
        (lambda p: p.update(extra=np.ones(3)), "key 'extra', which is not a parameter"),
        (lambda p: p.update(u=np.ones((3, 1))), "parameter 'u' has shape (3, 1), expected 1-D"),
        (
            lambda p: p.update(W=np.ones((4, 2))),
            "parameter 'W' has shape (4, 2), expected (n, m) = (3, 2)",
        ),
    ],
)
def test_flow_cli_refuses_a_missing_extra_or_misshaped_key(change, message, tmp_path, capsys):
    cell = family(spec("indrnn")).cell()
    params = random_params(cell, SIZES, seed=0)
    change(params)
    assert main(["flow", spec("indrnn"), "--weights", _npz(tmp_path, params)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_params_lists_names_and_shapes(capsys):
    assert main(["params", spec("antisymmetric_rnn")]) == 0
    out = capsys.readouterr().out
    assert "  epsilon  scalar, a 0-d array\n" in out and "  V        (n, m)\n" in out


def test_scalar_parameters_load_as_0d_arrays(tmp_path, capsys):
    cell = family(spec("antisymmetric_rnn")).cell()
    params = random_params(cell, SIZES, seed=0)
    params["epsilon"] = np.ones(1)  # 1-D, not 0-d
    assert main(["flow", spec("antisymmetric_rnn"), "--weights", _npz(tmp_path, params)]) == 2
    assert "parameter 'epsilon' has shape (1,), expected a scalar (0-d)" in capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_derive_verifies_every_step_and_the_document_compiles(name, tmp_path, capsys):
    assert main(["derive", spec(name), "--format", "latex", "--standalone"]) == 0
    tex = capsys.readouterr().out
    assert "FAILED" not in tex and "not verified" not in tex
    assert r"\checkmark\ \textit{checked: exact, numeric}" in tex
    # Gated cells nest too deeply for an exact check of the unrolled chain; the mark says so.
    (chain,) = [line for line in tex.splitlines() if "chain rule over time" in line]
    numeric_only = chain.endswith(r"\checkmark\ \textit{checked: numeric}}")
    assert numeric_only == (name in ("mgu", "peephole_lstm")), chain
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    done = pdflatex(tmp_path, tex)
    assert done.returncode == 0, done.stdout[-2000:]


def test_derive_text_marks_every_step(capsys):
    assert main(["derive", spec("indrnn")]) == 0
    out = capsys.readouterr().out
    assert "dh_t/dh_{t-1} = diag(relu'(a_t)) diag(u)" in out
    assert "dh_T/dh_k = J_T J_{T-1} ... J_{k+1}" in out
    assert out.count("(checked: exact, numeric)") == 2 and "max_i |u_i|" in out
