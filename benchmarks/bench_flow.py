"""Benchmark of the flow engine: speed against plain NumPy (and PyTorch), memory at scale.

Run ``python benchmarks/bench_flow.py``.  It prints one table and writes
nothing.  Cases:

- compile: ``compile_cell`` for the tanh Elman RNN at n = 256, cold (first
  call in the process, lambdify included) and cached;
- memory: norms-only flow at T = 10,000, n = 512, peak traced allocation
  (``tracemalloc``) and the process's peak RSS, against a 1 GiB budget;
- speed: the whole curve ``log10 ||ds_T/ds_{T-k}||_2``, k = 1..1000, at
  n = 256 in float64, against a straightforward NumPy script (store the
  1000 step Jacobians, multiply, ``numpy.linalg.norm(P, 2)`` per k) and,
  where installed, ``torch.autograd.functional.jacobian`` per step with
  ``torch.linalg.matrix_norm(P, 2)``, all on the same network in one run.

The speed case uses an orthogonal ``W_hh`` (sigma_max = 1) so the plain
products stay inside float64 over 1000 steps and the three curves can be
compared value by value.
"""

from __future__ import annotations

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


def bench_memory(T: int, n: int, m: int) -> list[tuple[str, str, str]]:
    tw = torch_weights(random_state_dict("rnn", n, m, 1.0, seed=0))
    inputs = random_inputs(T, m, seed=0)
    gradient_flow(elman_rnn("tanh"), tw.params, inputs[:2])
    tracemalloc.start()
    flow, seconds = _timed(lambda: gradient_flow(elman_rnn("tanh"), tw.params, inputs))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    verdict = "within" if max(peak, rss) < GiB else "OVER"
    return [
        (
            f"norms-only flow T={T}, n={n}",
            f"{seconds:.1f}",
            f"peak traced {peak / 2**20:.0f} MiB, process max RSS {rss / 2**20:.0f} MiB: "
            f"{verdict} 1 GiB; log10 norm at k=T {flow.log10_norm[-1]:.1f}",
        )
    ]


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


def bench_speed(T: int, n: int, m: int) -> list[tuple[str, str, str]]:
    state = random_state_dict("rnn", n, m, 1.0, seed=1, init="orthogonal")
    tw = torch_weights(state)
    inputs = random_inputs(T, m, seed=1)
    cc = compile_cell(elman_rnn("tanh"), n=n, m=m)
    ours, t_ours = _timed(lambda: gradient_flow(cc, tw.params, inputs).log10_norm)
    plain, t_plain = _timed(lambda: _numpy_curve(tw.params, inputs))
    rows = [
        (f"curve T={T}, n={n}: gradproof", f"{t_ours:.2f}", f"log10 norm at k=T {ours[-1]:.2f}"),
        (
            f"curve T={T}, n={n}: NumPy product + norm(P, 2)",
            f"{t_plain:.2f}",
            f"gradproof {t_plain / t_ours:.1f}x faster; "
            f"max |diff| {np.max(np.abs(ours - plain)):.1e} decades",
        ),
    ]
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
    rows = [*bench_compile(256, 8), *bench_memory(10_000, 512, 8), *bench_speed(1000, 256, 8)]
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'seconds':>9}  notes")
    for case, seconds, notes in rows:
        print(f"{case:<{width}}  {seconds:>9}  {notes}")


if __name__ == "__main__":
    main()
