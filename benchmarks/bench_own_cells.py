"""Benchmark: the generic derivation of user cells, derived and verified.

For each worked cell of ``notebooks/own_cells.py`` (loaded as a user's
``file.py:function``): seconds to build the cell, to derive (structured
Jacobian blocks, chain, bound), and to verify every step (exact checks at
n = 2 and 3, numeric checks), and whether the unrolled chain got the exact
check or the numeric one only.  Also times the exact two-step chain check
that the generic derivation skips for gated cells, in a child process with a
time limit, to show why it is skipped.

Run: ``python benchmarks/bench_own_cells.py [--limit SECONDS]``.  Prints a
table; writes nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

from numeric.verify import verify
from symbolic import cell_derivations, family
from symbolic.derivation import ChainClaim, exact_chain_affordable

CELLS = Path(__file__).resolve().parents[1] / "notebooks" / "own_cells.py"
NAMES = ("indrnn", "mgu", "peephole_lstm", "antisymmetric_rnn")


def _exact_chain(name: str) -> None:
    ChainClaim(family(f"{CELLS}:{name}").cell()).check_exact()


def exact_chain_seconds(name: str, limit: float) -> float | None:
    """Seconds of the exact two-step chain check, or None past ``limit``."""
    process = mp.Process(target=_exact_chain, args=(name,))
    start = time.perf_counter()
    process.start()
    process.join(limit)
    if process.is_alive():
        process.terminate()
        process.join()
        return None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=float, default=120.0, help="seconds for the exact chain")
    limit = parser.parse_args().limit
    print(f"{'cell':<18} {'build':>7} {'derive':>7} {'verify':>8}  chain check   exact chain")
    for name in NAMES:
        start = time.perf_counter()
        cell = family(f"{CELLS}:{name}").cell()
        built = time.perf_counter() - start
        start = time.perf_counter()
        derivations = cell_derivations(cell)
        derived = time.perf_counter() - start
        start = time.perf_counter()
        passed = all(verify(d).passed for d in derivations)
        verified = time.perf_counter() - start
        kind = "exact+numeric" if exact_chain_affordable(cell) else "numeric only"
        seconds = exact_chain_seconds(name, limit)
        exact = f"> {limit:.0f} s" if seconds is None else f"{seconds:.1f} s"
        mark = "" if passed else "  FAILED"
        print(f"{name:<18} {built:7.2f} {derived:7.2f} {verified:8.2f}  {kind:<13} {exact}{mark}")


if __name__ == "__main__":
    main()
