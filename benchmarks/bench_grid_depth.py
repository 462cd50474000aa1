"""Depth-wise decay of the gradient in three deep recurrent models at L = 8.

For the 2D Grid LSTM (paper form, no priority), a stacked LSTM and a stacked
tanh RNN of the same width and depth, on random weights of matched scale
(every weight entry N(0, scale^2 / 2d), forget-gate bias 1) and the same
inputs, measure ``log10_norm_depth``: entry l is
``log10 ||dh^D_{T,L}/dh^D_{T,l}||_2`` at the last step, and report its
least-squares slope per layer (positive: the gradient shrinks going down).

Run from the repository root::

    python benchmarks/bench_grid_depth.py [--json] [--plot grid_depth.png]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from numeric.gridlstm.figures import COMPARED, compare_depth_flow, plot_depth_flow

LAYERS, HIDDEN, INPUT, STEPS = 8, 16, 4, 20
SCALES = (0.5, 1.0, 2.0)
SEEDS = range(5)


def measure() -> dict:
    """Slopes per model and scale, over seeds."""
    results = {}
    for scale in SCALES:
        slopes = {name: [] for name in COMPARED}
        for seed in SEEDS:
            maps = compare_depth_flow(HIDDEN, INPUT, LAYERS, STEPS, scale=scale, seed=seed)
            for name, flow in maps.items():
                slopes[name].append(flow.depth_slope)
        results[str(scale)] = {
            name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "slopes": v}
            for name, v in slopes.items()
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--plot", metavar="FILE", help="heat maps at scale 1, seed 0")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = measure()
    elapsed = time.perf_counter() - start
    if args.plot:
        maps = compare_depth_flow(HIDDEN, INPUT, LAYERS, STEPS, scale=1.0, seed=0)
        plot_depth_flow(
            args.plot, maps, f"d = {HIDDEN}, L = {LAYERS}, T = {STEPS}, weight scale 1, seed 0"
        )
    if args.json:
        print(json.dumps({"layers": LAYERS, "hidden": HIDDEN, "steps": STEPS, "results": results}))
        return 0
    print(
        f"depth decay of the top output's gradient, decades per layer (positive: smaller further "
        f"down), L = {LAYERS}, d = {HIDDEN}, T = {STEPS}, "
        f"{len(SEEDS)} seeds ({elapsed:.1f} s)"
    )
    print(f"{'scale':>6}  " + "  ".join(f"{COMPARED[n]:>22}" for n in COMPARED))
    for scale, row in results.items():
        cells = [f"{row[n]['mean']:+.3f} +- {row[n]['std']:.3f}" for n in COMPARED]
        print(f"{scale:>6}  " + "  ".join(f"{c:>22}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
