"""The adding-problem case study: a tiny run writes what the full one does, byte for byte twice,
and the shipped results describe themselves and match their checkpoints."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from numeric.certified_norms import LOG10_TOL
from numeric.flow import decay_rate, gradient_flow
from numeric.loading import load_npz
from numeric.weights import torch_weights
from symbolic.registry import family

torch = pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "adding_problem.py"
SHIPPED = SCRIPT.with_suffix("")


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("adding_problem", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["adding_problem"] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["adding_problem"]


@pytest.fixture
def restore_torch():
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def test_tiny_run_is_deterministic_and_complete(script, tmp_path, restore_torch, capsys):
    args = ["--horizons", "6", "--iterations", "2"]
    script.main(["--out", str(tmp_path / "a"), *args])
    script.main(["--out", str(tmp_path / "b"), *args])
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        if name.endswith(".npz"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    report = json.loads((tmp_path / "a" / "results.json").read_text())
    assert [r["run"] for r in report["runs"]] == [run.name(6) for run in script.RUNS]
    for run in report["runs"]:
        assert {"mse", "accuracy", "decay_rate", "log10_norm"} <= set(run["after"])
        assert run["checkpoint"] in names and len(run["after"]["log10_norm"]) == 6
    assert "rnn_T6_clip_omega" in capsys.readouterr().out


def test_unrolled_rnn_is_the_module(script):
    """The Omega run unrolls the tanh RNN by hand: it must compute what nn.RNN does."""
    torch.manual_seed(0)
    model = script.Model("rnn", 5)
    x, y = script.adding_batch(torch.Generator().manual_seed(0), 3, 7)
    loss, _ = script.loss_and_omega(model, x, y)
    expected = torch.nn.functional.mse_loss(model(x), y)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


shipped = pytest.mark.skipif(not (SHIPPED / "results.json").exists(), reason="no shipped results")


@shipped
def test_shipped_results_describe_themselves():
    report = json.loads((SHIPPED / "results.json").read_text())
    for key in ("task", "models", "remedies", "config", "fields", "wall_seconds", "runs"):
        assert key in report
    sizes = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert sizes < 2**20


@shipped
def test_shipped_checkpoints_reproduce_their_decay_rates(script):
    """The rates in the results are those of the checkpoints, measured again here."""
    report = json.loads((SHIPPED / "results.json").read_text())
    config = report["config"]
    for run in report["runs"][:: len(report["runs"]) // 3]:
        state = load_npz(SHIPPED / run["checkpoint"])
        layer = {k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")}
        params = torch_weights(layer, run["cell"], layer=0).params
        g = torch.Generator().manual_seed(config["test_seed"])
        x = script.adding_batch(g, config["test_sequences"], run["horizon"])[0]
        x = x[: config["flow_sequences"]].double().numpy()
        cell = family(run["cell"]).cell()
        logs = np.mean([gradient_flow(cell, params, seq).log10_norm for seq in x], axis=0)
        # The engine certifies each norm to LOG10_TOL decades, not bit for bit: the shipped
        # value and this one are each within LOG10_TOL of the exact slope.
        assert decay_rate(logs) == pytest.approx(run["after"]["decay_rate"], abs=2 * LOG10_TOL)
