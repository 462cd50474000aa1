"""Heat maps of gradient flow over the (t, l) grid, and what peepholes change.

:func:`compare_depth_flow` runs the 2D Grid LSTM, a stacked LSTM and a
stacked tanh RNN of the same width and depth on random weights of one scale
(:func:`numeric.gridlstm.weight_files.random_grid_weights`) and the same
inputs; :func:`plot_depth_flow` draws ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2`` for each,
one above the other on one colour scale, each titled with its decay per layer
in words.  The figure is :data:`numeric.plots.FIGURE_WIDTH` wide, the width
it is printed at, whatever the number of maps.  Files are written by
:func:`numeric.plots.save_figure` (Agg canvas, no timestamps), so the same
numbers always give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ..plots import FIGURE_WIDTH, LABEL_PT, SMALL_PT, fit_text, save_figure, style_axes
from ..weights import random_inputs
from .compiled import compile_grid
from .flows import DepthFlow, depth_flow_map
from .models import grid_model
from .weight_files import random_grid_weights

__all__ = [
    "COMPARED",
    "DEPTH_LABEL",
    "MAP_TITLE",
    "compare_depth_flow",
    "peephole_opening",
    "plot_depth_flow",
    "plot_grid_peepholes",
]

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
#: The label of every panel's depth axis.
DEPTH_LABEL = "depth level l\n(0 = projected input)"


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


#: Height of one heat map (title included), of all maps at least, of the header above
#: the maps and of the axis below, in inches.
_MAP_HEIGHT, _MAPS_HEIGHT, _HEADER_HEIGHT, _FOOTER_HEIGHT = 1.45, 2.2, 0.7, 0.45


def plot_depth_flow(
    path: str | os.PathLike,
    maps: Mapping[str, DepthFlow],
    subtitle: str,
    *,
    title: str = MAP_TITLE,
    depth_label: str = DEPTH_LABEL,
) -> None:
    """One heat map per model of ``log10 ||dh^D_{T,L}/dh^D_{t,l}||_2``, shared colour scale.

    ``maps`` keys are model names of :data:`COMPARED` (or any panel title).
    The maps are stacked, sharing the time axis; each is titled with the
    model and how the gradient changes per layer going down, in words
    (:func:`numeric.gridlstm.flows.depth_decay_phrase`).  Every cell is
    centred on its integer time step and depth level.  ``title`` says what
    the maps draw (above ``subtitle``), ``depth_label`` names their depth
    axis; any map with a ``(T, L)`` ``log10_norm`` and a ``depth_decay`` in
    words draws, such as a stacked network's
    (:class:`numeric.stack_depth.StackDepth`).

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
    height = _HEADER_HEIGHT + max(_MAP_HEIGHT * len(maps), _MAPS_HEIGHT) + _FOOTER_HEIGHT
    fig = Figure(figsize=(FIGURE_WIDTH, height), layout="constrained")
    axes = fig.subplots(len(maps), 1, sharex=True, sharey=True, squeeze=False)[:, 0]
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
            interpolation="none",
        )
        panel = f"{COMPARED.get(name, name)}: the gradient {maps[name].depth_decay}"
        ax.set_title(fit_text(panel, FIGURE_WIDTH - 1.5, LABEL_PT), fontsize=LABEL_PT)
        style_axes(ax, integer_x=True, integer_y=True)
    axes[-1].set_xlabel("time step t", fontsize=LABEL_PT)
    fig.supylabel(depth_label, fontsize=LABEL_PT)
    bar = fig.colorbar(image, ax=list(axes))
    bar.set_label(r"$\log_{10}$ spectral norm", fontsize=LABEL_PT)
    bar.ax.tick_params(labelsize=SMALL_PT)
    fig.suptitle(
        fit_text(f"{title}\n{subtitle}; a decade is a factor of 10", FIGURE_WIDTH - 0.2, SMALL_PT),
        fontsize=SMALL_PT,
    )
    save_figure(fig, path)


