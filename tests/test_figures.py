"""Every figure the toolkit draws is legible at the size it is printed at.

Each figure is drawn through the function a user reaches (the command line's
``--plot``, or the report's figure functions) at small sizes, and the
``Figure`` handed to ``save_figure`` is kept and measured:

* nothing is cut off: every drawn text, and the tight box around everything
  drawn, lies inside the figure;
* every text is at least :data:`MIN_PT` points once printed: a report figure
  is scaled to the width ``numeric.report`` includes it at (a fraction of the
  text width of an A4 page with the report's margins), a command-line figure
  is printed at its own size;
* an axis that counts layers or steps has integer tick labels;
* the same data gives the same PDF bytes, without a timestamp.

The checks return what they found wrong, so the last tests can show that a
clipped title, a 4 pt label and ticks on half layers are caught.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from numeric import case_study, gated_flow, plots, report
from numeric.cli import main
from numeric.gridlstm import figures as grid_figures
from numeric.plots import fit_text, save_figure
from symbolic.latex import PREAMBLE

pytestmark = pytest.mark.heavy  # run first: see conftest.py

#: Smallest legible printed text, in points.
MIN_PT = 7.0

#: Text width of the report, in inches: an A4 page (21 cm; the narrower of A4
#: and US letter) less the two margins of the report's preamble.
TEXT_WIDTH = (21.0 - 2 * float(re.search(r"margin=([\d.]+)cm", PREAMBLE)[1])) / 2.54


def printed_width() -> float:
    """The width in inches the report includes a figure at, read from its LaTeX."""
    tex = report._figure_tex("figure.pdf", "caption")
    width = re.search(r"\\includegraphics\[width=([\d.]*)\\(?:line|text)width\]", tex)
    assert width, f"cannot read the included width from {tex!r}"
    return float(width[1] or 1) * TEXT_WIDTH


@contextlib.contextmanager
def kept_figures() -> Iterator[list[Figure]]:
    """Every figure saved meanwhile, by any module that draws, still written to its file."""
    kept: list[Figure] = []

    def keep(fig: Figure, path) -> None:
        save_figure(fig, path)
        kept.append(fig)

    with pytest.MonkeyPatch.context() as patch:
        for module in (plots, grid_figures, report, gated_flow, case_study):
            patch.setattr(module, "save_figure", keep)
        yield kept


def _cli(*argv: str) -> Callable[[Path], object]:
    def draw(path: Path) -> None:
        assert main([*argv, "--plot", str(path)]) == 0, argv

    return draw


#: Figure name -> (draw into a path, printed in the report?, axes with integer ticks).
FIGURES: dict[str, tuple[Callable[[Path], object], bool, str]] = {
    "flow --plot": (_cli("flow", "rnn", "--hidden", "4", "--steps", "12"), False, "x"),
    "sweep --plot": (
        _cli(
            "sweep",
            "rnn",
            "--hidden",
            "4",
            "--steps",
            "20",
            "--seeds",
            "2",
            "--scales",
            "0.5:1.5:3",
        ),
        False,
        "",
    ),
    "flow gridlstm --plot": (
        _cli("flow", "gridlstm", "--hidden", "2", "--layers", "3", "--steps", "5"),
        False,
        "xy",
    ),
    "report: tanh RNN flow": (
        lambda path: report.plot_rnn_flow(path, hidden=4, steps=12),
        True,
        "x",
    ),
    "report: tanh RNN sweep": (
        lambda path: report.plot_rnn_sweep(path, hidden=4, steps=20, seeds=2),
        True,
        "",
    ),
    "report: gated flow": (
        lambda path: gated_flow.plot_gated_flow(path, hidden=6, steps=40),
        True,
        "x",
    ),
    "report: grid depth": (
        lambda path: report.plot_grid_depth(path, hidden=2, layers=3, steps=5),
        True,
        "xy",
    ),
    "flow lstm --layers 2 --plot": (
        _cli("flow", "lstm", "--layers", "2", "--hidden", "3", "--steps", "6"),
        False,
        "xy",
    ),
    "report: grid peepholes": (
        lambda path: grid_figures.plot_grid_peepholes(path, hidden=2, layers=3, steps=5),
        True,
        "x",
    ),
    "report: trained flow": (case_study.plot_trained_flow, True, "x"),
}


@pytest.fixture(scope="module")
def drawn(tmp_path_factory) -> dict[str, tuple[Figure, float, bytes, bytes]]:
    """Each figure drawn twice to PDF: (figure, print scale, first bytes, second bytes)."""
    folder = tmp_path_factory.mktemp("figures")
    out = {}
    for i, (name, (draw, in_report, _)) in enumerate(FIGURES.items()):
        with kept_figures() as kept, contextlib.redirect_stdout(io.StringIO()):
            draw(folder / f"{i}a.pdf")
            draw(folder / f"{i}b.pdf")
        assert len(kept) == 2, name
        fig = kept[0]
        scale = printed_width() / fig.get_figwidth() if in_report else 1.0
        out[name] = (
            fig,
            scale,
            (folder / f"{i}a.pdf").read_bytes(),
            (folder / f"{i}b.pdf").read_bytes(),
        )
    return out


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts ``fig`` draws: visible, not empty, and (for tick labels) on a tick in view."""
    FigureCanvasAgg(fig).draw()
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            room = 1e-9 * max(1.0, high - low)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not low - room <= tick.get_loc() <= high + room:
                    hidden |= {id(tick.label1), id(tick.label2)}
    return [
        text
        for text in fig.findobj(Text)
        if text.get_visible() and text.get_text().strip() and id(text) not in hidden
    ]


