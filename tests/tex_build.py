"""Compile LaTeX the tests write, with the real ``pdflatex``."""

import subprocess
from pathlib import Path


def pdflatex(folder: Path, tex: str, name: str = "doc") -> subprocess.CompletedProcess:
    """Write ``folder/name.tex`` and run ``pdflatex`` on it once; ``name.log`` stays beside it."""
    (folder / f"{name}.tex").write_text(tex)
    return subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
