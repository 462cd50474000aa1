"""Memory and time a gradient-flow run needs, estimated from its sizes before it starts.

A run of :func:`numeric.flow.gradient_flow` over ``T`` steps of a cell with a
state of ``N`` numbers, ``M`` inputs per step and ``P`` parameters holds

- ``T`` inputs of ``M`` numbers and, per step, the norm, its copies (fit,
  JSON, plot) and checkpointed states: :data:`WORDS_PER_STEP` numbers plus
  ``2 M``;
- the parameters, :data:`PARAM_COPIES` times (drawn, sliced, compiled);
- the step Jacobians, one chunk of :data:`numeric.flow.CHUNK_BYTES` or one
  ``N x N`` matrix if larger, and the running product: :data:`MATRIX_COPIES`
  times that;

all in float64, 8 bytes a number.  A step costs one ``N x N`` by ``N x N``
product, ``2 N^3`` floating-point operations, plus fixed work in Python.
The spectra of ``flow --spectrum K`` (:func:`spectrum_cost`) cost about
:data:`SPECTRUM_OPS` ``N^3`` a step more, and hold ``T K`` numbers; the
time-by-layer map of a stacked network (:func:`stack_map_cost`) holds its
``T + 1`` states.
The time is a lower bound: the rates below (:data:`FLOPS`,
:data:`STEP_SECONDS`, :data:`RUN_SECONDS`) are about four times faster
than measured on a 2-core machine, so a run is refused only when even that
machine could not finish it within :data:`TIME_LIMIT`.

:func:`check_cost` refuses, in one line, a run that needs more memory than
the machine has free (:func:`available_memory`) or more time than the limit,
saying how much and what to lower.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import GradproofInputError

__all__ = [
    "Cost",
    "available_memory",
    "check_cost",
    "describe_bytes",
    "depth_map_cost",
    "describe_seconds",
    "flow_cost",
    "spectrum_cost",
    "stack_map_cost",
]

#: Numbers kept per step besides the inputs: the norms and their copies, checkpoints, and the
#: JSON text with the encoder's pieces (about 33 measured with --json).
WORDS_PER_STEP = 48
#: Copies of the parameters alive at once.
PARAM_COPIES = 3
#: Matrices of the step Jacobians' size alive at once (chunk, temporaries, product).
MATRIX_COPIES = 4
#: Bytes of step Jacobians built at once: :data:`numeric.flow.CHUNK_BYTES` (the tests keep
#: them equal; this module imports nothing heavy, so that loaders can use it).
CHUNK_BYTES = 16 * 2**20
#: Floating-point operations per step of the singular values, in units of ``N^3``: a QR
#: (4/3), two ``N x N`` products (2 + 2) and a values-only SVD (8/3) of size ``N``.
SPECTRUM_OPS = 8.0
#: Numbers kept per entry of the ``T x K`` singular values: the array, the JSON's pieces and
#: text (about 18 measured with --json).
WORDS_PER_ENTRY = 24
#: Bytes kept per run of a sweep (its rate, bound and their copies).
RUN_BYTES = 64
#: Floating-point operations per second, an upper bound for 2 cores.
FLOPS = 2e10
#: Python work per step of the flow engine, a lower bound, in seconds.
STEP_SECONDS = 5e-5
#: Work per run of a sweep (weights drawn, the bound evaluated), a lower bound, in seconds.
RUN_SECONDS = 5e-3
#: Longest estimated run that is started, in seconds.
TIME_LIMIT = 3600.0


@dataclass(frozen=True)
class Cost:
    """Bytes a run holds at its peak and seconds it takes at least."""

    bytes: float
    seconds: float

    def __add__(self, other: Cost) -> Cost:
        """Two parts of one run: the memories add up (an upper bound), the times too."""
        return Cost(self.bytes + other.bytes, self.seconds + other.seconds)


def flow_cost(steps: int, state: int, inputs: int, params: int, runs: int = 1) -> Cost:
    """The cost of ``runs`` runs of the flow engine, one after the other.

    Parameters
    ----------
    steps : int
        Horizon ``T`` of each run.
    state : int
        Numbers ``N`` in the state.
    inputs : int
        Numbers ``M`` in one step's input.
    params : int
        Numbers in the parameters.
    runs : int
        Runs one after the other (a sweep's scales times seeds); memory is
        one run's plus :data:`RUN_BYTES` per run.

    Examples
    --------
    The defaults of ``gradproof flow rnn``: 100 steps, hidden 32, input 4.

    >>> cost = flow_cost(100, 32, 4, 32 * (32 + 4 + 2))
    >>> describe_bytes(cost.bytes), describe_seconds(cost.seconds)
    ('67.2 MB', '0.0103 seconds')
    >>> describe_bytes(flow_cost(10**12, 32, 4, 1216).bytes)
    '448 TB'
    """
    steps, state, inputs, params, runs = map(float, (steps, state, inputs, params, runs))
    per_run = 8 * (
        steps * (WORDS_PER_STEP + 2 * inputs)
        + PARAM_COPIES * params
        + MATRIX_COPIES * max(CHUNK_BYTES / 8, state**2)
    )
    step = STEP_SECONDS + 2 * state**3 / FLOPS
    return Cost(per_run + RUN_BYTES * runs, runs * (RUN_SECONDS + steps * step))


def spectrum_cost(steps: int, state: int, count: int) -> Cost:
    """The extra cost of ``flow --spectrum K``: ``K`` singular values for every k, ``K`` exponents.

    The singular values (:func:`numeric.singular_values.log10_singular_values`)
    carry ``N x N`` factors through a QR, two products and an SVD each step;
    the Lyapunov exponents (:func:`numeric.lyapunov.lyapunov_exponents`) an
    ``N x K`` basis through one product and a QR; both rebuild the step
    Jacobians chunk by chunk, as the flow does.

    Examples
    --------
    >>> cost = spectrum_cost(1000, 256, 8)
    >>> describe_bytes(cost.bytes), describe_seconds(cost.seconds)
    ('23.6 MB', '6.87 seconds')
    """
    steps, state, count = map(float, (steps, state, count))
    kept = 8 * (steps * count * WORDS_PER_ENTRY + (6 + MATRIX_COPIES) * state**2)
    ops = SPECTRUM_OPS * state**3 + 2 * state**2 * count + 4 * state * count**2
    return Cost(kept + CHUNK_BYTES, steps * (2 * STEP_SECONDS + ops / FLOPS))


def stack_map_cost(steps: int, state: int, layers: int, hidden: int) -> Cost:
    """The cost of a stacked network's time-by-layer map (:func:`numeric.stack_depth.time_depth_map`).

    It keeps the ``T + 1`` stacked states and the ``T x L`` map, and on the
    way back multiplies a ``hidden x n`` adjoint by each layer's ``n x n``
    step Jacobian, ``n = state / layers``.

    Examples
    --------
    >>> cost = stack_map_cost(1000, 256, 2, 64)
    >>> describe_bytes(cost.bytes), cost.seconds < 1
    ('52.4 MB', True)
    """
    steps, state, layers, hidden = map(float, (steps, state, layers, hidden))
    kept = 8 * steps * (state + 2 * layers)
    step = layers * (STEP_SECONDS + 2 * hidden * (state / layers) ** 2 / FLOPS)
    return Cost(kept + 3 * CHUNK_BYTES, steps * step)


def depth_map_cost(steps: int, layers: int, hidden: int, block: int) -> Cost:
    """The cost of the Grid LSTM's (t, l) map (:func:`numeric.gridlstm.flows.depth_flow_map`).

    It keeps one ``block x block`` Jacobian per block of the grid, ``block``
    the numbers a block reads and writes, and multiplies each by a
    ``hidden x block`` adjoint on the way back.

    Examples
    --------
    >>> cost = depth_map_cost(20, 4, 16, 64)
    >>> describe_bytes(cost.bytes), cost.seconds < 1
    ('2.62 MB', True)
    """
    steps, layers, hidden, block = map(float, (steps, layers, hidden, block))
    blocks = steps * layers
    return Cost(8 * blocks * block**2, blocks * (STEP_SECONDS + 2 * hidden * block**2 / FLOPS))


def _meminfo(key: str) -> int | None:
    """A ``kB`` field of ``/proc/meminfo`` (or ``/proc/self/status``) in bytes."""
    for source in ("/proc/meminfo", "/proc/self/status"):
        try:
            with open(source) as lines:
                for line in lines:
                    name, _, value = line.partition(":")
                    if name == key:
                        return int(value.split()[0]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return None


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where the system does not say.

    The kernel's estimate of memory available without swapping
    (``MemAvailable``), else the free physical pages; less, if an
    address-space limit (``ulimit -v``) leaves less.

    Examples
    --------
    >>> free = available_memory()
    >>> free is None or free > 0
    True
    """
    free = _meminfo("MemAvailable")
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            free = None
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    except (ImportError, OSError, ValueError):
        limit = -1
    if limit not in (-1, getattr(resource, "RLIM_INFINITY", -1)):
        left = max(0, limit - (_meminfo("VmSize") or 0))
        free = left if free is None else min(free, left)
    return free


def _amount(value: float, unit: str) -> str:
    shown = f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    return f"{shown} {unit[:-1] if shown == '1' and unit.endswith('s') else unit}"


def describe_bytes(count: float) -> str:
    """Bytes in the largest decimal unit (kB = 1000 bytes) that keeps the number at 1 or more.

    Examples
    --------
    >>> describe_bytes(512), describe_bytes(1.5e9), describe_bytes(1.6e14), describe_bytes(3e21)
    ('512 bytes', '1.5 GB', '160 TB', '3,000,000 PB')
    """
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    power = min(len(units) - 1, max(0, int(math.log10(max(count, 1)) // 3)))
    return _amount(count / 1000**power, units[power])


def describe_seconds(seconds: float) -> str:
    """A duration in the largest unit of seconds, minutes, hours, days or years that fits.

    Examples
    --------
    >>> describe_seconds(42), describe_seconds(3600), describe_seconds(3.2e7 * 300)
    ('42 seconds', '1 hour', '304 years')
    """
    for unit, size in (
        ("years", 365.25 * 86400),
        ("days", 86400),
        ("hours", 3600),
        ("minutes", 60),
    ):
        if seconds >= size:
            return _amount(seconds / size, unit)
    return _amount(seconds, "seconds")


def check_cost(cost: Cost, what: str, shrink: str) -> None:
    """Refuse, in one line, a run that does not fit in memory or in :data:`TIME_LIMIT`.

    ``what`` names the run ("flow over 100 steps, state of 32 numbers"),
    ``shrink`` says what to lower ("lower --steps or --hidden").

    Examples
    --------
    >>> check_cost(Cost(2**20, 1.0), "flow", "lower --steps")
    >>> check_cost(Cost(1e18, 1.0), "flow", "lower --steps")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: flow needs about 1,000 PB of memory, and ... is available; lower --steps
    >>> check_cost(Cost(2**20, 7200.0), "sweep", "lower --seeds")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: sweep would take at least 2 hours (runs over 1 hour are not started); lower --seeds
    """
    free = available_memory()
    if free is not None and cost.bytes > free:
        raise GradproofInputError(
            f"{what} needs about {describe_bytes(cost.bytes)} of memory, and "
            f"{describe_bytes(free)} is available; {shrink}"
        )
    if cost.seconds > TIME_LIMIT:
        raise GradproofInputError(
            f"{what} would take at least {describe_seconds(cost.seconds)} (runs over "
            f"{describe_seconds(TIME_LIMIT)} are not started); {shrink}"
        )
