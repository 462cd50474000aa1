"""Benchmark of the flow engine: speed against the BLAS floor, plain NumPy and PyTorch; memory.

Run ``python benchmarks/bench_flow.py [--repeat R] [--case memory|speed]``.
It prints one table and writes nothing.  Cases:

- compile: ``compile_cell`` for the tanh Elman RNN at n = 256, cold (first
  call in the process, lambdify included) and cached;
- memory: norms-only flow at T = 10,000, n = 512, peak traced allocation
  (``tracemalloc``) and the process's peak RSS, against a 1 GiB budget;
- speed: the whole curve ``log10 ||ds_T/ds_{T-k}||_2``, k = 1..1000, at
  n = 256 in float64, against a straightforward NumPy script (store the
  1000 step Jacobians, multiply, ``numpy.linalg.norm(P, 2)`` per k) and,
  where installed, ``torch.autograd.functional.jacobian`` per step with
  ``torch.linalg.matrix_norm(P, 2)``, all on the same network in one run.

The floor of both flow cases is measured in the same run: T products of two
random n x n matrices with ``numpy.matmul`` (the one product per step the
curve cannot do without).  Every flow figure is printed as a ratio to it,
and the time the cell's own calls took (``step``, and ``jacobian_factors``
or ``jacobian``) is split out.
Each timing is the minimum over ``--repeat`` runs, the floor interleaved
with the flow so that both see the same machine load; the median ratio of
each flow run to the floor run just before it is printed too, with the
smallest and largest of those ratios: their spread is the machine's noise.

The speed case uses an orthogonal ``W_hh`` (sigma_max = 1) so the plain
products stay inside float64 over 1000 steps and the three curves can be
compared value by value.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from numeric.compile import compile_cell
from numeric.flow import gradient_flow
from numeric.weights import random_inputs, random_state_dict, torch_weights
from symbolic.rnn import elman_rnn

GiB = 2**30


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def floor(T: int, n: int) -> float:
    """Seconds for ``T`` products of two random ``n x n`` float64 matrices."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    out = np.empty((n, n))
    start = time.perf_counter()
    for _ in range(T):
        np.matmul(a, b, out=out)
    return time.perf_counter() - start


class _CellClock:
    """A compiled cell that adds up the seconds its ``step`` and Jacobian calls take."""

    def __init__(self, model) -> None:
        self.model, self.seconds = model, 0.0
        self.state_size = model.state_size

    def step(self, s, x, params):
        out, seconds = _timed(lambda: self.model.step(s, x, params))
        self.seconds += seconds
        return out

    def jacobian(self, s, x, params):
        out, seconds = _timed(lambda: self.model.jacobian(s, x, params))
        self.seconds += seconds
        return out

    def jacobian_factors(self, s, x, params):
        factors = getattr(self.model, "jacobian_factors", None)
        out, seconds = _timed(lambda: None if factors is None else factors(s, x, params))
        self.seconds += seconds
        return out


def _flow_rows(label, run, T, n, repeat) -> tuple[list[tuple[str, str, str]], np.ndarray, float]:
    """Rows for one flow case: its time, the floor, and the cell's share; min over repeats.

    Also the median over repeats of the flow's time over the floor measured
    just before it: on a shared machine, steadier than the ratio of minima.
    """
    best = cell = base = np.inf
    pairs = []
    for _ in range(repeat):
        this_floor = floor(T, n)
        base = min(base, this_floor)
        (logs, clock), seconds = _timed(run)
        pairs.append(seconds / this_floor)
        if seconds < best:
            best, cell = seconds, clock.seconds
    rows = [
        (f"floor: {T} products of {n}x{n} (numpy.matmul)", f"{base:.2f}", "1.00x"),
        (
            label,
            f"{best:.2f}",
            f"{best / base:.2f}x floor (back to back: median {np.median(pairs):.2f}x, "
            f"{min(pairs):.2f}x to {max(pairs):.2f}x); "
            f"cell calls {cell:.2f} s ({cell / base:.2f}x floor), "
            f"engine {(best - cell) / base:.2f}x floor",
        ),
    ]
    return rows, logs, best


def bench_compile(n: int, m: int) -> list[tuple[str, str, str]]:
    params = {"W": np.eye(n), "U": np.zeros((n, m)), "b": np.zeros(n)}
    s, x = np.zeros(n), np.zeros(m)
    cell = elman_rnn("tanh")

    def compile_and_step():
        # The lambdify runs on first use, so one (microsecond) step is included.
        compile_cell(cell, n=n, m=m).step(s, x, params)

    _, cold = _timed(compile_and_step)
    _, cached = _timed(compile_and_step)
    return [
        (f"compile tanh RNN n={n}, cold", f"{cold:.4f}", "first call in the process"),
        (f"compile tanh RNN n={n}, cached", f"{cached:.6f}", f"{cold / cached:.0f}x faster"),
    ]