def clipped(fig: Figure) -> list[str]:
    """Texts (and the tight box of everything) reaching outside the figure."""
    texts = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    inside = fig.bbox.padded(0.5)  # half a pixel for rounding
    problems = [
        f"{text.get_text()!r} reaches outside the figure"
        for text in texts
        if not inside.contains(*text.get_window_extent(renderer).min)
        or not inside.contains(*text.get_window_extent(renderer).max)
    ]
    tight, box = fig.get_tightbbox(renderer), fig.bbox_inches.padded(0.01)
    if not (box.contains(*tight.min) and box.contains(*tight.max)):
        problems.append(f"the drawing {tight.bounds} reaches outside the figure {box.bounds}")
    return problems


def too_small(fig: Figure, scale: float) -> list[str]:
    """Texts under :data:`MIN_PT` once the figure is printed at ``scale`` times its size."""
    return [
        f"{text.get_text()!r} prints at {text.get_fontsize() * scale:.1f} pt"
        for text in _drawn_texts(fig)
        if text.get_fontsize() * scale < MIN_PT
    ]


def fractional_ticks(fig: Figure, which: str) -> list[str]:
    """Tick labels that are not integers, on the ``which`` ("x", "y") axes of every plot."""
    shown = {id(text) for text in _drawn_texts(fig)}
    problems = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>":
            continue
        for name in which:
            for label in getattr(ax, f"get_{name}ticklabels")():
                text = label.get_text().replace("\N{MINUS SIGN}", "-")
                if id(label) in shown and not re.fullmatch(r"-?\d+", text):
                    problems.append(f"{name} tick {text!r} is not an integer")
    return problems


@pytest.mark.parametrize("name", FIGURES)
def test_nothing_is_cut_off(drawn, name):
    assert clipped(drawn[name][0]) == []


@pytest.mark.parametrize("name", FIGURES)
def test_every_text_prints_at_7_pt_or_more(drawn, name):
    fig, scale, _, _ = drawn[name]
    assert too_small(fig, scale) == []


@pytest.mark.parametrize("name", FIGURES)
def test_report_figures_fit_the_text_width(drawn, name):
    fig, scale, _, _ = drawn[name]
    assert fig.get_figwidth() * scale <= TEXT_WIDTH + 1e-9


