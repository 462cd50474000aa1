"""Benchmark of the command line as the user runs it: whole processes, wall-clock.

Times ``gradproof --help``, an argument error (``derive nosuchcell``), every
``gradproof derive`` the registry offers (each built-in cell at its
defaults, and at each other value of its ``variant`` option: ``lstm
--variant no_forget``, ``gru --variant textbook``, ``gridlstm --variant
seed``, ...) and ``gradproof report`` into a temporary folder.  Each command
runs as a fresh process (``python -m numeric.cli``, the interpreter running
this script, so a launcher such as a pyenv shim is not timed), ``--runs``
times; the table shows the minimum and every run, and the exit code when a
run fails.

Run: ``python benchmarks/bench_cli.py [--runs N] [--no-report] [--against DIR]``.
Prints one table; writes nothing (the report goes to a temporary folder,
removed after each run).  ``--against DIR`` times the same commands in
another checkout too (``git worktree add DIR REV``), run by run in turn with
this one so that both see the same machine load, and adds its minimum and
the ratio: on a machine whose speed drifts, the ratio is the figure to quote.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from symbolic.registry import family, family_names

#: Stands for the output folder in a command; replaced by a fresh temporary one.
OUT = "<tmp>"


def derive_commands() -> list[list[str]]:
    """``derive CELL`` for every built-in cell, then once per other ``variant`` value."""
    commands = []
    for name in family_names():
        commands.append(["derive", name])
        variants = family(name).options.get("variant", ())
        commands += [["derive", name, "--variant", v] for v in variants[1:] if v is not None]
    return commands


def commands(report: bool = True) -> list[list[str]]:
    """Every command timed, in table order."""
    quick = [["--help"], ["derive", "nosuchcell"]]
    return quick + derive_commands() + ([["report", "--out", OUT]] if report else [])


def timed(command: list[str], checkout: str | None = None) -> tuple[float, int]:
    """Seconds one run of ``gradproof COMMAND`` takes, and its exit code.

    ``python -m`` imports from the working directory first, so running in
    ``checkout`` times that checkout's code.
    """
    with tempfile.TemporaryDirectory(prefix="gradproof-bench-") as scratch:
        argv = [f"{scratch}/report" if a == OUT else a for a in command]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "numeric.cli", *argv],
            cwd=checkout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command (default 3)")
    parser.add_argument("--no-report", action="store_true", help="skip gradproof report")
    parser.add_argument("--against", metavar="DIR", help="another checkout to time in turn")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    here = str(Path(__file__).resolve().parents[1])
    rows = commands(report=not args.no_report)
    width = max(len(" ".join(["gradproof", *c])) for c in rows)
    other = f"  {'other s':>8}  ratio" if args.against else ""
    print(f"{'command':<{width}}  {'min s':>8}{other}  runs s")
    for command in rows:
        results, others = [], []
        for _ in range(args.runs):
            results.append(timed(command, here))
            if args.against:
                others.append(timed(command, args.against))
        seconds = [s for s, _ in results]
        # derive nosuchcell is meant to exit 2; any other command must exit 0
        expected = 2 if command == ["derive", "nosuchcell"] else 0
        failed = sorted({code for _, code in results + others if code != expected})
        runs = " ".join(f"{s:.3f}" for s in seconds)
        note = f"  FAILED (exit {', '.join(map(str, failed))})" if failed else ""
        if args.against:
            best = min(s for s, _ in others)
            runs = f"{best:8.3f}  {min(seconds) / best:5.2f}  {runs}"
        shown = " ".join(["gradproof", *command])
        print(f"{shown:<{width}}  {min(seconds):8.3f}  {runs}{note}", flush=True)


if __name__ == "__main__":
    main()
