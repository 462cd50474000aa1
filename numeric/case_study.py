"""The adding-problem case study in the report: trained networks' measured gradient flow.

``examples/adding_problem.py`` trains a tanh RNN, an LSTM and a GRU on the
adding problem (Hochreiter and Schmidhuber 1997) at two horizons, with and
without gradient-norm clipping, and the tanh RNN also with Pascanu, Mikolov
and Bengio's (2013) regulariser; it records each run's task scores and the
flow ``log10 ||ds_T/ds_{T-k}||_2`` of its initial and trained weights in
``results.json`` beside the checkpoints.  This module turns that record into
the report's table and figure; ``notebooks/05_trained_models.ipynb`` and the
tests re-measure the flows from the checkpoints.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np

from .flow import measured_trend
from .plots import FIGURE_WIDTH, LABEL_PT, SMALL_PT, save_figure, style_axes

__all__ = ["RESULTS", "case_study_opening", "plot_trained_flow", "results"]

#: The case study's record, shipped with the repository.
RESULTS = Path(__file__).resolve().parents[1] / "examples" / "adding_problem" / "results.json"

_CELLS = {"rnn": "tanh RNN", "lstm": "LSTM", "gru": "GRU"}


@cache
def results() -> dict:
    """The case study's record (``results.json``).

    Examples
    --------
    >>> sorted(results()["config"]["horizons"])
    [20, 100]
    """
    return json.loads(RESULTS.read_text())


def _remedies(run: dict) -> str:
    parts = ["clipping"] if run["clip"] else []
    parts += [r"$\Omega$"] if run["omega"] else []
    return " + ".join(parts) or "none"


def case_study_opening() -> str:
    """The section's opening: the task, the runs and the table of results, in LaTeX."""
    record = results()
    config = record["config"]
    rows = "\n".join(
        f"{_CELLS[run['cell']]} & {run['horizon']} & {_remedies(run)} & "
        f"{run['after']['accuracy']:.3f} & ${run['before']['decay_rate']:+.3f}$ & "
        f"${run['after']['decay_rate']:+.3f}$ \\\\"
        for run in record["runs"]
    )
    short, long = min(config["horizons"]), max(config["horizons"])
    return (
        "The adding problem (Hochreiter and Schmidhuber 1997) asks for the sum of two values "
        "marked somewhere in a sequence of $T$ pairs (value, marker), read after the last step: "
        "the error must travel back over up to $T$ steps. A tanh RNN, an LSTM and a GRU, each "
        f"with {config['hidden']} units and PyTorch's default initialisation, were trained at "
        f"$T = {short}$ and $T = {long}$ ({config['iterations']} Adam steps, batches of "
        f"{config['batch']}), without and with gradient-norm clipping at threshold "
        f"{config['clip_threshold']:g} (Pascanu, Mikolov and Bengio 2013, Algorithm 1), and "
        "the tanh RNN also with their regulariser $\\Omega$ (weight "
        f"{config['omega_weight']:g}), derived below. Accuracy is the fraction of "
        f"{config['test_sequences']} test sequences predicted within {config['tolerance']:g} "
        "of the target; a constant prediction scores "
        f"{_constant_accuracy(config['tolerance']):.3f}. The decay rate is the slope of "
        "$\\log_{10} \\lVert \\partial s_T/\\partial s_{T-k} \\rVert_2$ per step $k$ (decades "
        f"per step), averaged over {config['flow_sequences']} test sequences, on the initial "
        "and on the trained weights.\n\n"
        "\\begin{center}\\small\n\\begin{tabular}{lrlrrr}\n"
        "cell & $T$ & remedy & accuracy & rate before & rate after \\\\\n\\hline\n"
        f"{rows}\n\\end{{tabular}}\n\\end{{center}}\n"
    )


def _constant_accuracy(tolerance: float) -> float:
    """Accuracy of predicting 1, the mean: the sum of two uniforms is within tau of 1.

    Examples
    --------
    >>> round(_constant_accuracy(0.04), 4)
    0.0784
    """
    return tolerance * (2 - tolerance)


def _name(run: dict) -> str:
    return _CELLS[run["cell"]] + (r" with clipping and $\Omega$" if run["omega"] else "")


def plot_trained_flow(path: Path) -> str:
    """Recorded flow curves before and after training at the long horizon; the caption."""
    from matplotlib.figure import Figure

    record = results()
    long = max(record["config"]["horizons"])
    runs = [r for r in record["runs"] if r["horizon"] == long and not r["clip"]]
    runs += [r for r in record["runs"] if r["horizon"] == long and r["omega"]]
    fig = Figure(figsize=(FIGURE_WIDTH, 2.8), layout="constrained")
    ax = fig.subplots()
    k = np.arange(1, long + 1)
    for i, run in enumerate(runs):
        ax.plot(k, run["after"]["log10_norm"], color=f"C{i}", label=f"{_name(run)}, trained")
        ax.plot(k, run["before"]["log10_norm"], color=f"C{i}", linestyle=":", linewidth=1)
    ax.plot([], [], color="0.4", linestyle=":", linewidth=1, label="the same, initial weights")
    ax.set_xlabel(r"$k$ (steps back from $T$)", fontsize=LABEL_PT)
    ax.set_ylabel(r"$\log_{10} \|\partial s_T / \partial s_{T-k}\|_2$", fontsize=LABEL_PT)
    style_axes(ax, integer_x=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_PT)
    save_figure(fig, path)
    readings = "; ".join(
        f"{_name(run)}: {measured_trend(run['before']['decay_rate'], long)} before, "
        f"{measured_trend(run['after']['decay_rate'], long)} after "
        f"({run['after']['decay_rate']:+.3f} decades per step), accuracy "
        f"{run['after']['accuracy']:.3f}"
        for run in runs
    )
    return (
        f"Gradient flow of the networks trained on the adding problem at $T = {long}$: solid "
        "after training, dotted at the initial weights (the same colour per network), each "
        "the mean over the test sequences of the table. A trend is vanishing or exploding "
        f"when the fitted rate moves the norm by a decade or more over the {long} steps, "
        f"neutral otherwise. {readings[0].upper()}{readings[1:]}."
    )