@pytest.mark.parametrize("name", [n for n, (_, _, which) in FIGURES.items() if which])
def test_layer_and_step_axes_have_integer_ticks(drawn, name):
    fig, which = drawn[name][0], FIGURES[name][2]
    assert fractional_ticks(fig, which) == []
    assert any(ax.get_xticklabels() for ax in fig.axes)


@pytest.mark.parametrize("name", FIGURES)
def test_the_same_data_gives_the_same_pdf_bytes(drawn, name):
    _, _, first, second = drawn[name]
    assert first == second
    assert b"CreationDate" not in first


@pytest.mark.parametrize(
    "name, words",
    [
        ("sweep --plot", "below 0 the gradient shrinks going back, above 0 it grows"),
        ("report: tanh RNN sweep", "below 0 the gradient shrinks going back, above 0 it grows"),
        ("flow gridlstm --plot", "decades per layer going down from the output"),
        ("report: grid depth", "decades per layer going down from the output"),
    ],
)
def test_a_rate_shown_has_its_sign_stated_in_words(drawn, name, words):
    shown = " ".join(text.get_text().replace("\n", " ") for text in _drawn_texts(drawn[name][0]))
    assert words in shown
    assert "a decade is a factor of 10" in shown or "decades (factors of 10)" in shown


def test_depth_ticks_sit_on_whole_layers(drawn):
    fig = drawn["flow gridlstm --plot"][0]
    (ax, *_) = (ax for ax in fig.axes if ax.get_label() != "<colorbar>")
    low, high = sorted(ax.get_ylim())
    assert (low, high) == (-0.5, 2.5)  # three layers, each cell centred on its integer
    assert [t for t in ax.get_yticks() if low <= t <= high] == [0, 1, 2]


# Teeth: each check catches what it is for.


def test_a_title_wider_than_the_figure_is_caught_and_fit_text_cures_it():
    title = "gradient flow of a cell with a very long name " * 3
    fig = Figure(figsize=(3.0, 2.0), layout="constrained")
    fig.add_subplot().plot([0, 1])
    fig.suptitle(title, fontsize=8)
    assert clipped(fig) != []
    fig.suptitle(fit_text(title, 2.8, 8), fontsize=8)
    assert clipped(fig) == []


def test_a_4_pt_label_and_a_shrunk_figure_are_caught():
    fig = Figure(figsize=(plots.FIGURE_WIDTH, 3.0), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlabel("time step t", fontsize=4)
    assert [p for p in too_small(fig, 1.0) if "time step" in p] == [
        "'time step t' prints at 4.0 pt"
    ]
    ax.set_xlabel("time step t", fontsize=10)
    assert too_small(fig, 1.0) == []
    # The report's old three-panel map: 13.6 in wide, printed at 0.8 of the text width.
    assert too_small(fig, printed_width() / 13.6) != []


def test_ticks_on_half_layers_are_caught():
    # The old map of four layers: matplotlib's default ticks fall on half layers.
    fig = Figure(figsize=(3.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(np.zeros((4, 5)), origin="lower", aspect="auto", extent=(0.5, 5.5, -0.5, 3.5))
    assert "y tick '0.5' is not an integer" in fractional_ticks(fig, "y")
    plots.style_axes(ax, integer_x=True, integer_y=True)
    assert fractional_ticks(fig, "xy") == []


def test_a_pdf_saved_without_fixed_metadata_carries_a_timestamp(tmp_path):
    fig = Figure(figsize=(2.0, 1.0))
    fig.savefig(tmp_path / "plain.pdf")
    save_figure(fig, tmp_path / "fixed.pdf")
    assert b"CreationDate" in (tmp_path / "plain.pdf").read_bytes()
    assert b"CreationDate" not in (tmp_path / "fixed.pdf").read_bytes()
