"""The command line's error contract, end to end.

Every run ends in exit code 0 with valid output (JSON that a strict parser
reads, no NaN in text, only the requested files written, with the umask's
permissions), or in exit code 2 with exactly one line on stderr, nothing on
stdout, no traceback or warning, and the working folder as it was (no new
file, an existing output untouched).  Exit code 1 is a bug's: one "please
report" line, a traceback only with ``GRADPROOF_DEBUG=1``.

A property test draws command lines and the files they name
(:mod:`error_contract_strategies`) and runs ``numeric.cli.main`` in process,
in a fresh folder per example; example-based tests pin each case of the
issue that first listed the failures.  Sizes past the machine and a named
pipe run in a subprocess, under an address-space limit and a timeout.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import resource
import stat
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from error_contract_strategies import (
    HAS_TORCH,
    JUNK,
    OLD_BYTES,
    OLD_PLOT,
    Arrays,
    ArraySpec,
    Folder,
    Raw,
    Scenario,
    declared_shape_npz,
    grid_file,
    loader_pair,
    rnn_file,
    scenarios,
    torch_file,
)
from hypothesis import HealthCheck, Phase, given, settings

import numeric
from numeric import figure_workers, report
from numeric.cli import main

#: The umask of every run: neither 0600 nor 0644 files pass for its 0640.
UMASK = 0o027
#: Warnings Python shows a user by default (the others are ignored outside ``__main__``).
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)
MAGIC = {".png": b"\x89PNG", ".pdf": b"%PDF", ".svg": b"<?xml"}
PROPERTY = settings(
    max_examples=300,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Outcome:
    """What a run did: exit code, streams, warnings shown, the folder before and after."""

    argv: tuple[str, ...]
    code: int | None
    out: str
    err: str
    shown_warnings: list[str]
    escaped: BaseException | None
    before: dict[str, tuple]
    after: dict[str, tuple]
    root: Path

    def __str__(self) -> str:
        escaped = "" if self.escaped is None else f", escaped {self.escaped!r}"
        return (
            f"gradproof {' '.join(self.argv)} -> exit {self.code}{escaped}, "
            f"stderr {self.err[:300]!r}, warnings {self.shown_warnings[:3]}"
        )


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root``: kind, permission bits and (files) a digest of the bytes."""
    tree = {}
    for path in root.rglob("*"):
        info = path.lstat()
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file" if path.is_file() else "other"
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else None
        tree[path.relative_to(root).as_posix()] = (kind, stat.S_IMODE(info.st_mode), digest)
    return tree