def plot_grid_peepholes(
    path: str | os.PathLike, hidden: int = 16, layers: int = 8, steps: int = 20, seed: int = 0
) -> str:
    """The 2D Grid LSTM's flow along time and depth without and with peepholes; the caption."""
    from .flows import depth_decay_phrase, peephole_runs

    runs = peephole_runs(hidden, 4, layers, steps, seed=seed)
    label = {s: "without peepholes" if s == 0 else f"peepholes, $s = {s:g}$" for s in runs}
    fig = Figure(figsize=(FIGURE_WIDTH, 2.9), layout="constrained")
    along_time, along_depth = fig.subplots(1, 2)
    for i, (scale, run) in enumerate(runs.items()):
        style = {"color": f"C{i}", "label": label[scale], "linestyle": ("-", "--", ":")[i % 3]}
        along_time.plot(np.arange(1, steps + 1), run.time.log10_norm, **style)
        along_depth.plot(np.arange(layers), run.depth.log10_norm_depth, marker=".", **style)
    along_time.set_xlabel(r"$k$ (steps back from $T$)", fontsize=LABEL_PT)
    along_time.set_ylabel(r"$\log_{10} \|\partial s_T / \partial s_{T-k}\|_2$", fontsize=LABEL_PT)
    along_depth.set_xlabel(r"layer $l$", fontsize=LABEL_PT)
    along_depth.set_ylabel(
        r"$\log_{10} \|\partial h^{D}_{T,L} / \partial h^{D}_{T,l}\|_2$", fontsize=LABEL_PT
    )
    for ax in (along_time, along_depth):
        style_axes(ax, integer_x=True)
        ax.grid(alpha=0.3)
    along_time.legend(fontsize=SMALL_PT)
    save_figure(fig, path)

    def entries(run, name: str) -> str:
        values = run.carousel[name]
        return f"$[{values.min():.3f}, {values.max():.3f}]$"

    measured = " ".join(
        f"{label[scale][0].upper()}{label[scale][1:]}: along time the norm's $\\log_{{10}}$ "
        f"changes by ${run.time_rate:.4f}$ decades per step, memory entries "
        f"{entries(run, 'time')}; along "
        f"depth the gradient {depth_decay_phrase(run.depth.depth_slope)}, memory entries "
        f"{entries(run, 'depth')}."
        for scale, run in runs.items()
    )
    return (
        f"Gradient flow through the 2D Grid LSTM ({hidden} units, {layers} layers, $T = {steps}$, "
        "random weights at scale 1 and forget-gate bias 1, standard-normal inputs) without "
        "peepholes and with peephole vectors added to the same weights, $s$ times one draw of "
        "entries $N(0, 1/d)$ ($s = 1$: the scale of the other weights). Left: along time, the "
        "state of every layer; right: at the last step, down the layers. The memory entries "
        "are the smallest and largest diagonal entries of $\\partial m'/\\partial m$ over all "
        "blocks of the run, along time and along depth (the forget gates, in $(0, 1)$, without "
        f"peepholes). {measured}"
    )


def peephole_opening() -> str:
    """What peepholes add to each memory's own block, derived from the grid's block."""
    from sympy.matrices.expressions import DiagMatrix

    from symbolic.jacobians import derivative
    from symbolic.printers import latex

    from .models import grid_nd

    block = grid_nd(peepholes=True).block
    shown = []
    for label in ("T", "D"):
        new, old = block.vector("m", label, "new"), block.vector("m", label, "in")
        found = derivative(new, old, block.cell.definitions)
        forget = DiagMatrix(block.gate(label, "forget"))
        terms = [forget, *(term for term in found.args if term != forget)]
        rows = " \\\\\n&\\quad + ".join(latex(term) for term in terms)
        shown.append(f"\\frac{{\\partial {latex(new)}}}{{\\partial {latex(old)}}} &= {rows}")
    return (
        "Peepholes (Gers, Schraudolph and Schmidhuber 2002) let the input and forget gates of "
        "an LSTM read its incoming memory and the output gate its new memory, through diagonal "
        "weights ($p$ here, $w_{ci}$, $w_{cf}$, $w_{co}$ in the derivation below). Each "
        "dimension of the Grid LSTM applies the LSTM transform to the shared hidden vector $H$, "
        "so with peepholes each memory's own block, along time and along depth, gains the two "
        "terms the derivation below finds for the LSTM; from the grid's block, by the same "
        "chain rule as every Jacobian here:\n"
        "\\begin{align*}\n" + " \\\\\n".join(shown) + "\n\\end{align*}\n"
        "The block is still diagonal, with no weight matrix in it, so the memory-only path is "
        "still a product of diagonal matrices; but its entries are no longer forget gates in "
        "$(0, 1)$: they can exceed 1 or change sign. The figure measures what that changes on "
        "random weights.\n"
    )
