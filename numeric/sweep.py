"""Decay rate of gradient flow across weight scales: where vanishing stops.

For each target ``sigma_max(W_hh)`` and seed, draw random weights, run the
cell over random inputs and fit the decay rate of ``log10 ||ds_T/ds_{T-k}||_2``
per step.  The bound predicts a rate of at most ``log10(gamma sigma_max)``,
negative below ``gamma sigma_max = 1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from symbolic.cells import Cell

from .flow import decay_rate, gradient_flow
from .weights import random_inputs, random_params, random_state_dict, torch_weights

__all__ = ["decay_rates", "crossing"]


def decay_rates(
    cell: Cell,
    layout: str | None,
    scales: Sequence[float],
    *,
    steps: int,
    seeds: int,
    hidden: int = 0,
    input_size: int,
    init: str = "gaussian",
    sizes: dict[str, int] | None = None,
    input_scale: float = 1.0,
    progress: Callable[[int, int, float, int, float], None] | None = None,
) -> np.ndarray:
    """Measured decay rates, shape ``(len(scales), seeds)``, in decades per step.

    ``layout`` names a family with a PyTorch layout, whose random weights have
    ``sigma_max(weight_hh) = scale`` (:func:`numeric.weights.random_state_dict`);
    with None, every parameter of the cell is drawn at ``scale`` by
    :func:`numeric.weights.random_params` at the given ``sizes``.
    Inputs are standard normal times ``input_scale``; a small scale keeps
    tanh near its linear regime, where an orthogonal ``W`` makes the bound tight.
    ``progress(done, total, scale, seed, rate)`` is called after each run.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rates = decay_rates(elman_rnn("tanh"), "rnn", [0.5], steps=30, seeds=1, hidden=4,
    ...                     input_size=2, init="orthogonal")
    >>> bool(rates[0, 0] <= np.log10(0.5))
    True
    """
    rates = np.empty((len(scales), seeds))
    for i, scale in enumerate(scales):
        for seed in range(seeds):
            if layout is None:
                params = random_params(cell, sizes or {}, scale, seed)
            else:
                state = random_state_dict(layout, hidden, input_size, scale, seed, init)
                params = torch_weights(state, layout).params
            inputs = input_scale * random_inputs(steps, input_size, seed)
            flow = gradient_flow(cell, params, inputs)
            rates[i, seed] = decay_rate(flow.log10_norm)
            if progress is not None:
                progress(i * seeds + seed + 1, rates.size, float(scale), seed, rates[i, seed])
    return rates


def crossing(x: np.ndarray, y: np.ndarray) -> float | None:
    """First ``x`` where ``y`` turns from negative to non-negative (linear interpolation).

    Examples
    --------
    >>> crossing(np.array([0.5, 1.0, 1.5]), np.array([-0.2, -0.1, 0.1]))
    1.25
    """
    for i in range(1, len(x)):
        if y[i - 1] < 0 <= y[i]:
            return float(x[i - 1] + (x[i] - x[i - 1]) * -y[i - 1] / (y[i] - y[i - 1]))
    return None