def run_in_scratch(scenario: Scenario, capfd) -> Outcome:
    """Make the scenario's files in a fresh folder and run the command line there, in process."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        scenario.make_files(root)
        before = snapshot(root)
        capfd.readouterr()
        old_umask = os.umask(UMASK)
        code, escaped = None, None
        try:
            os.chdir(root)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    code = main(list(scenario.argv))
                except SystemExit as exc:  # argparse: --help, or an argument error
                    code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
                except Exception as exc:  # a traceback for the user
                    escaped = exc
        finally:
            os.chdir(cwd)
            os.umask(old_umask)
        out, err = capfd.readouterr()
        shown = [
            f"{w.category.__name__}: {w.message}"
            for w in caught
            if not issubclass(w.category, HIDDEN_WARNINGS)
        ]
        outcome = Outcome(
            scenario.argv, code, out, err, shown, escaped, before, snapshot(root), root
        )
        check_contract(scenario, outcome)
        return outcome


def strict_json(text: str) -> object:
    """``json.loads`` that refuses NaN, Infinity and -Infinity."""

    def refuse(name: str) -> None:
        raise ValueError(f"JSON output holds {name}")

    return json.loads(text, parse_constant=refuse)


def check_contract(scenario: Scenario, run: Outcome) -> None:
    """Exit 0 with valid output or exit 2 with one line; one assertion per clause."""
    assert run.escaped is None, f"traceback: {run}"
    assert run.code in (0, 2), f"exit code neither 0 nor 2: {run}"
    assert not run.shown_warnings, f"a warning on stderr: {run}"
    assert "Traceback" not in run.err, f"traceback on stderr: {run}"
    if run.code == 2:
        assert run.err.count("\n") == 1 and run.err.endswith("\n"), f"not one line: {run}"
        assert run.err.startswith("gradproof"), f"error without the program name: {run}"
        assert run.out == "", f"partial output on stdout: {run}; stdout {run.out[:200]!r}"
        assert run.after == run.before, f"files changed on error: {_changes(run)}: {run}"
        return
    assert not re.search(r"\b(error|warning)\b", run.err, re.I), f"error text on exit 0: {run}"
    assert run.out.endswith("\n"), f"no output on exit 0: {run}"
    if "--json" in scenario.argv:
        assert run.out.count("\n") == 1, f"JSON not one line: {run}"
        report = strict_json(run.out)
        assert isinstance(report, dict) and report["cell"] == scenario.argv[1], f"{run}"
        if "log10_norm" in report:
            assert len(report["log10_norm"]) == report["steps"], f"{run}: {report}"
    else:
        assert not re.search(r"\bnan\b", run.out, re.I), f"NaN in the output: {run}"
    allowed = {p for o in scenario.outputs for p in [o, *(q.as_posix() for q in Path(o).parents)]}
    assert set(_changes(run)) <= allowed, f"unrequested files: {_changes(run)}: {run}"
    for output in scenario.outputs:
        path = run.root / output
        assert path.is_file(), f"{output} not written on exit 0: {run}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~UMASK, f"{output} mode: {run}"
        magic = MAGIC[path.suffix.lower()]
        assert path.read_bytes().startswith(magic), f"{output} is not {path.suffix}: {run}"


def _changes(run: Outcome) -> list[str]:
    paths = set(run.before) | set(run.after)
    return sorted(p for p in paths if run.before.get(p) != run.after.get(p))


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    monkeypatch.delenv("GRADPROOF_DEBUG", raising=False)


@pytest.mark.heavy
@PROPERTY
@given(scenario=scenarios)
def test_every_command_line_keeps_the_error_contract(scenario, capfd):
    run_in_scratch(scenario, capfd)


TORCH_ONLY = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def assert_same_answer(argv: tuple[str, ...], spec: Arrays, capfd) -> None:
    """``argv --weights`` an .npz, then a .pt, of the same arrays: the same exit, output, words."""
    answers = []
    for fmt in ("npz", "pt"):
        name = f"w.{fmt}"
        run = run_in_scratch(
            Scenario((*argv, "--weights", name), ((name, replace(spec, fmt=fmt)),)), capfd
        )
        answers.append((run.code, run.out, run.err.replace(name, "FILE")))
    assert answers[0] == answers[1], f".npz: {answers[0]!r:.400}; .pt: {answers[1]!r:.400}"


@TORCH_ONLY
@settings(PROPERTY, max_examples=60)
@given(pair=loader_pair())
def test_npz_and_pt_files_of_the_same_arrays_get_the_same_answer(pair, capfd):
    assert_same_answer(*pair, capfd)


SMALL = ("--steps", "5")
BIG_ENTRY = ArraySpec((3, 3), fill="1e308")  # sigma_max finite, about 1e308
BIG_EVERYWHERE = ArraySpec((3, 3), fill="1e308", everywhere=True)  # sigma_max 3e308 = inf


@pytest.mark.parametrize(
    ("argv", "files"),
    [
        (("flow", "rnn", "--weights", "w.npz", *SMALL), rnn_file(weight_hh=BIG_ENTRY)),
        (("flow", "rnn", "--weights", "w.npz", "--json", *SMALL), rnn_file(weight_hh=BIG_ENTRY)),
        (("flow", "rnn", "--scale", "5e-324", *SMALL), ()),
        (("flow", "rnn", "--scale", "1e-320", "--json", *SMALL), ()),
        (("sweep", "rnn", "--scales", "5e-324,1", "--seeds", "1", *SMALL), ()),
        (("sweep", "rnn", "--scales", "1e-320,1", "--seeds", "1", "--json", *SMALL), ()),
    ],
)
def test_case_1_extreme_but_valid_numbers_give_finite_results(argv, files, capfd):
    run = run_in_scratch(Scenario(argv, files), capfd)
    assert run.code == 0, str(run)
    if "--json" in argv and argv[0] == "flow" and "--weights" in argv:
        assert math.isclose(strict_json(run.out)["sigma_max"], 1e308, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("argv", "files"),
    [
        (("flow", "rnn", "--weights", "w.npz", *SMALL), rnn_file(weight_hh=BIG_EVERYWHERE)),
        (
            ("flow", "rnn", "--weights", "w.npz", "--json", *SMALL),
            rnn_file(weight_hh=BIG_EVERYWHERE),
        ),
        (
            ("flow", "gridlstm", "--weights", "w.npz", "--tied", "--json", *SMALL),
            grid_file(weight_time=ArraySpec((8, 4), fill="1e308", everywhere=True)),
        ),
        (("flow", "gridlstm", "--scale", "1e308", "--json", *SMALL), ()),
    ],
)
def test_case_1_overflowing_weights_answer_in_json_or_one_line(argv, files, capfd):
    run_in_scratch(Scenario(argv, files), capfd)


PLOT_AFTER_JSON = ("flow", "rnn", "--weights", "w.npz", "--json", "--plot", "f.png", *SMALL)


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(PLOT_AFTER_JSON, rnn_file(weight_hh=BIG_EVERYWHERE), ("f.png",)),
        Scenario(("flow", "rnn", "--plot", "f.png", *SMALL), (), ("f.png",)),
        Scenario(
            ("flow", "rnn", "--plot", OLD_PLOT, *SMALL), ((OLD_PLOT, Raw(OLD_BYTES)),), (OLD_PLOT,)
        ),
        Scenario(
            ("flow", "rnn", "--plot", OLD_PLOT, "--weights", "none.npz"),
            ((OLD_PLOT, Raw(OLD_BYTES)),),
        ),
        Scenario(
            ("sweep", "rnn", "--plot", "s.svg", "--seeds", "1", "--scales", "1,2", *SMALL),
            (),
            ("s.svg",),
        ),
        Scenario(
            ("flow", "gridlstm", "--plot", "g.pdf", "--hidden", "2", "--layers", "2", *SMALL),
            (),
            ("g.pdf",),
        ),
    ],
)
def test_cases_2_3_plots_are_written_whole_with_the_umask_or_not_at_all(scenario, capfd):
    run_in_scratch(scenario, capfd)


@pytest.mark.parametrize(
    ("dtype", "fill"),
    [("complex128", "normal"), ("bool", "normal"), ("int64", "normal"), ("float16", "max")],
)
@TORCH_ONLY
def test_case_4_npz_and_pt_refuse_and_accept_alike(dtype, fill, capfd):
    ((_, spec),) = rnn_file(weight_hh=ArraySpec((3, 3), dtype, fill))
    assert_same_answer(("flow", "rnn", *SMALL), spec, capfd)


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (ArraySpec((3, 3), "timedelta64[s]"), 2),
        (ArraySpec((3, 3), "datetime64[s]"), 2),
        (ArraySpec((3, 3), "longdouble"), 0),
        (ArraySpec((3, 3), "longdouble", "max"), 2),
    ],
)
def test_case_4_npz_dtypes(spec, code, capfd):
    run = run_in_scratch(
        Scenario(("flow", "rnn", "--weights", "w.npz", *SMALL), rnn_file(weight_hh=spec)), capfd
    )
    assert run.code == code, str(run)


@pytest.mark.parametrize(
    "argv",
    [
        ("flow", "gridlstm", "--variant", "textbook", *SMALL),
        ("flow", "rnn", "--layers", "0", *SMALL),
        ("flow", "gridlstm", "--seed", "-1", *SMALL),
        ("sweep", "rnn", "--scales", "-1:1:3", *SMALL),
        ("sweep", "rnn", "--plot", "/sys/gradproof.png", "--seeds", "1", *SMALL),
    ],
)
def test_cases_5_8_9_10_options_refused_in_one_line(argv, capfd):
    run = run_in_scratch(Scenario(argv), capfd)
    assert run.code == 2, str(run)
    assert "expected one argument" not in run.err, str(run)


@TORCH_ONLY
@pytest.mark.parametrize(
    "kind", ["sparse", "meta", "quantized", "nested", "module", "list", "legacy"]
)
def test_cases_6_9_10_unusual_pt_files(kind, capfd):
    files = (("w.pt", torch_file(kind)),)
    run = run_in_scratch(
        Scenario(("flow", "rnn", "--weights", "w.pt", "--layer", "0", *SMALL), files), capfd
    )
    assert "\x1b" not in run.err, str(run)
    if kind == "legacy":
        assert run.code == 0, str(run)


@pytest.mark.parametrize(
    ("argv", "files", "unclear"),
    [
        (("flow", "rnn", "--weights", "w.npz"), (("w.npz", JUNK["text"]),), "allow_pickle"),
        (("flow", "rnn", "--weights", "w.npz"), (("w.npz", JUNK["pickle"]),), "allow_pickle"),
        (("flow", "rnn", "--weights", "w.npz"), rnn_file(weight_hh=ArraySpec((0, 0))), "(in, in)"),
        (("flow", "rnn", "--weights", "w.npz"), rnn_file(weight_hh=ArraySpec(())), "(in, in)"),
        (
            ("sweep", "rnn", "--scales", "1.7976931348623157e308", "--seeds", "1", *SMALL),
            (),
            "weight_hh",
        ),
        (("flow", "rnn", "--weights", "w.npz"), (("w.npz", Folder()),), "Traceback"),
    ],
)
def test_case_10_messages_say_what_is_wrong(argv, files, unclear, capfd):
    run = run_in_scratch(Scenario(argv, files), capfd)
    assert unclear not in run.err, str(run)


@TORCH_ONLY
def test_case_10_a_grid_lstm_pt_file_is_read_as_the_npz_is(capfd):
    argv = ("flow", "gridlstm", "--tied", "--json", *SMALL)
    runs = [
        run_in_scratch(Scenario((*argv, "--weights", f"w.{fmt}"), grid_file(fmt)), capfd)
        for fmt in ("npz", "pt")
    ]
    assert runs[0].code == 0 and runs[1].out == runs[0].out, str(runs[1])


def test_a_bug_is_one_please_report_line_and_a_traceback_only_when_debugging(monkeypatch, capfd):
    def bug(args):
        raise RuntimeError("an internal inconsistency")

    monkeypatch.setattr("numeric.flow_cli.run_flow", bug)
    capfd.readouterr()
    assert main(["flow", "rnn"]) == 1
    out, err = capfd.readouterr()
    assert out == "" and err.count("\n") == 1 and "please report" in err.lower(), err
    assert "Traceback" not in err
    monkeypatch.setenv("GRADPROOF_DEBUG", "1")
    try:
        main(["flow", "rnn"])
    except RuntimeError:
        return  # the traceback, for the developer
    assert "Traceback" in capfd.readouterr().err


# Sizes past the machine and a named pipe: a subprocess, 4 GiB of address space, a timeout.
LIMIT_BYTES = 4 * 2**30
TIMEOUT = 30
#: A refusal says how much memory a run needs and how much there is, or how long it would take.
NEEDS_AND_HAS = re.compile(r"\d[\d.,]*\s*[KMGTPE]i?B\b.*\d[\d.,]*\s*[KMGTPE]i?B\b")
RUN_TIME = re.compile(r"\d[\d.,]*\s*(s|seconds?|min|minutes?|h|hours?|days?|years?)\b", re.I)


def _run_limited(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    root = str(Path(numeric.__file__).resolve().parents[1])  # the code under test
    env = {k: v for k, v in os.environ.items() if k != "GRADPROOF_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT_BYTES, LIMIT_BYTES))

    return subprocess.run(
        [sys.executable, "-m", "numeric.cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=limit,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["flow", "rnn", "--steps", "1000000000000"],
        ["flow", "gridlstm", "--steps", "1000000000000"],
        ["flow", "rnn", "--hidden", "200000"],
        ["sweep", "rnn", "--seeds", "1000000000000"],
        ["sweep", "rnn", "--scales", "0.5:1.5:100000000000"],
        ["sweep", "rnn", "--scales", "0.5:1.5:100000"],
        ["flow", "rnn", "--weights", "declared.npz"],
    ],
)
def test_case_7_sizes_past_the_machine_are_refused_at_once(argv, tmp_path):
    declared_shape_npz().write(tmp_path / "declared.npz")
    try:
        done = _run_limited(argv, tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gradproof {' '.join(argv)} still running after {TIMEOUT} s")
    assert done.returncode == 2 and done.stdout == "", done.stderr[-500:]
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr[-500:]
    if "--weights" not in argv:  # a file that declares more than it holds may be refused as such
        assert NEEDS_AND_HAS.search(done.stderr) or RUN_TIME.search(done.stderr), done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["declared.npz"]


@pytest.mark.parametrize("option", ["--weights", "--inputs", "--h0"])
def test_case_11_a_named_pipe_is_refused_not_waited_on(option, tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    try:
        done = _run_limited(["flow", "rnn", option, "pipe.npz"], tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"gradproof flow rnn {option} FIFO blocked for {TIMEOUT} s")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr[-500:]


def test_case_2_report_with_an_output_in_the_way_moves_nothing(tmp_path, capfd):
    out = tmp_path / "out"
    (out / "rnn_sweep.pdf").mkdir(parents=True)
    before = snapshot(tmp_path)
    code = main(["report", "--out", str(out)])
    err = capfd.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert snapshot(tmp_path) == before, err
    named = re.findall(r"(/[^\s():;,']+)", err)
    assert all(Path(p).exists() for p in named), f"the message names a path that is gone: {err}"


def drawn_figure(path):
    """A small real figure, module-level so that a worker process can draw it."""
    from matplotlib.figure import Figure

    from numeric.plots import save_figure

    save_figure(Figure(figsize=(1, 1)), path)
    return "a caption"


def test_case_3_report_files_have_the_umask_permissions(tmp_path, capfd, monkeypatch):
    # One small figure, drawn in a worker process as the report's are.
    monkeypatch.setattr(
        report, "SECTIONS", [report.Section("s", lambda: (), (("f.pdf", drawn_figure),))]
    )
    monkeypatch.setattr(figure_workers, "_cores", lambda: 2)
    old_umask = os.umask(UMASK)
    try:
        code = main(["report", "--out", str(tmp_path / "out")])
    finally:
        os.umask(old_umask)
    err = capfd.readouterr().err
    assert code == 0, err
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (tmp_path / "out").iterdir()}
    assert set(modes.values()) == {oct(0o666 & ~UMASK)}, modes


def _checked(tmp_path: Path, scenario: Scenario, **changes) -> None:
    """Check a made-up outcome of ``scenario``: a JSON flow with a 0640 PNG, then ``changes``."""
    (tmp_path / "f.png").write_bytes(MAGIC[".png"] + b"rest")
    (tmp_path / "f.png").chmod(0o666 & ~UMASK)
    fields = dict(code=0, out='{"cell": "rnn"}\n', err="", shown_warnings=[], escaped=None)
    fields |= dict(before={}, after=snapshot(tmp_path), root=tmp_path) | changes
    check_contract(scenario, Outcome(argv=scenario.argv, **fields))


JSON_PLOT = Scenario(("flow", "rnn", "--json", "--plot", "f.png"), (), ("f.png",))
TEXT = Scenario(("flow", "rnn"))
ONE_LINE = dict(code=2, out="", err="gradproof: error: no\n", after={})
PNG = ("file", 0o640, "0")


@pytest.mark.parametrize(
    ("scenario", "changes", "caught"),
    [
        (JSON_PLOT, dict(escaped=RuntimeError("bug")), "traceback"),
        (JSON_PLOT, dict(code=1), "neither 0 nor 2"),
        (JSON_PLOT, dict(shown_warnings=["RuntimeWarning: overflow"]), "a warning"),
        (JSON_PLOT, dict(err="Traceback (most recent call last):\n"), "traceback"),
        (TEXT, ONE_LINE | dict(err="gradproof: error: no\nmore\n"), "not one line"),
        (TEXT, ONE_LINE | dict(err="error: no\n"), "program name"),
        (TEXT, ONE_LINE | dict(out="cell rnn\n"), "partial output"),
        (TEXT, ONE_LINE | dict(after={"f.png": PNG}), "files changed"),
        (
            TEXT,
            ONE_LINE | dict(before={"f.png": PNG}, after={"f.png": PNG[:2] + ("1",)}),
            "changed",
        ),
        (JSON_PLOT, dict(err="gradproof: error: late\n"), "error text on exit 0"),
        (JSON_PLOT, dict(out=""), "no output"),
        (JSON_PLOT, dict(out='{"cell": "rnn", "sigma_max": Infinity}\n'), "holds Infinity"),
        (JSON_PLOT, dict(out='{"cell": "rnn", "steps": 2, "log10_norm": [1]}\n'), "log10_norm"),
        (TEXT, dict(out="sigma_max nan\n"), "NaN in the output"),
        (TEXT, dict(), "unrequested files"),
        (JSON_PLOT, dict(root=Path("/nonexistent")), "not written"),
    ],
)
def test_the_contract_check_catches_each_breach(tmp_path, scenario, changes, caught):
    _checked(tmp_path, JSON_PLOT)  # the unchanged outcome passes
    with pytest.raises((AssertionError, ValueError), match=caught):
        _checked(tmp_path, scenario, **changes)


@pytest.mark.parametrize(("mode", "data"), [(0o600, MAGIC[".png"]), (0o640, b"%PDF-1.4")])
def test_the_contract_check_catches_a_wrong_plot_file(tmp_path, mode, data):
    _checked(tmp_path, JSON_PLOT)
    (tmp_path / "f.png").write_bytes(data)
    (tmp_path / "f.png").chmod(mode)
    with pytest.raises(AssertionError, match="mode|is not .png"):
        check_contract(
            JSON_PLOT,
            Outcome(
                JSON_PLOT.argv,
                0,
                '{"cell": "rnn"}\n',
                "",
                [],
                None,
                {},
                snapshot(tmp_path),
                tmp_path,
            ),
        )
