import numpy as np

from numeric.sweep import crossing, decay_rates
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
