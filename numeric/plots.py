"""Figures for the flow and the sweep, written atomically and reproducibly.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never
through ``pyplot``, so no global state or display is involved.  Files carry
no timestamp (PDF ``CreationDate``, SVG ``Date``) and SVG ids use a fixed
salt, so the same data always gives the same bytes.  A file is written
whole or not at all, with the umask's permissions
(:func:`numeric.outputs.written`), so a failed run leaves nothing behind.

Every figure is :data:`FIGURE_WIDTH` inches wide, about the width the report
prints it at, so its font sizes (:data:`LABEL_PT`, :data:`SMALL_PT`) are
close to the printed sizes; titles are wrapped to the figure's width by
:func:`fit_text`, so none is cut off at the edges.

matplotlib is imported by the functions that draw, not with this module:
:func:`check_plot_path` runs before any work, in commands that may not draw.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import GradproofInputError
from .outputs import check_output, written

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    from .stack_depth import StackDepth

__all__ = [
    "FIGURE_WIDTH",
    "LABEL_PT",
    "PLOT_FORMATS",
    "RATE_CONVENTION",
    "SMALL_PT",
    "STACK_MAP_TITLE",
    "check_plot_path",
    "fit_text",
    "plot_flow",
    "plot_format",
    "plot_stack_depth",
    "plot_sweep",
    "save_figure",
    "style_axes",
]

#: Output formats by file extension, with the metadata that removes timestamps.
PLOT_FORMATS = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Producer": None},
    "svg": {"Date": None},
}

#: Width of every figure, in inches: a little under 0.8 of the text width of
#: an A4 page with 1.8 cm margins (17.4 cm), the width the report prints at.
FIGURE_WIDTH = 5.4

#: Font size of titles and axis labels, in points.
LABEL_PT = 9.0

#: Font size of tick labels, legends and notes, in points: the smallest text.
SMALL_PT = 8.0

#: Resolution of PNG files, in dots per inch.
PNG_DPI = 200

#: A word of :func:`fit_text`: a run of non-space characters or ``$...$`` math.
_WORD = re.compile(r"(?:\$[^$]*\$|[^\s$])+")


def fit_text(text: str, width: float, fontsize: float) -> str:
    """``text`` with line breaks so that no line is wider than ``width`` inches.

    Breaks go between words (never inside ``$...$`` math); existing line
    breaks are kept.  A single word wider than ``width`` gets a line of its own.
    Each line holds as many words as fit, as filling word by word would give.

    Examples
    --------
    >>> fit_text("decays by 0.137 decades per layer going down from the output", 2.0, 8)
    'decays by 0.137 decades per layer\\ngoing down from the output'
    >>> print(fit_text("the bound $a^{k} + b^{k}$ is kept whole", 0.8, 8))
    the bound
    $a^{k} + b^{k}$ is kept
    whole
    """
    from matplotlib.font_manager import FontProperties

    # The font as rcParams make it now (family, math font set): part of the widths' cache key.
    font = FontProperties(size=fontsize)
    lines = []
    for paragraph in text.split("\n"):
        words = _WORD.findall(paragraph)
        if not words:
            lines.append("")
        while words:
            count = _words_that_fit(words, width, font)
            lines.append(" ".join(words[:count]))
            words = words[count:]
    return "\n".join(lines)


def _words_that_fit(words: list[str], width: float, font: FontProperties) -> int:
    """How many leading ``words`` fit on one line of ``width`` inches; at least one.

    Measuring a line with math parses all of it, so measuring every prefix
    made titles a large part of drawing a figure.  The count is first
    estimated from the widths of the single words, then settled by
    measuring whole lines, usually two: the words that fit, and one more.
    """
    space = _text_width("x x", font) - _text_width("xx", font)
    count, estimate = 1, _text_width(words[0], font)
    while count < len(words):
        estimate += space + _text_width(words[count], font)
        if estimate > width:
            break
        count += 1
    while count > 1 and _text_width(" ".join(words[:count]), font) > width:
        count -= 1
    while count < len(words) and _text_width(" ".join(words[: count + 1]), font) <= width:
        count += 1
    return count


@functools.lru_cache(maxsize=4096)
def _text_width(line: str, font: FontProperties) -> float:
    """Width of ``line`` in inches as matplotlib draws it in ``font``, ``$...$`` as math."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.cbook import is_math_text

    # The renderer counts points at 72 dots per inch.
    return (
        RendererAgg(1, 1, 72).get_text_width_height_descent(line, font, is_math_text(line))[0] / 72
    )


