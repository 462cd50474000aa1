"""The template test file in examples/ runs, and passes, as a user would run it."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "test_my_rnn.py"


def test_the_template_test_file_passes():
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(TEMPLATE)],
        capture_output=True,
        text=True,
        cwd=TEMPLATE.parent,
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "3 passed" in run.stdout
