"""Cost of measuring a stacked network: a 2-layer LSTM, H = 64, T = 1000.

The stacked state is ``[h; c]`` of both layers, N = 256.  Timed separately,
each the minimum over ``--repeat`` runs:

- ``flow``: ``log10 ||ds_T/ds_{T-k}||_2`` for every k (norms-only mode);
- ``depth map``: ``log10 ||dh^{(1)}_T/dh^{(l)}_t||_2`` over the (t, l) grid;
- ``singular values``: the K largest singular values of ``ds_T/ds_{T-k}``
  for every k (graded QR product, one N x N QR and a small SVD per step);
- ``lyapunov (K)`` and ``lyapunov (all N)``: QR exponents of the forward
  Jacobians, with an N x K or N x N basis.

Run from the repository root::

    python benchmarks/bench_stack.py [--steps T] [--spectrum K] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

from numeric.flow import gradient_flow
from numeric.lyapunov import lyapunov_exponents
from numeric.singular_values import log10_singular_values
from numeric.stack import torch_stack
from numeric.stack_depth import time_depth_map
from numeric.weights import random_inputs, random_state_dict

HIDDEN, INPUT, LAYERS = 64, 8, 2


def lstm_stack(seed: int = 0):
    """A 2-layer stack with PyTorch names, ``sigma_max(weight_hh) = 1`` in each layer."""
    state = {}
    for layer in range(LAYERS):
        width = INPUT if layer == 0 else HIDDEN
        weights = random_state_dict("lstm", HIDDEN, width, scale=1.0, seed=seed + layer)
        state.update({f"{key}_l{layer}": value for key, value in weights.items()})
    return torch_stack(state, "lstm")


def _best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(steps: int, spectrum: int, repeat: int) -> dict:
    stack = lstm_stack()
    inputs = random_inputs(steps, INPUT, seed=0)
    gradient_flow(stack, {}, inputs[:2])  # compile outside the timing
    log10_singular_values(stack, {}, inputs[:2], count=1)
    runs = {
        "flow": lambda: gradient_flow(stack, {}, inputs),
        "depth map": lambda: time_depth_map(stack, inputs),
        "singular values": lambda: log10_singular_values(stack, {}, inputs, count=spectrum),
        "lyapunov (K)": lambda: lyapunov_exponents(stack, {}, inputs, count=spectrum),
        "lyapunov (all N)": lambda: lyapunov_exponents(stack, {}, inputs),
    }
    seconds = {name: _best(run, repeat) for name, run in runs.items()}
    return {
        "hidden": HIDDEN,
        "layers": LAYERS,
        "state_size": stack.state_size,
        "steps": steps,
        "spectrum": spectrum,
        "repeat": repeat,
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="horizon T (default 1000)")
    parser.add_argument("--spectrum", type=int, default=8, help="K (default 8)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing, minimum kept")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    results = measure(args.steps, args.spectrum, args.repeat)
    if args.json:
        print(json.dumps(results))
        return 0
    print(
        f"2-layer LSTM, H = {HIDDEN}, stacked state N = {results['state_size']}, "
        f"T = {args.steps}, K = {args.spectrum}, best of {args.repeat}"
    )
    flow = results["seconds"]["flow"]
    for name, seconds in results["seconds"].items():
        print(f"{name:>18}: {seconds:7.2f} s  ({seconds / flow:5.1f} x flow)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