def bench_memory(T: int, n: int, m: int, repeat: int) -> list[tuple[str, str, str]]:
    tw = torch_weights(random_state_dict("rnn", n, m, 1.0, seed=0))
    inputs = random_inputs(T, m, seed=0)
    cc = compile_cell(elman_rnn("tanh"), n=n, m=m)
    gradient_flow(cc, tw.params, inputs[:2])
    tracemalloc.start()
    gradient_flow(cc, tw.params, inputs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux

    def run():
        clock = _CellClock(cc)
        return gradient_flow(clock, tw.params, inputs).log10_norm, clock

    rows, logs, _ = _flow_rows(f"norms-only flow T={T}, n={n}", run, T, n, repeat)
    verdict = "within" if max(peak, rss) < GiB else "OVER"
    rows.append(
        (
            f"norms-only flow T={T}, n={n}: memory",
            "-",
            f"peak traced {peak / 2**20:.0f} MiB, process max RSS {rss / 2**20:.0f} MiB: "
            f"{verdict} 1 GiB; log10 norm at k=T {logs[-1]:.1f}",
        )
    )
    return rows


def _numpy_curve(params: dict, inputs: np.ndarray) -> np.ndarray:
    W, U, b = params["W"], params["U"], params["b"]
    h = np.zeros(len(W))
    jacobians = []
    for x in inputs:
        h = np.tanh(W @ h + U @ x + b)
        jacobians.append((1 - h**2)[:, None] * W)
    P = np.eye(len(W))
    logs = []
    for J in reversed(jacobians):
        P = P @ J
        logs.append(np.log10(np.linalg.norm(P, 2)))
    return np.array(logs)


def _torch_curve(state: dict, inputs: np.ndarray) -> np.ndarray | None:
    try:
        import torch
    except ImportError:
        return None
    n, m = state["weight_hh"].shape[0], inputs.shape[1]
    cell = torch.nn.RNNCell(m, n, dtype=torch.float64)
    cell.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    xs = torch.as_tensor(inputs)
    with torch.no_grad():
        hs = [torch.zeros(n, dtype=torch.float64)]
        for x in xs:
            hs.append(cell(x, hs[-1]))
    P = torch.eye(n, dtype=torch.float64)
    logs = []
    for t in range(len(xs), 0, -1):
        J = torch.autograd.functional.jacobian(
            lambda h, x=xs[t - 1]: cell(x, h), hs[t - 1], vectorize=True
        )
        P = P @ J
        logs.append(torch.log10(torch.linalg.matrix_norm(P, ord=2)).item())
    return np.array(logs)


def bench_speed(T: int, n: int, m: int, repeat: int) -> list[tuple[str, str, str]]:
    state = random_state_dict("rnn", n, m, 1.0, seed=1, init="orthogonal")
    tw = torch_weights(state)
    inputs = random_inputs(T, m, seed=1)
    cc = compile_cell(elman_rnn("tanh"), n=n, m=m)

    def run():
        clock = _CellClock(cc)
        return gradient_flow(clock, tw.params, inputs).log10_norm, clock

    rows, ours, t_ours = _flow_rows(f"curve T={T}, n={n}: gradproof", run, T, n, repeat)
    plain, t_plain = _timed(lambda: _numpy_curve(tw.params, inputs))
    rows.append(
        (
            f"curve T={T}, n={n}: NumPy product + norm(P, 2)",
            f"{t_plain:.2f}",
            f"gradproof {t_plain / t_ours:.1f}x faster; "
            f"max |diff| {np.max(np.abs(ours - plain)):.1e} decades",
        )
    )
    torch_logs, t_torch = _timed(lambda: _torch_curve(state, inputs))
    if torch_logs is None:
        rows.append((f"curve T={T}, n={n}: torch autograd", "-", "torch not installed"))
    else:
        rows.append(
            (
                f"curve T={T}, n={n}: torch autograd jacobian + matrix_norm",
                f"{t_torch:.2f}",
                f"gradproof {t_torch / t_ours:.1f}x faster; "
                f"max |diff| {np.max(np.abs(ours - torch_logs)):.1e} decades",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (minimum kept)")
    parser.add_argument(
        "--case",
        choices=["all", "memory", "speed"],
        default="all",
        help="run only the memory case (about 10 minutes) or only the speed case (about 1)",
    )
    args = parser.parse_args()
    rows = bench_compile(256, 8)
    if args.case in ("all", "memory"):
        rows += bench_memory(10_000, 512, 8, args.repeat)
    if args.case in ("all", "speed"):
        rows += bench_speed(1000, 256, 8, args.repeat)
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'seconds':>9}  notes")
    for case, seconds, notes in rows:
        print(f"{case:<{width}}  {seconds:>9}  {notes}")


if __name__ == "__main__":
    main()
