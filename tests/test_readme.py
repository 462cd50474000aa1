"""The README runs as printed: its own-cell example, its Commands table and samples."""

import re
import shlex
from pathlib import Path

import pytest

from numeric.cli import _parser, main
from numeric.cli_common import DEFAULT_RANDOM, FLOW_STEPS, GRIDLSTM_DEFAULTS
from symbolic.registry import family

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(start, end):
    text = README.read_text()
    return text[text.index(start) : text.index(end)]


def _own_cell_section():
    return _section("## Your own cell", "## Notebooks")


def _commands_section():
    return _section("## Commands", "## Weights from PyTorch")


def test_the_own_cell_example_derives_and_flows(tmp_path, capsys, monkeypatch):
    section = _own_cell_section()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    (tmp_path / "my_cells.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    commands = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()
    for line in commands:
        argv = line.split("#")[0].split(">")[0].split()
        if "--weights" in argv:  # needs the user's own trained file
            continue
        assert argv[0] == "gradproof"
        assert main(argv[1:]) == 0, line
    out = capsys.readouterr().out
    assert "  u  (n,)\n  W  (n, m)\n  b  (n,)\n" in out
    assert "verdict: vanishing guaranteed: B = max_i |u_i| = 0.9 < 1" in out


def _help(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--help"])
    assert exit_.value.code == 0
    return capsys.readouterr().out


def _has_option(help_text, option):
    return re.search(rf"\s{re.escape(option)}[\s,]", help_text) is not None


def _table_rows():
    """``(command, the rest)`` of each row of the Commands table."""
    return re.findall(r"^\| `gradproof (\w+)([^`]*)` \|", _commands_section(), re.M)


def test_every_command_and_option_in_the_table_is_in_the_help(capsys):
    rows = _table_rows()
    assert len(rows) >= 8
    listed = re.search(r"\{([\w,]+)\}", _help([], capsys))[1].split(",")
    documented = {command for command, _ in rows}
    assert documented <= set(listed)
    # every command but answer (documented with the answers) has a row
    assert set(listed) - documented <= {"answer"}
    for command, rest in rows:
        shown = _help([command], capsys)
        for option in re.findall(r"--[a-z][a-z-]*", rest):
            assert _has_option(shown, option), (command, option)
        assert not _has_option(shown, "--no-such-option")  # teeth
    derive = _help(["derive"], capsys)
    assert "--format {latex,markdown,text}" in derive
    assert _has_option(derive, "--standalone") and _has_option(derive, "--bold")
    assert _parser().parse_args(["derive", "rnn"]).format == "text"
    assert _parser().parse_args(["report"]).out == "report"


def test_the_flow_row_states_the_defaults_flow_uses():
    # flow --help states the same values and tests/test_flow_cli.py runs them
    (row,) = re.findall(r"^\| `gradproof flow .*$", _commands_section(), re.M)
    found = re.search(
        r"hidden size (\d+) and (\d+) steps; `gridlstm` (\d+) units, (\d+) layers and (\d+) steps",
        row,
    )
    stated = tuple(int(v) for v in found.groups())
    grid = GRIDLSTM_DEFAULTS
    assert stated == (
        DEFAULT_RANDOM["hidden"],
        FLOW_STEPS,
        grid["hidden"],
        grid["layers"],
        grid["steps"],
    )


def test_every_option_value_in_the_derive_rows_is_accepted():
    checked = 0
    for command, rest in _table_rows():
        found = re.match(r" ([a-z]+)\b", rest)
        if command != "derive" or found is None:  # `derive CELL`: your own cell
            continue
        fam = family(found[1])
        values = dict(re.findall(r"--([a-z-]+) ([\w\\|]+)", rest))
        assert {option.replace("-", "_") for option in values} == set(fam.options), rest
        for option, alternatives in values.items():
            name = option.replace("-", "_")
            for value in alternatives.replace("\\", "").split("|"):
                assert fam.resolve({name: value})[name] == value
                checked += 1
            with pytest.raises(ValueError, match="not available"):  # teeth
                fam.resolve({name: "nosuchvalue"})
    assert checked >= 13


def _samples():
    """``(argv, shown output lines)`` of each ``$ gradproof ...`` block in Commands."""
    blocks = re.findall(r"```text\n\$ gradproof (.*?)\n(.*?)```", _commands_section(), re.S)
    return [(shlex.split(command), shown.splitlines()) for command, shown in blocks]


def _matches(shown, actual):
    """``shown`` lines appear in ``actual`` in order; a line ``...`` stands for any lines."""
    chunks, chunk = [], []
    for line in shown:
        if line == "...":
            chunks.append(chunk)
            chunk = []
        else:
            chunk.append(line)
    chunks.append(chunk)
    position = 0
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        starts = [
            s
            for s in range(position, len(actual) - len(chunk) + 1)
            if actual[s : s + len(chunk)] == chunk
        ]
        if not starts or (i == 0 and starts[0] != 0):
            return False
        position = starts[0] + len(chunk)
    return not chunks[-1] or position == len(actual)


def test_matches_is_strict():
    actual = ["a", "b", "c"]
    assert _matches(["a", "...", "c"], actual) and _matches(["...", "b", "..."], actual)
    assert not _matches(["a", "c"], actual) and not _matches(["...", "b"], actual)
    assert not _matches(["b", "..."], actual) and not _matches(["...", "d", "..."], actual)


def _sweep_table(out):
    """Rows ``(B, mean rate, bound rate)`` of a sweep's text table."""
    rows = re.findall(r"^\s+([\d.]+)\s+(-?[\d.]+)\s+(-?[\d.]+)\s+(?:vanishing|none)$", out, re.M)
    return [tuple(float(v) for v in row) for row in rows]


@pytest.mark.parametrize(("argv", "shown"), _samples(), ids=[" ".join(a) for a, _ in _samples()])
def test_the_samples_print_what_the_readme_shows(argv, shown, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _matches(shown, out.splitlines()), out
    table = _sweep_table(out)
    assert len(table) == 11
    if "--input-scale" in argv:  # at the origin the rate is the bound's, changing sign at 1
        assert all(abs(mean - bound) <= 1e-5 for _, mean, bound in table)
        assert all((mean < 0) == (B < 1) for B, mean, _ in table if abs(B - 1) > 1e-9)
    else:  # the defaults: negative over the whole range
        assert all(mean < 0 for _, mean, _ in table)


def test_the_sweep_samples_are_the_documented_origin_and_default_runs():
    argvs = [argv for argv, _ in _samples()]
    assert ["sweep", "rnn"] in argvs
    origin = ["--init", "orthogonal", "--input-scale", "0", "--bias-scale", "0"]
    assert ["sweep", "rnn", *origin] in argvs


def test_the_error_contract_states_what_the_command_line_does():
    text = " ".join(_section("User errors (unknown cell", "## Weights from PyTorch").split())
    for promise in (
        "one line on stderr and exit code 2",
        "with nothing written",
        "renamed into place only once the whole run has succeeded",
        "permissions your umask gives",
        "more memory than the machine has free",
        "more than an hour",
        "never holds NaN or Infinity",
        "exit code 1",
        "`GRADPROOF_DEBUG=1`",
    ):
        assert promise in text, promise
    from numeric.budget import TIME_LIMIT
    from numeric.cli import REPORT_BUG

    assert TIME_LIMIT == 3600 and REPORT_BUG.startswith("please report it")
    assert "GRADPROOF_DEBUG=1" in REPORT_BUG


def test_ci_runs_the_quick_start_test_command():
    quick_start = re.search(r"```bash\n(.*?)```", _section("## Quick start", "## A sample"), re.S)
    tests = quick_start.group(1).splitlines()[1]
    ci = (README.parent / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == tests
