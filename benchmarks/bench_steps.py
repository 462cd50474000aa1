"""Benchmark of compiled cells at small sizes, where each step's fixed cost shows.

Small trained models (the notebooks' n = 32 cells over a batch of 1000
sequences), Lyapunov spectra and singular values over thousands of steps
call a compiled step or Jacobian once per time step.  At these sizes the
arithmetic takes microseconds, so the cost is what every call adds around
it.  Cases, each the minimum over ``--runs`` runs:

- ``step CELL n=8``: one compiled step of a built-in cell, state of one
  sequence, in microseconds per step (3000 steps);
- ``step lstm n=32, batch 1000``: the notebooks' batch, in milliseconds per step;
- ``flow CELL n=8, T=1000``: ``gradient_flow``, forward and backward, in ms;
- ``singular values lstm n=8, T=2000``: the top 4 by
  ``log10_singular_values``, in ms.

Run: ``python benchmarks/bench_steps.py [--runs N] [--against DIR]``.  Prints
one table; writes nothing.  ``--against DIR`` runs the same cases on another
checkout (``git worktree add DIR REV``) in turn with this one, and adds the
ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CELLS = ("rnn", "lstm", "gru")


def _best(fn, runs: int) -> float:
    fn()  # untimed: the first call compiles the cell's functions
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(runs: int) -> dict[str, float]:
    """Every case's figure, in the unit its name gives, in this process."""
    import numpy as np

    from numeric.compile import compile_cell
    from numeric.flow import gradient_flow
    from numeric.singular_values import log10_singular_values
    from numeric.weights import random_state_dict, torch_weights
    from symbolic.registry import family

    def compiled(name: str, n: int):
        params = torch_weights(random_state_dict(name, n, 2, 1.0, seed=0), name).params
        return compile_cell(family(name).cell(), n=n, m=2), params

    inputs = np.random.default_rng(0).standard_normal((3000, 2))
    out = {}
    for name in CELLS:
        cc, params = compiled(name, 8)

        def steps(cc=cc, params=params):
            s = np.zeros(cc.state_size)
            for x in inputs:
                s = cc.step(s, x, params)

        out[f"step {name} n=8 (us/step)"] = _best(steps, runs) / len(inputs) * 1e6
    cc, params = compiled("lstm", 32)
    batch = np.random.default_rng(1).standard_normal((100, 1000, 2))

    def batched():
        s = np.zeros((1000, cc.state_size))
        for x in batch:
            s = cc.step(s, x, params)

    out["step lstm n=32, batch 1000 (ms/step)"] = _best(batched, runs) / len(batch) * 1e3
    for name in CELLS:
        cc, params = compiled(name, 8)
        flow = lambda cc=cc, params=params: gradient_flow(cc, params, inputs[:1000])  # noqa: E731
        out[f"flow {name} n=8, T=1000 (ms)"] = _best(flow, runs) * 1e3
    cc, params = compiled("lstm", 8)
    spectra = lambda: log10_singular_values(cc, params, inputs[:2000], count=4)  # noqa: E731
    out["singular values lstm n=8, T=2000 (ms)"] = _best(spectra, runs) * 1e3
    return out


def _measured_in(checkout: Path, runs: int) -> dict[str, float]:
    """:func:`measure` in a fresh process that imports gradproof from ``checkout``."""
    here = Path(__file__).resolve().parent
    code = f"import json, bench_steps; print(json.dumps(bench_steps.measure({runs})))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=here,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(checkout), str(here)])),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per case (minimum kept)")
    parser.add_argument("--against", type=Path, help="another checkout to time in turn")
    args = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    ours, theirs = {}, {}
    for _ in range(args.runs if args.against else 1):
        for figures, checkout in ((ours, here), (theirs, args.against)):
            if checkout is None:
                continue
            for case, value in _measured_in(checkout, 1 if args.against else args.runs).items():
                figures[case] = min(figures.get(case, float("inf")), value)
    width = max(map(len, ours))
    header = f"{'case':<{width}}  {'this':>9}"
    print(header + (f"  {'against':>9}  {'ratio':>6}" if theirs else ""))
    for case, value in ours.items():
        row = f"{case:<{width}}  {value:9.1f}"
        if theirs:
            row += f"  {theirs[case]:9.1f}  {value / theirs[case]:6.2f}"
        print(row)


if __name__ == "__main__":
    main()
