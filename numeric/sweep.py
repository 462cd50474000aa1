"""Decay rate of gradient flow across weight scales: where vanishing stops.

For each target ``sigma_max(W_hh)`` and seed, draw random weights, run the
cell over random inputs and fit the decay rate of ``log10 ||ds_T/ds_{T-k}||_2``
per step.  The bound predicts a rate of at most ``log10(gamma sigma_max)``,
negative below ``gamma sigma_max = 1``.

Where the rate crosses 0 depends on where the state goes.  With inputs and
biases scaled to 0 a tanh network stays at the origin, where ``tanh' = 1``
and every step Jacobian is ``W`` itself; an orthogonal ``W`` scaled to
``sigma_max`` then has ``||W^k||_2 = sigma_max^k``, the measured rate equals
the bound's and crosses 0 at ``gamma sigma_max = 1``.  Inputs and biases move
the units away from the origin, ``tanh' < 1``, and the gradient may vanish
beyond 1: the bound's condition is sufficient, not necessary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from symbolic.cells import Cell

from .errors import GradproofInputError
from .flow import decay_rate, gradient_flow
from .weights import random_inputs, random_params, random_state_dict, torch_weights

__all__ = ["crossing", "decay_rates", "sweep_params"]


def sweep_params(
    cell: Cell,
    layout: str | None,
    scale: float,
    seed: int,
    *,
    hidden: int = 0,
    input_size: int = 0,
    init: str = "gaussian",
    sizes: dict[str, int] | None = None,
    bias_scale: float = 1.0,
) -> dict[str, np.ndarray]:
    """The random parameters of one run of the sweep.

    ``layout`` names a family with a PyTorch layout, whose random weights have
    ``sigma_max(weight_hh) = scale`` (:func:`numeric.weights.random_state_dict`)
    and biases ``bias_ih``, ``bias_hh`` multiplied by ``bias_scale`` (0: none);
    with None, every parameter of the cell is drawn at ``scale`` by
    :func:`numeric.weights.random_params` at the given ``sizes`` (no parameter
    is singled out as a bias, so ``bias_scale`` must be 1).

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> p = sweep_params(elman_rnn("tanh"), "rnn", 0.9, 0, hidden=3, input_size=2,
    ...                  init="orthogonal", bias_scale=0.0)
    >>> np.linalg.svd(p["W"], compute_uv=False).round(12), p["b"]
    (array([0.9, 0.9, 0.9]), array([0., 0., 0.]))
    """
    if not (np.isfinite(bias_scale) and bias_scale >= 0):
        raise GradproofInputError(f"--bias-scale must be a non-negative number, got {bias_scale}")
    if layout is None:
        if bias_scale != 1.0:
            raise GradproofInputError(
                f"--bias-scale scales the biases of PyTorch weights; {cell.name!r} is keyed "
                "by parameter names, none of which is singled out as a bias"
            )
        return random_params(cell, sizes or {}, scale, seed)
    state = random_state_dict(layout, hidden, input_size, scale, seed, init)
    with np.errstate(over="ignore"):
        for key in ("bias_ih", "bias_hh"):
            state[key] = bias_scale * state[key]
    # PyTorch's two biases enter summed: their sum must be a float64 too.
    _finite(state["bias_ih"], state["bias_hh"], "--bias-scale", bias_scale)
    return torch_weights(state, layout).params


def _finite(a: np.ndarray, b, flag: str, value: float) -> None:
    """Refuse an option whose value makes ``a + b`` overflow float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        ok = np.all(np.isfinite(a + b))
    if not ok:
        raise GradproofInputError(
            f"{flag} {value:g} makes the drawn values overflow float64; choose a smaller {flag}"
        )


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
    bias_scale: float = 1.0,
    progress: Callable[[int, int, float, int, float], None] | None = None,
) -> np.ndarray:
    """Measured decay rates, shape ``(len(scales), seeds)``, in decades per step.

    Weights are drawn by :func:`sweep_params` (``layout``, ``hidden``,
    ``input_size``, ``init``, ``sizes`` and ``bias_scale`` are passed on).
    Inputs are standard normal times ``input_scale``; a small scale keeps
    tanh near its linear regime, where an orthogonal ``W`` makes the bound tight,
    and ``input_scale = bias_scale = 0`` keeps a tanh state at the origin, where
    each step Jacobian is ``W``.
    ``progress(done, total, scale, seed, rate)`` is called after each run.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> rates = decay_rates(elman_rnn("tanh"), "rnn", [0.5], steps=30, seeds=1, hidden=4,
    ...                     input_size=2, init="orthogonal")
    >>> bool(rates[0, 0] <= np.log10(0.5))
    True

    At the origin with an orthogonal ``W`` the rate is the bound's, ``log10(sigma_max)``:

    >>> rates = decay_rates(elman_rnn("tanh"), "rnn", [0.9, 1.1], steps=30, seeds=1,
    ...                     hidden=4, input_size=2, init="orthogonal",
    ...                     input_scale=0.0, bias_scale=0.0)
    >>> np.allclose(rates[:, 0], np.log10([0.9, 1.1]))
    True
    """
    if not (np.isfinite(input_scale) and input_scale >= 0):
        raise GradproofInputError(f"--input-scale must be a non-negative number, got {input_scale}")
    rates = np.empty((len(scales), seeds))
    for i, scale in enumerate(scales):
        for seed in range(seeds):
            params = sweep_params(
                cell,
                layout,
                scale,
                seed,
                hidden=hidden,
                input_size=input_size,
                init=init,
                sizes=sizes,
                bias_scale=bias_scale,
            )
            with np.errstate(over="ignore"):
                inputs = input_scale * random_inputs(steps, input_size, seed)
            _finite(inputs, 0, "--input-scale", input_scale)
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
