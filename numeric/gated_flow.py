"""Measured gradient flow of the tanh RNN, the LSTM and the GRU on matched weights.

"Matched" means the same hidden size, the same inputs, the same initial
state (zeros) and the same largest singular value of PyTorch's stacked
recurrent matrix ``weight_hh`` (``G*H x H``, ``G`` gates): the weights come
from :func:`numeric.weights.random_state_dict` with one ``scale`` and one
seed, and are read through the same PyTorch layouts as real weight files.
The norms come from :func:`numeric.flow.gradient_flow`, over the full state
(``[h; c]`` for the LSTM).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from symbolic.registry import family

from .flow import gradient_flow
from .plots import FIGURE_WIDTH, LABEL_PT, SMALL_PT, save_figure, style_axes
from .weights import random_inputs, random_state_dict, torch_weights

__all__ = ["GATED_FLOW_CELLS", "gated_flows", "plot_gated_flow"]

#: Cells compared, by label: the registered family and its options.
GATED_FLOW_CELLS: dict[str, tuple[str, dict[str, str]]] = {
    "tanh RNN": ("rnn", {"activation": "tanh"}),
    "LSTM": ("lstm", {"variant": "pytorch"}),
    "LSTM, no forget gate": ("lstm", {"variant": "no_forget"}),
    "GRU": ("gru", {"variant": "pytorch"}),
}


def gated_flows(
    hidden: int = 64,
    steps: int = 200,
    scale: float = 1.0,
    seed: int = 0,
    input_size: int = 4,
    cells: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """``log10 ||ds_T/ds_{T-k}||_2`` for ``k = 1..steps``, one curve per cell.

    Parameters
    ----------
    hidden : int
        Hidden size ``n`` of every cell (the LSTM's full state has ``2n`` entries).
    steps : int
        Horizon ``T``; entry ``T - 1`` of each curve is ``log10 ||ds_T/ds_0||_2``.
    scale : float
        ``sigma_max`` of every cell's stacked ``weight_hh``.
    seed : int
        Seed of the weights and of the standard-normal inputs (shared by all cells).
    input_size : int
        Input size ``m``.
    cells : sequence of str, optional
        Keys of :data:`GATED_FLOW_CELLS`; all by default.

    Examples
    --------
    >>> flows = gated_flows(hidden=8, steps=30, scale=1.0, cells=["tanh RNN", "GRU"])
    >>> sorted(flows), flows["GRU"].shape
    (['GRU', 'tanh RNN'], (30,))
    >>> bool(flows["GRU"][-1] > flows["tanh RNN"][-1])
    True
    """
    inputs = random_inputs(steps, input_size, seed)
    out = {}
    for label in cells if cells is not None else GATED_FLOW_CELLS:
        name, options = GATED_FLOW_CELLS[label]
        state = random_state_dict(name, hidden, input_size, scale, seed)
        params = torch_weights(state, name).params
        out[label] = gradient_flow(family(name).cell(**options), params, inputs).log10_norm
    return out


def plot_gated_flow(
    path: str | os.PathLike,
    hidden: int = 64,
    steps: int = 200,
    scales: Sequence[float] = (1.0, 4.0),
    seed: int = 0,
) -> str:
    """One panel per ``sigma_max(weight_hh)``, every cell's measured flow; returns the caption.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "gated.svg"
    >>> caption = plot_gated_flow(path, hidden=6, steps=20, scales=(1.0,))
    >>> b"<svg" in path.read_bytes(), caption.startswith("Measured")
    (True, True)
    """
    k = np.arange(1, steps + 1)
    fig = Figure(figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
    axes = fig.subplots(1, len(scales), sharey=True, squeeze=False)[0]
    for ax, scale in zip(axes, scales, strict=True):
        for i, (label, curve) in enumerate(gated_flows(hidden, steps, scale, seed).items()):
            ax.plot(k, curve, color=f"C{i}", label=label)
        ax.set_title(rf"$\sigma_{{\max}}(W_{{hh}}) = {scale:g}$", fontsize=LABEL_PT)
        ax.set_xlabel(r"$k$ (steps back from $T$)", fontsize=LABEL_PT)
        style_axes(ax, integer_x=True)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(r"$\log_{10} \|\partial s_T / \partial s_{T-k}\|_2$", fontsize=LABEL_PT)
    axes[0].legend(fontsize=SMALL_PT)
    save_figure(fig, path)
    shown = ", ".join(f"{s:g}" for s in scales)
    return (
        f"Measured spectral norm of $\\partial s_T/\\partial s_{{T-k}}$ over the full state, "
        f"for a tanh RNN, PyTorch's LSTM, the LSTM without forget gate and PyTorch's GRU, each "
        f"with {hidden} hidden units, over the same $T = {steps}$ steps of standard-normal input "
        f"from $s_0 = 0$. Random weights (seed {seed}) with the stacked recurrent matrix "
        f"$W_{{hh}}$ rescaled to $\\sigma_{{\\max}}(W_{{hh}}) \\in \\{{{shown}\\}}$; biases are "
        "small, so the forget gates sit near $1/2$ and the LSTM's memory path decays too. "
        "Without a forget gate the memory path is the identity and the norm does not vanish."
    )
