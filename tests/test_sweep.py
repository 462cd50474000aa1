import numpy as np
import pytest

from numeric.errors import GradproofInputError
from numeric.sweep import crossing, decay_rates, sweep_params
from symbolic.rnn import elman_rnn


def test_measured_rates_never_exceed_the_bound_rate_and_grow_with_scale():
    scales = np.array([0.5, 1.0, 1.5])
    rates = decay_rates(
        elman_rnn("tanh"),
        "rnn",
        scales,
        steps=60,
        seeds=2,
        hidden=8,
        input_size=2,
        init="orthogonal",
        input_scale=0.05,
    )
    assert rates.shape == (3, 2)
    assert np.all(rates <= np.log10(scales)[:, None] + 1e-9)
    assert np.all(np.diff(rates.mean(axis=1)) > 0)


def test_progress_is_reported_once_per_run():
    seen = []
    decay_rates(
        elman_rnn("tanh"),
        "rnn",
        [0.9, 1.1],
        steps=5,
        seeds=2,
        hidden=3,
        input_size=1,
        progress=lambda done, total, *_: seen.append((done, total)),
    )
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_crossing_interpolates_the_first_sign_change_only():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert crossing(x, np.array([-1.0, 1.0, -1.0, 1.0])) == 0.5
    assert crossing(x, np.array([-1.0, -1.0, -1.0, -1.0])) is None


def _sign_change(scales, rates):
    """The grid interval where the mean rate turns from negative to non-negative, or None."""
    mean = rates.mean(axis=1)
    for i in range(1, len(scales)):
        if mean[i - 1] < 0 <= mean[i]:
            return scales[i - 1], scales[i]
    return None


def test_at_the_origin_the_rate_is_the_bounds_and_changes_sign_at_one():
    # No input and no biases: a tanh state stays at 0, every step Jacobian is W,
    # and ||W^k||_2 = sigma_max^k for an orthogonal W.  The grid avoids 1 itself.
    scales = np.linspace(0.75, 1.25, 6)
    origin = {"init": "orthogonal", "input_scale": 0.0, "bias_scale": 0.0}
    common = {"steps": 30, "seeds": 2, "hidden": 6, "input_size": 2}
    rates = decay_rates(elman_rnn("tanh"), "rnn", scales, **common, **origin)
    np.testing.assert_allclose(rates, np.repeat(np.log10(scales)[:, None], 2, axis=1), atol=1e-12)
    low, high = _sign_change(scales, rates)
    assert low < 1 < high and high - low < 0.11
    # teeth: the default draw (Gaussian W_hh, standard-normal inputs, random
    # biases) saturates the units and never changes sign in this range
    saturating = decay_rates(elman_rnn("tanh"), "rnn", scales, **common)
    assert _sign_change(scales, saturating) is None
    assert np.all(saturating < np.log10(scales)[:, None])
    # with W_hh orthogonal, inputs alone, biases alone or both move the state off
    # the origin: the rate falls below the bound's and changes sign above 1, if at all
    for partly in ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0)):
        rates = decay_rates(
            elman_rnn("tanh"),
            "rnn",
            scales,
            **common,
            init="orthogonal",
            input_scale=partly[0],
            bias_scale=partly[1],
        )
        assert np.all(rates < np.log10(scales)[:, None] - 1e-3)
        change = _sign_change(scales, rates)
        assert change is None or change[0] > 1, partly


def test_sweep_params_scales_the_biases_and_refuses_them_for_cells_keyed_by_name():
    cell = elman_rnn("tanh")
    full = sweep_params(cell, "rnn", 0.8, 1, hidden=4, input_size=2)
    half = sweep_params(cell, "rnn", 0.8, 1, hidden=4, input_size=2, bias_scale=0.5)
    np.testing.assert_array_equal(half["b"], 0.5 * full["b"])
    np.testing.assert_array_equal(half["W"], full["W"])
    assert np.any(full["b"] != 0)
    by_name = sweep_params(cell, None, 0.8, 1, sizes={"n": 3, "m": 2})
    assert set(by_name) == {"W", "U", "b"}
    with pytest.raises(GradproofInputError, match="--bias-scale scales the biases"):
        sweep_params(cell, None, 0.8, 1, sizes={"n": 3, "m": 2}, bias_scale=0.0)
    for bad in (-1.0, float("nan")):
        with pytest.raises(GradproofInputError, match="--bias-scale must be a non-negative"):
            sweep_params(cell, "rnn", 0.8, 1, hidden=4, input_size=2, bias_scale=bad)
        with pytest.raises(GradproofInputError, match="--input-scale must be a non-negative"):
            decay_rates(
                cell, "rnn", [1.0], steps=3, seeds=1, hidden=2, input_size=1, input_scale=bad
            )


@pytest.mark.parametrize("option", ["input_scale", "bias_scale"])
def test_a_scale_that_overflows_float64_is_refused_by_its_option_name(option):
    flag = "--" + option.replace("_", "-")
    with pytest.raises(
        GradproofInputError, match=f"{flag} 1.7e\\+308 makes the drawn values overflow"
    ):
        decay_rates(
            elman_rnn("tanh"),
            "rnn",
            [0.5],
            steps=20,
            seeds=1,
            hidden=8,
            input_size=1,
            **{option: 1.7e308},
        )
    # Just below overflow, the same option runs (the state saturates, no warning).
    rates = decay_rates(
        elman_rnn("tanh"), "rnn", [0.5], steps=3, seeds=1, hidden=2, input_size=1, **{option: 1e300}
    )
    assert rates.shape == (1, 1)
