"""Heat maps of gradient flow over the (t, l) grid.

:func:`compare_depth_flow` runs the 2D Grid LSTM, a stacked LSTM and a
stacked tanh RNN of the same width and depth on random weights of one scale
(:func:`numeric.gridlstm.weight_files.random_grid_weights`) and the same
inputs; :func:`plot_depth_flow` draws ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` for each,
side by side on one colour scale.  Files are written by
:func:`numeric.plots.save_figure` (Agg canvas, no timestamps), so the same
numbers always give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..plots import save_figure
from ..weights import random_inputs
from .compiled import compile_grid
from .flows import DepthFlow, depth_flow_map
from .models import grid_model
from .weight_files import random_grid_weights

__all__ = ["COMPARED", "MAP_TITLE", "compare_depth_flow", "plot_depth_flow"]

#: The models of the comparison and their titles.
COMPARED = {
    "gridlstm": "2D Grid LSTM (paper)",
    "stacked-lstm": "stacked LSTM",
    "stacked-rnn": "stacked tanh RNN",
}

#: What every panel draws.
MAP_TITLE = (
    r"$\log_{10}\,\|\partial h^{D}_{T,L} / \partial h^{D}_{t,l}\|_2$: "
    "spectral norm of the derivative of the top output at the last step with respect to "
    "the depth input of block (t, l+1), other block inputs fixed"
)


def compare_depth_flow(
    hidden: int = 16,
    input_size: int = 4,
    layers: int = 8,
    steps: int = 20,
    *,
    scale: float = 1.0,
    seed: int = 0,
) -> dict[str, DepthFlow]:
    """The depth-flow maps of the three models at one weight scale.

    Examples
    --------
    >>> maps = compare_depth_flow(hidden=2, input_size=1, layers=2, steps=3)
    >>> sorted(maps), maps["gridlstm"].log10_norm.shape
    (['gridlstm', 'stacked-lstm', 'stacked-rnn'], (3, 2))
    """
    inputs = random_inputs(steps, input_size, seed)
    maps = {}
    for name in COMPARED:
        model = grid_model(name)
        weights = random_grid_weights(model, hidden, input_size, layers, scale=scale, seed=seed)
        maps[name] = depth_flow_map(compile_grid(model, hidden), weights, inputs)
    return maps


def plot_depth_flow(path: str | os.PathLike, maps: Mapping[str, DepthFlow], subtitle: str) -> None:
    """One heat map per model of ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2``, shared colour scale.

    ``maps`` keys are model names of :data:`COMPARED` (or any panel title).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.png"
    >>> maps = compare_depth_flow(hidden=2, input_size=1, layers=2, steps=3)
    >>> plot_depth_flow(path, maps, "tiny")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    values = [np.where(np.isfinite(m.log10_norm), m.log10_norm, np.nan) for m in maps.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(1)])
    low, high = float(np.min(finite)), float(np.max(finite))
    fig = Figure(figsize=(4.2 * len(maps) + 1.0, 4.2), layout="constrained")
    axes = fig.subplots(1, len(maps), squeeze=False)[0]
    image = None
    for ax, (name, grid) in zip(axes, zip(maps, values, strict=True), strict=True):
        T, L = grid.shape
        image = ax.imshow(
            grid.T,
            origin="lower",
            aspect="auto",
            cmap="viridis",
            vmin=low,
            vmax=high,
            extent=(0.5, T + 0.5, -0.5, L - 0.5),
            interpolation="nearest",
        )
        decay = maps[name].depth_decay.replace(" going down", "\ngoing down")
        ax.set_title(f"{COMPARED.get(name, name)}\n{decay}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("time step t")
        ax.set_ylabel("depth level l (0 = projected input)")
    fig.colorbar(image, ax=list(axes), label=r"$\log_{10}$ spectral norm")
    fig.suptitle(f"{MAP_TITLE}\n{subtitle}", fontsize=9)
    save_figure(fig, path)
