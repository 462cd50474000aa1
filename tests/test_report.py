import shutil

import pytest

from numeric import report
from numeric.cli import main
from numeric.errors import GradproofInputError


def test_report_without_latex_engine_writes_tex_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    assert main(["report", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "no LaTeX engine" in out
    figures = [name for section in report.SECTIONS for name, _ in section.figures]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(["report.tex", *figures])
    tex = (tmp_path / "r" / "report.tex").read_text()
    assert "checked: exact, numeric" in tex and "FAILED" not in tex
    assert "\\includegraphics" in tex


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
def test_report_pdf_is_written_and_byte_identical_across_runs(tmp_path, monkeypatch):
    # run a draws the figures in worker processes (two cores or more), run b here
    monkeypatch.setattr(report, "_cores", lambda: 2)
    assert main(["report", "--out", str(tmp_path / "a")]) == 0
    monkeypatch.setattr(report, "_cores", lambda: 1)
    assert main(["report", "--out", str(tmp_path / "b")]) == 0
    figures = [name for section in report.SECTIONS for name, _ in section.figures]
    for product in ("report.tex", "report.pdf", *figures):
        assert (tmp_path / "a" / product).read_bytes() == (tmp_path / "b" / product).read_bytes(), (
            product
        )


def broken_in_a_worker(path):
    """A figure that fails; module-level, so that a worker process can run it."""
    raise GradproofInputError("figure failed")


def test_a_figure_failing_in_a_worker_is_raised_here_and_leaves_no_output(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_cores", lambda: 2)
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