def style_axes(ax: Axes, integer_x: bool = False, integer_y: bool = False) -> None:
    """Tick labels at :data:`SMALL_PT`; integer ticks only on an axis that counts.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> style_axes(ax, integer_x=True)
    >>> ax.set_xlim(-0.5, 3.5)
    (-0.5, 3.5)
    >>> [float(t) for t in ax.get_xticks() if -0.5 <= t <= 3.5]
    [0.0, 1.0, 2.0, 3.0]
    """
    from matplotlib.ticker import MaxNLocator

    ax.tick_params(labelsize=SMALL_PT)
    if integer_x:
        ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10], integer=True))
    if integer_y:
        ax.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 5, 10], integer=True))


def plot_format(path: str | os.PathLike) -> str:
    """The format of ``path`` from its extension, or a one-line error.

    Examples
    --------
    >>> plot_format("flow.PDF")
    'pdf'
    """
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise GradproofInputError(
            f"cannot plot to {os.fspath(path)!r}: use a .png, .pdf or .svg file name"
        )
    return ext


def check_plot_path(path: str | os.PathLike) -> str:
    """The format of ``path``, once a file can be written there; else a one-line error.

    Called before any work, so that a typo in the name or a folder that
    cannot be written to does not cost a long run
    (:func:`numeric.outputs.check_output`).

    Examples
    --------
    >>> import tempfile
    >>> check_plot_path(os.path.join(tempfile.mkdtemp(), "flow.PDF"))
    'pdf'
    >>> check_plot_path("/no/such/folder/flow.png")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cannot write plot '/no/such/folder/flow.png': folder '/no/such/folder' does not exist; create it or choose another path
    """
    fmt = plot_format(path)
    check_output(path, "plot")
    return fmt


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` whole or not at all, without timestamps.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from matplotlib.figure import Figure
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty.png"
    >>> save_figure(Figure(), path)
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fmt = plot_format(path)
    FigureCanvasAgg(fig)
    with written(path, "plot") as scratch, matplotlib.rc_context({"svg.hashsalt": "gradproof"}):
        fig.savefig(scratch, format=fmt, metadata=PLOT_FORMATS[fmt], dpi=PNG_DPI)


def plot_flow(
    path: str | os.PathLike,
    log10_norm: Sequence[float],
    log10_bound: Sequence[float] | None,
    title: str,
) -> None:
    """``log10 ||ds_T/ds_{T-k}||_2`` against k, with the bound if one applies.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "flow.svg"
    >>> plot_flow(path, [-0.1, -0.25], [-0.05, -0.1], "example")
    >>> b"<svg" in path.read_bytes()
    True
    """
    from matplotlib.figure import Figure

    k = np.arange(1, len(log10_norm) + 1)
    fig = Figure(figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        k, np.asarray(log10_norm, dtype=float), label=r"measured $\log_{10}\|ds_T/ds_{T-k}\|_2$"
    )
    if log10_bound is not None:
        ax.plot(
            k,
            np.asarray(log10_bound, dtype=float),
            "--",
            label=r"bound $k\,\log_{10}(\gamma\,\sigma_{\max}(W_{hh}))$",
        )
    ax.set_xlabel("k (steps back from T)", fontsize=LABEL_PT)
    ax.set_ylabel(r"$\log_{10}$ spectral norm", fontsize=LABEL_PT)
    ax.set_title(fit_text(title, FIGURE_WIDTH - 0.8, LABEL_PT), fontsize=LABEL_PT)
    style_axes(ax, integer_x=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_PT)
    save_figure(fig, path)


#: What the time-by-layer map of a stacked network draws.
STACK_MAP_TITLE = (
    r"$\log_{10}\,\|\partial h^{(L-1)}_T / \partial h^{(l)}_t\|_2$: "
    "spectral norm of the derivative of the top layer's output at the last step with respect "
    "to layer l's hidden vector at step t, through every path after it"
)


def plot_stack_depth(path: str | os.PathLike, depth: StackDepth, name: str, subtitle: str) -> None:
    """The time-by-layer heat map of a stacked network, as the Grid LSTM's is drawn.

    ``name`` titles the map (with how the gradient changes per layer);
    the layout is :func:`numeric.gridlstm.figures.plot_depth_flow`'s.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from numeric.stack_depth import StackDepth
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.png"
    >>> plot_stack_depth(path, StackDepth(np.array([[-0.6, -0.3], [-0.3, 0.0]])), "tiny", "T = 2")
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    from .gridlstm.figures import plot_depth_flow  # matplotlib and the grid: only when drawing

    plot_depth_flow(
        path,
        {name: depth},
        subtitle,
        title=STACK_MAP_TITLE,
        depth_label="layer l\n(0 = bottom, reads the inputs)",
    )


#: The sign convention of :func:`plot_sweep`'s rates, in words.
RATE_CONVENTION = (
    r"rate = slope of $\log_{10}$ of the gradient norm per step back in time, in decades "
    "(factors of 10): below 0 the gradient shrinks going back, above 0 it grows"
)


def plot_sweep(
    path: str | os.PathLike,
    gamma_sigma_max: Sequence[float],
    rates: np.ndarray,
    title: str,
) -> None:
    """Measured decay rate against ``gamma sigma_max``, one dot per random draw of weights.

    ``rates`` is ``(scales, draws)`` in decades per step, negative where the
    gradient shrinks going back in time (:data:`RATE_CONVENTION`, stated on
    the figure).  The bound's rate ``log10(gamma sigma_max)`` and the line
    ``gamma sigma_max = 1`` show where vanishing stops being guaranteed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.pdf"
    >>> plot_sweep(path, [0.5, 1.5], np.array([[-0.4, -0.35], [0.1, 0.12]]), "example")
    >>> path.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.figure import Figure

    x = np.asarray(gamma_sigma_max, dtype=float)
    rates = np.asarray(rates, dtype=float)
    fig = Figure(figsize=(FIGURE_WIDTH, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for column in rates.T:
        ax.plot(x, column, "o", color="C0", alpha=0.35, markersize=4)
    ax.plot(x, rates.mean(axis=1), "-", color="C0", label="measured (dots: each draw; line: mean)")
    with np.errstate(divide="ignore"):  # B = 0 (weights that underflowed to 0): not drawn
        bound_rate = np.log10(x)
    ax.plot(
        x,
        bound_rate,
        "--",
        color="C1",
        label=r"bound on the rate, $\log_{10}(\gamma\,\sigma_{\max})$",
    )
    ax.axvline(1.0, color="0.4", linewidth=1, label=r"$\gamma\,\sigma_{\max} = 1$")
    ax.axhline(0.0, color="0.7", linewidth=0.8)
    ax.set_xlabel(r"$\gamma\,\sigma_{\max}(W_{hh})$", fontsize=LABEL_PT)
    ax.set_ylabel("rate (decades per step)", fontsize=LABEL_PT)
    fig.suptitle(fit_text(title, FIGURE_WIDTH - 0.2, LABEL_PT), fontsize=LABEL_PT)
    ax.set_title(fit_text(RATE_CONVENTION, FIGURE_WIDTH - 0.8, SMALL_PT), fontsize=SMALL_PT)
    style_axes(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL_PT)
    save_figure(fig, path)
