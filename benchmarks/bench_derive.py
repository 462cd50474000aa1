"""Benchmark: derive and verify the RNN chain dh_T/dh_0 at T = 5, 50, 500.

gradproof derives the step Jacobian once in closed form, re-indexes it T
times, checks it exactly against the elementwise Jacobian at n = 2 and 3, and
checks the whole chain numerically against central differences of the
compiled unrolled map.  The naive route unrolls the explicit SymPy cell T
times at n = 3 and calls ``Matrix.jacobian``; it runs in a child process with
a time limit.

Run: ``python benchmarks/bench_derive.py [--limit SECONDS]``.  Prints a table;
writes nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import sympy as sp

from numeric.verify import check_numeric
from symbolic.derivation import ChainClaim, JacobianClaim
from symbolic.jacobians import chain, step_jacobian
from symbolic.rnn import elman_rnn

HORIZONS = (5, 50, 500)


def gradproof_chain(T: int) -> tuple[float, float, bool]:
    """Seconds to derive, seconds to verify, and whether every check passed."""
    rnn = elman_rnn("tanh")
    start = time.perf_counter()
    c = chain(rnn, T, 0)
    product = c.product()
    derived = time.perf_counter() - start
    start = time.perf_counter()
    h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    template = step_jacobian(rnn)
    exact = JacobianClaim(rnn, h, h_prev, template).check_exact().passed
    reindexed = all(f == template.xreplace(rnn.at(T - i)) for i, f in enumerate(c.factors))
    numeric = check_numeric(ChainClaim(rnn, steps=T)).passed
    verified = time.perf_counter() - start
    assert len(product.args) == 2 * T
    return derived, verified, exact and reindexed and numeric


def naive_chain(T: int, n: int = 3) -> None:
    """Unroll the explicit cell T times and take SymPy's elementwise Jacobian."""
    W = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"w{i}{j}"))
    U = sp.Matrix(n, 1, lambda i, j: sp.Symbol(f"u{i}"))
    b = sp.Matrix(n, 1, lambda i, j: sp.Symbol(f"b{i}"))
    h0 = sp.Matrix(n, 1, lambda i, j: sp.Symbol(f"h{i}"))
    h = h0
    for t in range(T):
        h = (W * h + U * sp.Symbol(f"x{t}") + b).applyfunc(sp.tanh)
    h.jacobian(h0)


def timed_naive(T: int, limit: float) -> float | None:
    """Seconds the naive route takes, or None if it exceeds ``limit``."""
    process = mp.get_context("spawn").Process(target=naive_chain, args=(T,))
    start = time.perf_counter()
    process.start()
    process.join(limit)
    if process.is_alive():
        process.kill()
        process.join()
        return None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--limit", type=float, default=240.0, help="seconds allowed to the naive route"
    )
    args = parser.parse_args()
    print(f"{'T':>5} {'derive s':>10} {'verify s':>10} {'checks':>7} {'naive n=3 s':>14}")
    naive_alive = True
    naive: float | None
    for T in HORIZONS:
        derived, verified, ok = gradproof_chain(T)
        if naive_alive:
            naive = timed_naive(T, args.limit)
            naive_alive = naive is not None
            shown = f"> {args.limit:g}" if naive is None else f"{naive:.2f}"
        else:
            shown = "not run"  # a shorter horizon already exceeded the limit
        shown = f"{shown:>14}"
        print(f"{T:>5} {derived:10.3f} {verified:10.3f} {str(ok):>7} {shown}")


if __name__ == "__main__":
    main()
