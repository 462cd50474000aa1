import contextlib
import io
import os
import re
import shutil
import stat
import subprocess

import pytest

from numeric import figure_workers, report
from numeric.cli import main
from numeric.errors import GradproofInputError

pytestmark = pytest.mark.heavy  # run first: see conftest.py


def test_report_without_latex_engine_writes_tex_and_says_so(tmp_path, small_report, capsys):
    assert main(["report", "--out", str(tmp_path / "r")]) == 0
    assert "no LaTeX engine" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["f.pdf", "refs.bib", "report.tex"]


LATEX = pytest.mark.skipif(shutil.which("latexmk") is None, reason="no latexmk installed")
OPTIONS = ["--title", "Gradients & RNNs", "--author", "A. Student", "--paper", "letter"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The report, its figures drawn by a worker process and, once verified, by this one.

    The progress lines it printed are kept next to the folder, in ``progress.txt``.
    """
    if shutil.which("latexmk") is None:
        pytest.skip("no latexmk installed")
    root = tmp_path_factory.mktemp("reports")
    progress = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(progress):
        mp.setattr(figure_workers, "_cores", lambda: 2)
        assert main(["report", "--out", str(root / "a"), *OPTIONS]) == 0
    (root / "progress.txt").write_text(progress.getvalue())
    return root / "a"


FIGURES = [name for section in report.SECTIONS for name, _ in section.figures]


@LATEX
def test_every_step_is_checked_and_every_figure_written(built):
    expected = ["report.tex", "refs.bib", "report.pdf", *FIGURES]
    assert sorted(p.name for p in built.iterdir()) == sorted(expected)
    tex = (built / "report.tex").read_text()
    assert "checked: exact, numeric" in tex and "FAILED" not in tex
    assert "\\includegraphics" in tex


@LATEX
def test_figures_drawn_here_are_the_bytes_the_worker_drew(built, tmp_path):
    progress = (built.parent / "progress.txt").read_text()
    here = set(re.findall(r"^measuring: (\S+) \(here: the workers are busy\)$", progress, re.M))
    by_worker = [
        s.figures for s in report.SECTIONS if s.figures and not {n for n, _ in s.figures} & here
    ]
    assert by_worker, progress  # the first group always goes to the worker
    for figures in by_worker:
        figure_workers.draw_figures(tmp_path, figures)
        for name, _ in figures:
            assert (tmp_path / name).read_bytes() == (built / name).read_bytes(), name


@LATEX
def test_the_folder_compiles_as_it_is_to_the_same_pdf(built, tmp_path):
    """What a student uploads: every reference resolves, and the PDF comes out byte for byte."""
    folder = tmp_path / "upload"
    shutil.copytree(built, folder)
    (folder / "report.pdf").unlink()
    done = subprocess.run(
        ["latexmk", "-pdf", "-interaction=nonstopmode", "report.tex"],
        cwd=folder,
        env=dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    log = (folder / "report.log").read_text(errors="replace")
    assert "undefined" not in log.lower(), "an undefined reference or citation"
    assert overfull_points(log) <= 10
    bbl = (folder / "report.bbl").read_text()
    for key in ("pascanu2013", "hochreiter1997", "gers2000", "cho2014", "kalchbrenner2016"):
        assert f"\\bibitem{{{key}}}" in bbl, key
    assert (folder / "report.pdf").read_bytes() == (built / "report.pdf").read_bytes()


def overfull_points(log: str) -> float:
    """The widest overfull box in a LaTeX log, in points (0 if none)."""
    widths = re.findall(r"Overfull \\hbox \(([0-9.]+)pt too wide", log)
    return max(map(float, widths), default=0.0)


def test_overfull_points_reads_the_log():
    assert overfull_points("Overfull \\hbox (83.8pt too wide) in paragraph") == 83.8
    assert overfull_points("nothing") == 0.0


@LATEX
def test_title_block_sections_and_citations(built):
    tex = (built / "report.tex").read_text()
    assert "\\documentclass[11pt,letterpaper]{article}" in tex
    assert "\\title{Gradients \\& RNNs}" in tex and "\\author{A. Student}" in tex
    assert "\\date{}" in tex  # no timestamp unless asked
    assert "\\section{" in tex and "\\section*" not in tex and "\\part*" not in tex
    assert "\\label{eq:" in tex and "\\label{fig:grid-block}" in tex
    assert "\\begin{tikzpicture}" in tex and "\\bibliography{refs}" in tex
    # the peephole section: what they add to each memory's own block, along time and depth
    section = tex[tex.index("\\section{What peepholes change along time and depth}") :]
    assert "\\frac{\\partial m^{T}_{t,l}}{\\partial m^{T}_{t-1,l}} &= " in section
    assert "\\frac{\\partial m^{D}_{t,l}}{\\partial m^{D}_{t,l-1}} &= " in section
    assert "\\includegraphics[width=0.8\\linewidth]{grid_peepholes.pdf}" in section


def broken_in_a_worker(path):
    """A figure that fails; module-level, so that a worker process can run it."""
    raise GradproofInputError("figure failed")


def test_a_figure_failing_in_a_worker_is_raised_here_and_leaves_no_output(tmp_path, monkeypatch):
    monkeypatch.setattr(figure_workers, "_cores", lambda: 2)
    monkeypatch.setattr(
        report, "SECTIONS", [report.Section("s", lambda: (), (("f.pdf", broken_in_a_worker),))]
    )
    lines = []
    with pytest.raises(GradproofInputError, match="figure failed"):
        report.write_report(tmp_path / "r", lines.append)
    assert lines == ["measuring: f.pdf (in a worker process)"]
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_refused_without_writing(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("keep me")
    assert main(["report", "--out", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_a_failing_figure_leaves_no_output(tmp_path, monkeypatch):
    def broken(path):
        raise GradproofInputError("figure failed")

    monkeypatch.setattr(report, "SECTIONS", [report.Section("s", lambda: (), (("f.pdf", broken),))])
    with pytest.raises(GradproofInputError):
        report.write_report(tmp_path / "r")
    assert list(tmp_path.iterdir()) == []


def test_an_impossible_out_folder_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["report", "--out", str(tmp_path / "file" / "sub" / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gradproof: error:")


def drawn_figure(path):
    """A small real figure, written as the report's figures are."""
    from matplotlib.figure import Figure

    from numeric.plots import save_figure

    save_figure(Figure(figsize=(1, 1)), path)
    return "a caption"


@pytest.fixture
def small_report(monkeypatch):
    """The report with one section of one figure and no LaTeX engine: quick to build.

    The figure is drawn in this process: starting a worker would cost more
    than the rest (the worker path has tests of its own, here and for umasks).
    """
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    monkeypatch.setattr(figure_workers, "_cores", lambda: 1)
    monkeypatch.setattr(
        report, "SECTIONS", [report.Section("s", lambda: (), (("f.pdf", drawn_figure),))]
    )


def test_an_output_in_the_way_is_refused_before_the_work_and_moves_nothing(
    tmp_path, small_report, monkeypatch, capsys
):
    out = tmp_path / "out"
    (out / "f.pdf").mkdir(parents=True)
    (out / "report.tex").write_text("the old report")
    monkeypatch.setattr(report, "report_tex", lambda *a: pytest.fail("built before the check"))
    assert main(["report", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"gradproof: error: cannot write report file '{out / 'f.pdf'}': it is a folder; give a file name\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["f.pdf", "report.tex"]
    assert (out / "report.tex").read_text() == "the old report"


def test_report_files_get_the_umask_permissions_and_replace_old_ones(tmp_path, small_report):
    out = tmp_path / "a" / "b"  # folders that do not exist yet are made, at the end
    old = os.umask(0o027)
    try:
        report.write_report(out)
        (out / "f.pdf").chmod(0o600)
        report.write_report(out)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {"report.tex": 0o640, "refs.bib": 0o640, "f.pdf": 0o640}
    assert [p.name for p in tmp_path.iterdir()] == ["a"]
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]  # no scratch folder left


def test_a_failure_makes_no_folder_of_a_nested_out(tmp_path, monkeypatch):
    def broken(path):
        raise GradproofInputError("figure failed")

    monkeypatch.setattr(report, "SECTIONS", [report.Section("s", lambda: (), (("f.pdf", broken),))])
    with pytest.raises(GradproofInputError):
        report.write_report(tmp_path / "a" / "b" / "r")
    assert list(tmp_path.iterdir()) == []


def test_a_figure_that_cannot_be_written_is_named_in_out_not_in_the_scratch(
    tmp_path, small_report, monkeypatch, capsys
):
    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("numeric.outputs.os.replace", full_disk)
    monkeypatch.setattr(figure_workers, "_cores", lambda: 1)  # the patch reaches no worker
    assert main(["report", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err  # progress lines, then the error
    assert err.splitlines()[-1] == (
        f"gradproof: error: cannot write plot '{tmp_path / 'r' / 'f.pdf'}': "
        "No space left on device; choose a writable path"
    )
    assert list(tmp_path.iterdir()) == []
