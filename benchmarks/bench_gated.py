"""Gradient flow of the tanh RNN, LSTM and GRU at n = 64, T = 200, matched sigma_max(W_hh).

Run ``python benchmarks/bench_gated.py``.  It prints one table and writes
nothing: for each ``sigma_max`` of PyTorch's stacked recurrent matrix
``weight_hh`` and each cell, the measured ``log10 ||ds_T/ds_0||_2`` over the
full state for three seeds (weights and standard-normal inputs), from
:func:`numeric.gated_flow.gated_flows`, and the seconds the three runs took.
"""

from __future__ import annotations

import time

import numpy as np

from numeric.gated_flow import GATED_FLOW_CELLS, gated_flows

HIDDEN, STEPS, SEEDS = 64, 200, (0, 1, 2)
SCALES = (0.5, 1.0, 2.0, 4.0)


def main() -> None:
    labels = list(GATED_FLOW_CELLS)
    print(f"log10 ||ds_T/ds_0||_2 at n = {HIDDEN}, T = {STEPS}, seeds {SEEDS} (mean [min, max])")
    width = max(len(label) for label in labels)
    print(f"{'sigma_max(W_hh)':>15}  {'cell':<{width}}  {'log10 norm':>24}  seconds")
    for scale in SCALES:
        start = time.perf_counter()
        runs = [gated_flows(HIDDEN, STEPS, scale, seed) for seed in SEEDS]
        seconds = time.perf_counter() - start
        for label in labels:
            final = np.array([run[label][-1] for run in runs])
            summary = f"{final.mean():7.1f} [{final.min():6.1f}, {final.max():6.1f}]"
            print(f"{scale:>15g}  {label:<{width}}  {summary:>24}  {seconds:7.1f}")


if __name__ == "__main__":
    main()
