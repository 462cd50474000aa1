"""The README's "Your own cell" example runs as printed."""

import re
from pathlib import Path

from numeric.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _own_cell_section():
    text = README.read_text()
    return text[text.index("## Your own cell") : text.index("## Notebooks")]


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
