import shutil
import subprocess
import sys

import pytest
from example_cells import OWN
from tex_build import pdflatex

from numeric.cli import main


def _run(*args):
    return subprocess.run(
        [sys.executable, "-m", "numeric.cli", *args], capture_output=True, text=True
    )


def _main(args, capsys):
    """``gradproof ARGS`` in this process: exit code, stdout, stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors end the program
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_derive_rnn_text_marks_every_checked_step(capsys):
    assert main(["derive", "rnn", "--activation", "sigmoid"]) == 0
    out = capsys.readouterr().out
    assert "dh_t/dh_{t-1} = diag(sigmoid'(a_t)) W" in out
    assert "checked: exact, numeric" in out and "FAILED" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["derive", "lstmx"], "cell 'lstmx' is neither a registered name"),
        (["derive", "rnn", "--activation", "softsign"], "--activation softsign is not available"),
        (["derive", "rnn", "--format", "html"], "invalid choice: 'html'"),
        (["derive", "rnn", "--standalone"], "--standalone needs --format latex"),
        (["derive", "rnn", "--bold"], "--bold needs --format latex or markdown"),
        (["answer", "q3"], "invalid choice: 'q3'"),
        (["answer", "q1", "--bold"], "--bold needs --format latex or markdown"),
        (["report", "--paper", "a5"], "invalid choice: 'a5'"),
        (["derive"], "the following arguments are required: cell"),
        (["nosuchcommand"], "invalid choice"),
        (["derive", "rnn", "--variant", "stacked"], "--variant does not apply to rnn"),
        (["derive", "gridlstm", "--activation", "relu"], "--activation does not apply to gridlstm"),
        (["derive", "gridlstm", "--variant", "stacked", "--priority", "none"], "priority is depth"),
        (["flow", "rnn", "--tied"], "--tied applies only to gridlstm"),
        (["flow", "gridlstm", "--activation", "relu"], "--activation does not apply to gridlstm"),
        (
            ["derive", "lstm", "--variant", "textbook"],
            "--variant textbook is not available for lstm",
        ),
        (["flow", "lstm", "--activation", "relu"], "--activation does not apply to lstm"),
        (["flow", "gru", "--variant", "no_forget"], "is not available for gru"),
        (["flow", "rnn", "--weights", "missing.pt"], "missing.pt"),
        (["sweep", "lstm"], "lstm declares none"),
        (["derive", "nowhere.py:cell"], "cell file 'nowhere.py' does not exist"),
        (["flow", f"{OWN}:indrnn", "--size", "foo=3"], "cell 'indrnn' has no size 'foo'"),
        (["flow", f"{OWN}:indrnn", "--size", "n=3"], "pass --size m=N"),
        (["flow", f"{OWN}:indrnn", "--size", "n=x"], "--size 'n=x' is not NAME=N"),
        (["flow", f"{OWN}:indrnn", "--hidden", "3"], "--hidden describes PyTorch weights"),
        (["flow", "rnn", "--size", "n=3"], "--size is for cells keyed by parameter names"),
        (["flow", "rnn", "--weights", "w.npz", "--scale", "2"], "drop it when using --weights"),
        (["sweep", f"{OWN}:mgu", "--size", "n=2", "--size", "m=1"], "declares none"),
        (["flow", "symbolic.cells:nosuch"], "symbolic.cells has no 'nosuch'"),
        (["params", "rnn", "--variant", "pytorch"], "--variant does not apply to rnn"),
        (["flow", "rnn", "--steps", "x"], "argument --steps: invalid int value: 'x'"),
        # options that do not apply are refused, not ignored
        (["flow", "gridlstm", "--variant", "textbook"], "--variant does not apply to gridlstm"),
        (["flow", "rnn", "--layers", "0"], "--layers must be a positive integer, got 0"),
        (["flow", "gridlstm", "--seed", "-1"], "--seed must be a non-negative integer, got -1"),
        (
            ["flow", "rnn", "--weights", "w.npz", "--inputs", "x.npy", "--seed", "3"],
            "--seed draws random weights and inputs; with --weights and --inputs nothing is "
            "drawn: drop it",
        ),
        (
            ["flow", "gridlstm", "--weights", "w.npz", "--inputs", "x.npy", "--seed", "3"],
            "--seed draws random weights and inputs; with --weights and --inputs nothing is "
            "drawn: drop it",
        ),
        # a value with a leading minus sign is the option's value, checked as such
        (["sweep", "rnn", "--scales", "-1:1:3"], "--scales '-1:1:3' must be positive"),
        (["flow", "rnn", "--scale", "-1e-3"], "--scale must be a positive number, got -0.001"),
        (["flow", "rnn", "--scale", "-inf"], "--scale must be a positive number, got -inf"),
        (["sweep", "rnn", "--scales", "inf"], "--scales 'inf' must be positive, finite numbers"),
        # sizes past the machine: refused at once, saying how much and what to lower
        (["flow", "rnn", "--steps", "1000000000000"], "TB of memory, and"),
        (["flow", "rnn", "--hidden", "200000"], "lower --steps, --hidden or --input"),
        (["flow", "gridlstm", "--steps", "1000000000000"], "PB of memory"),
        (["flow", "gridlstm", "--hidden", "100000"], "--hidden, --layers or --input"),
        (["sweep", "rnn", "--seeds", "1000000000000"], "(11 scales x 1000000000000 seeds)"),
        (["sweep", "rnn", "--scales", "0.5:1.5:100000000000"], "TB of memory"),
        (["sweep", "rnn", "--scales", "0.5:1.5:100000"], "would take at least 1.3 hours"),
        (["flow", "rnn", "--hidden", "4096", "--steps", "1000"], "would take at least 1.9"),
        # an output path that cannot be written is refused before the work
        (
            ["sweep", "rnn", "--plot", "/sys/gradproof.png"],
            "cannot write plot '/sys/gradproof.png'",
        ),
        (["flow", "rnn", "--plot", "no/such/folder/f.png"], "folder 'no/such/folder' does not"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, message, capsys):
    code, out, err = _main(args, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["derive", "rnn", "--format", "html"], "invalid choice: 'html'"),  # from argparse
        (["flow", "rnn", "--steps", "1000000000000"], "TB of memory, and"),  # from a handler
    ],
)
def test_the_process_exits_2_with_the_one_line(args, message):
    """The same contract through the console script's process, as a shell sees it."""
    done = _run(*args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert done.stdout == ""


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
@pytest.mark.parametrize(
    "cell",
    [
        ["rnn"],
        ["lstm"],
        ["lstm", "--variant", "no_forget"],
        ["gru"],
        ["gru", "--variant", "textbook"],
        ["gridlstm", "--variant", "paper"],
        ["gridlstm", "--variant", "stacked"],
    ],
)
def test_standalone_latex_compiles_without_overfull_lines(tmp_path, cell, capsys):
    code, out, err = _main(["derive", *cell, "--format", "latex", "--standalone"], capsys)
    assert code == 0, err
    pdf = pdflatex(tmp_path, out, "d")
    assert pdf.returncode == 0, pdf.stdout[-2000:]
    assert "Overfull \\hbox" not in (tmp_path / "d.log").read_text()


def test_a_bug_is_one_please_report_line_unless_debugging(monkeypatch, capsys):
    import numeric.cli as cli

    def bug(args):
        raise KeyError("a\nmulti-line message")

    monkeypatch.setattr(cli, "run_derive", bug)
    monkeypatch.delenv("GRADPROOF_DEBUG", raising=False)
    assert main(["derive", "rnn"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "gradproof: internal error: KeyError: 'a\\nmulti-line message'; please report it with "
        "the command line that caused it (set GRADPROOF_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("GRADPROOF_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["derive", "rnn"])


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (MemoryError(), 2, "gradproof: error: out of memory; lower the sizes"),
        (KeyboardInterrupt(), 130, "gradproof: interrupted"),
        (PermissionError(13, "Permission denied", "out/x"), 2, "gradproof: error: Permission"),
    ],
)
def test_other_endings_are_one_line(exc, code, line, monkeypatch, capsys):
    import numeric.cli as cli

    def fail(args):
        raise exc

    monkeypatch.setattr(cli, "run_derive", fail)
    assert main(["derive", "rnn"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(line), err


def test_a_closed_pipe_ends_quietly():
    """``gradproof derive rnn | head -0``: no "Broken pipe" line, no traceback."""
    reader = subprocess.Popen(
        [sys.executable, "-m", "numeric.cli", "derive", "lstm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader.stdout.close()  # the reader leaves before the first line
    with reader.stderr:
        err = reader.stderr.read().decode()
    assert reader.wait() == 141 and err == "", err


def test_derive_is_deterministic(capsys, monkeypatch):
    """Another process (another hash seed) prints the same bytes, all of them.

    The output is smaller than the buffer of a piped stdout, and the console
    script ends without the interpreter's own clean-up: a missing flush
    would lose it all.
    """
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    argv = ["derive", "rnn"]
    assert _run(*argv).stdout == _main(argv, capsys)[1]


def test_version_and_help_answer(capsys):
    from importlib.metadata import version

    from numeric.cli import main

    for argv in (["--version"], ["--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"gradproof {version('gradproof')}\n")
    assert "``" not in out and "Machine-checked derivations" in out


#: Modules a command should import only if it needs them; SymPy's SAT-based
#: assumptions are asked, about 20 ms a time, when a matrix product is
#: evaluated again (negated, inverted), which the derivations avoid.
HEAVY = ("numpy", "sympy", "matplotlib", "torch", "sympy.assumptions.satask")


def _imported_after(code):
    """The heavy modules imported by running ``code`` in a fresh interpreter."""
    probe = (
        "import sys\n"
        f"{code}\n"
        f"print('imported:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("imported:"), done.stdout
    return set(filter(None, last.removeprefix("imported:").split(",")))


def test_importing_the_cli_imports_no_heavy_module():
    assert _imported_after("import numeric.cli") == set()


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["derive", "--help"],
        ["flow", "--help"],
        ["--version"],
        ["derive", "nosuchcell"],
        ["flow", "rnn", "--steps", "-3"],
        ["sweep", "rnn", "--seeds", "0"],
        ["flow", "gridlstm", "--hidden", "0"],
        ["params", "no_colon"],
    ],
)
def test_help_and_argument_errors_import_no_heavy_module(argv):
    code = (
        "from numeric.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as exit_:\n"
        "    code = exit_.code\n"
        "assert code in (0, 2), code"
    )
    assert _imported_after(code) == set()


def test_flow_without_plot_or_pt_file_imports_neither_matplotlib_nor_torch():
    code = (
        "from numeric.cli import main\n"
        "assert main(['flow', 'rnn', '--hidden', '2', '--steps', '3', '--json']) == 0"
    )
    assert _imported_after(code) == {"numpy", "sympy"}


def test_names_in_help_texts_are_the_registries():
    from numeric.cli_common import ACTIVATION_NAMES, INITS
    from numeric.weights import INITS as WEIGHT_INITS
    from symbolic.activations import ACTIVATIONS

    assert ACTIVATION_NAMES == tuple(sorted(ACTIVATIONS))
    assert INITS == WEIGHT_INITS


def test_the_numeric_package_exports_resolve_on_first_use():
    import importlib

    import numeric

    for name in numeric.__all__:
        assert getattr(numeric, name) is not None, name
    importlib.import_module("numeric.verify")
    from numeric import verify

    assert callable(verify) and verify.__module__ == "numeric.verify"


@pytest.mark.parametrize("argv", [["derive", "gru"], ["answer", "q1"]])
def test_derivations_import_neither_matplotlib_nor_torch_nor_the_sat_solver(argv):
    code = f"from numeric.cli import main\nassert main({argv!r}) == 0"
    heavy = {"matplotlib", "torch", "sympy.assumptions.satask"}
    assert _imported_after(code) & heavy == set()


@pytest.mark.parametrize("question", ["q1", "q2"])
def test_answer_prints_a_verified_answer_that_compiles_standalone(question, capsys, tmp_path):
    assert main(["answer", question]) == 0
    out = capsys.readouterr().out
    assert "the short answer" in out and "(checked: exact" in out
    assert main(["answer", question, "--format", "latex", "--standalone"]) == 0
    tex = capsys.readouterr().out
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex installed")
    done = pdflatex(tmp_path, tex, "a")
    assert done.returncode == 0, done.stdout[-1500:]
    log = (tmp_path / "a.log").read_text(errors="replace")
    assert "No \\author given" not in log
