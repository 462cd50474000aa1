"""Plot files: their format from the name, their path checked first, written whole."""

import os
import stat

import numpy as np
import pytest
from matplotlib.figure import Figure

from numeric.errors import GradproofInputError
from numeric.plots import check_plot_path, plot_format, plot_sweep, save_figure


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
