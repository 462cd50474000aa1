"""The memory and time estimate of a run, and its one-line refusal."""

import contextlib
import io
import subprocess
import sys
import tracemalloc

import pytest

from numeric import budget, flow
from numeric.budget import Cost, check_cost, depth_map_cost, flow_cost, spectrum_cost
from numeric.cli import main
from numeric.errors import GradproofInputError


def test_the_chunk_size_is_the_flow_engines():
    assert budget.CHUNK_BYTES == flow.CHUNK_BYTES


def _peak_bytes(argv):
    """Peak bytes NumPy and Python allocate while ``gradproof argv`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(argv) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _per_step(steps_a, steps_b, inputs):
    """Measured and estimated bytes per step of a JSON flow (the T-proportional part)."""
    main(["flow", "rnn", "--steps", "2", "--hidden", "2", "--input", str(inputs)])  # warm caches
    argv = ["flow", "rnn", "--hidden", "2", "--input", str(inputs), "--json", "--steps"]
    measured = (_peak_bytes([*argv, str(steps_b)]) - _peak_bytes([*argv, str(steps_a)])) / (
        steps_b - steps_a
    )
    params = 2 * (2 + inputs + 2)
    estimate = (
        flow_cost(steps_b, 2, inputs, params).bytes - flow_cost(steps_a, 2, inputs, params).bytes
    ) / (steps_b - steps_a)
    return measured, estimate


@pytest.mark.parametrize("inputs", [1, 32])
def test_the_estimate_bounds_the_memory_a_long_run_takes_per_step(inputs, monkeypatch):
    measured, estimate = _per_step(400, 2000, inputs)
    print(f"measured {measured:.0f}, estimated {estimate:.0f} bytes per step")
    assert 8 * inputs < measured <= estimate
    if inputs == 1:  # teeth: an estimate that forgot the JSON text and its pieces falls short
        monkeypatch.setattr(budget, "WORDS_PER_STEP", 4)
        assert measured > flow_cost(1, 2, inputs, 0).bytes - flow_cost(0, 2, inputs, 0).bytes


def test_the_estimate_bounds_the_memory_the_spectra_take_per_step(monkeypatch):
    argv = ["flow", "rnn", "--hidden", "8", "--input", "1", "--json", "--spectrum", "8"]
    main([*argv, "--steps", "2"])  # warm caches
    a, b = 300, 1500
    measured = (
        _peak_bytes([*argv, "--steps", str(b)]) - _peak_bytes([*argv, "--steps", str(a)])
    ) / (b - a)
    params = 8 * (8 + 1 + 2)

    def per_step():
        both = [flow_cost(s, 8, 1, params) + spectrum_cost(s, 8, 8) for s in (a, b)]
        return (both[1].bytes - both[0].bytes) / (b - a)

    print(f"measured {measured:.0f}, estimated {per_step():.0f} bytes per step")
    assert 8 * 8 < measured <= per_step()
    monkeypatch.setattr(budget, "WORDS_PER_ENTRY", 2)  # teeth: the JSON's pieces forgotten
    assert measured > per_step()


def test_costs_grow_with_every_size():
    base = flow_cost(100, 2000, 4, 1000)
    assert flow_cost(200, 2000, 4, 1000).bytes > base.bytes
    assert flow_cost(100, 4000, 4, 1000).bytes > 3 * base.bytes / 2  # the N^2 Jacobians
    assert flow_cost(100, 2000, 400, 1000).bytes > base.bytes
    assert flow_cost(100, 2000, 4, 10**9).bytes > 10**9
    assert flow_cost(100, 4000, 4, 1000).seconds > 7 * base.seconds  # 2 N^3 per step
    assert flow_cost(100, 2000, 4, 1000, runs=10).seconds == pytest.approx(10 * base.seconds)
    assert (base + depth_map_cost(100, 4, 16, 64)).bytes > base.bytes


def test_the_default_runs_are_far_inside_the_budget():
    check_cost(flow_cost(100, 32, 4, 1216), "flow", "lower --steps")
    sweep = flow_cost(200, 32, 4, 1216, runs=33)
    assert sweep.seconds < 10 and sweep.bytes < 2**30


def test_a_run_past_the_memory_is_one_line_with_both_amounts(monkeypatch):
    monkeypatch.setattr(budget, "available_memory", lambda: 4 * 10**9)
    with pytest.raises(GradproofInputError) as err:
        check_cost(Cost(5e12, 1.0), "a flow over 10 steps", "lower --steps")
    assert str(err.value) == (
        "a flow over 10 steps needs about 5 TB of memory, and 4 GB is available; lower --steps"
    )
    monkeypatch.setattr(budget, "available_memory", lambda: None)  # the system does not say
    check_cost(Cost(5e12, 1.0), "a flow over 10 steps", "lower --steps")


def test_a_run_past_the_time_limit_names_the_estimate():
    with pytest.raises(GradproofInputError, match=r"would take at least 3.17 years \(runs over"):
        check_cost(Cost(1.0, 1e8), "a sweep", "lower --seeds")


def test_an_address_space_limit_lowers_the_memory_available():
    script = (
        "import resource; from numeric.budget import available_memory; "
        "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30)); "
        "print(available_memory())"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert 0 <= int(done.stdout) < 3 * 2**30, done.stderr


def test_describe_amounts():
    assert budget.describe_bytes(999) == "999 bytes"
    assert budget.describe_bytes(2.5e6) == "2.5 MB"
    assert budget.describe_seconds(59) == "59 seconds"
    assert budget.describe_seconds(60) == "1 minute"
    assert budget.describe_seconds(86400 * 3) == "3 days"
