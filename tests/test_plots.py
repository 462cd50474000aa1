"""Plot files: their format from the name, their path checked first, written whole."""

import functools
import os
import stat

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from numeric.errors import GradproofInputError
from numeric.plots import (
    _WORD,
    RATE_CONVENTION,
    SMALL_PT,
    _text_width,
    check_plot_path,
    fit_text,
    plot_format,
    plot_sweep,
    save_figure,
)


def test_the_format_comes_from_the_extension():
    assert [plot_format(f"f.{e}") for e in ("png", "PDF", "svg")] == ["png", "pdf", "svg"]
    with pytest.raises(GradproofInputError, match="use a .png, .pdf or .svg file name"):
        plot_format("f.jpg")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("folder.png", "it is a folder; give a file name"),
        ("missing/f.png", "folder '.*missing' does not exist; create it"),
        ("file.txt/f.png", "'.*file.txt' is a file, not a folder"),
    ],
)
def test_a_path_that_cannot_take_the_plot_is_refused_and_nothing_is_made(tmp_path, name, message):
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file.txt").write_text("")
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(GradproofInputError, match=f"cannot write plot '.*{name}': {message}"):
        check_plot_path(tmp_path / name)
    assert sorted(tmp_path.rglob("*")) == before


def test_a_figure_that_fails_to_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    fig = Figure()
    fig.add_subplot().set_title(r"$\notacommand$")  # mathtext fails at drawing time
    with pytest.raises(ValueError):
        save_figure(fig, path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_saved_figures_get_the_umask_permissions(tmp_path):
    old = os.umask(0o007)
    try:
        save_figure(Figure(), tmp_path / "f.svg")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.svg").stat().st_mode) == 0o660


def test_a_sweep_whose_weights_underflowed_to_zero_plots_without_warnings(tmp_path):
    """B = 0 (every weight below the smallest float64) has no bound rate to draw."""
    plot_sweep(tmp_path / "s.png", [0.0, 1.0], np.array([[-np.inf], [-0.2]]), "extreme")
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def _filled_word_by_word(text: str, width: float, measure) -> str:
    """The reference line filling: add words to a line while ``measure`` says it fits."""
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in _WORD.findall(paragraph):
            if line and measure(f"{line} {word}") > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        lines.append(line)
    return "\n".join(lines)


TITLES = [
    RATE_CONVENTION,
    "measured $\\log_{10}\\|ds_T/ds_{T-k}\\|_2$ and the bound $k\\,\\log_{10}(\\gamma\\,"
    "\\sigma_{\\max}(W_{hh}))$ of the tanh RNN\nover $k$ steps back from $T$",
    "ii ii ii WWWWWW ii $x$ WW i $\\sum_{k=1}^{T} a_k$ i i i i i i i i i i WWWWWWWWWWWWWWW i",
]


def _check_boundaries(text: str) -> None:
    """fit_text against word-by-word filling, in the font rcParams give now.

    At every width where a line's last word just fits or just does not.
    """
    # Measured here, past the cache fit_text uses, once per line.
    font = FontProperties(size=SMALL_PT)
    measure = functools.cache(lambda line: _text_width.__wrapped__(line, font))
    words = _WORD.findall(text.replace("\n", " "))
    prefixes = [" ".join(words[:n]) for n in range(1, len(words) + 1)]
    widths = {measure(p) * f for p in prefixes for f in (1.0, 1.0 - 1e-9, 1.0 + 1e-9)}
    for width in sorted(widths):
        assert fit_text(text, width, SMALL_PT) == _filled_word_by_word(text, width, measure), width


@pytest.mark.parametrize("text", TITLES)
def test_fit_text_breaks_where_filling_word_by_word_does(text):
    """Those widths are where an estimate from the words' own widths is most
    likely off; the line widths themselves must decide."""
    _check_boundaries(text)


def test_fit_text_measures_in_the_font_rcparams_give_now():
    """Widths are cached: a serif font after the sans one gets widths of its own."""
    _check_boundaries(TITLES[1])
    with matplotlib.rc_context({"font.family": "serif", "mathtext.fontset": "dejavuserif"}):
        _check_boundaries(TITLES[1])
