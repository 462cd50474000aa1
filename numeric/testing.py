"""Assertions for your own test suite, in the manner of ``numpy.testing``.

* :func:`assert_matches_cell`: is a hand-written recurrent step (NumPy or
  PyTorch), and optionally a hand-written Jacobian, the function a cell's
  equations describe?  Compared with gradproof's compiled cell and its derived
  step Jacobian at seeded random states and inputs.
* :func:`gradient_flow_of` and :func:`assert_gradient_flow`: does a model keep
  its gradient alive over the horizon a task needs?

A mismatch raises ``AssertionError`` naming the state or Jacobian block
(``dc_t/dh_{t-1}``), the worst entry, both values and the tolerance.  A
mistake in the arguments themselves (an unknown parameter name, a wrong
shape) is a ``ValueError`` naming the parameter.  Importing this module does
not import PyTorch; a PyTorch callable is recognised only when torch is
already loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from symbolic.cells import Cell

from .compile import compile_cell
from .implementation_check import _numpy, _params_of, _reference, assert_matches_cell
from .weights import cell_sizes

__all__ = ["FlowResult", "assert_gradient_flow", "assert_matches_cell", "gradient_flow_of"]


@dataclasses.dataclass(frozen=True)
class FlowResult:
    """What ``gradproof flow --json`` reports, as a value.

    ``log10_norm[k-1]`` is ``log10 ||ds_T/ds_{T-k}||_2``; ``log10_bound[k-1]``
    the cell's bound ``k log10 B`` (None where none holds, as for a stacked
    network); ``verdict`` the verdict's fields.  ``layers``,
    ``log10_norm_depth``, ``depth_slope`` and ``layer_bounds`` are set for a
    stacked network only.
    """

    cell: str
    hidden: int
    steps: int
    gamma: float | None
    sigma_max: float | None
    spectral_radius: float | None
    log10_norm: np.ndarray
    log10_bound: np.ndarray | None
    verdict: dict
    layers: int | None = None
    log10_norm_depth: list[float] | None = None
    depth_slope: float | None = None
    layer_bounds: list[dict | None] | None = None


#: PyTorch's recurrent modules and cells, by class name: the family and its options.
_TORCH_MODULES = {"RNN": "rnn", "RNNCell": "rnn", "LSTM": "lstm", "LSTMCell": "lstm"}
_TORCH_MODULES |= {"GRU": "gru", "GRUCell": "gru"}


def _network_of(model: Any, cell: Cell | str | None, params, direction: str | None, module):
    """``(name, cell, compiled model or stack, params)`` for any model the helpers take."""
    from symbolic.registry import family

    from .state_dicts import torch_network

    kind = type(model).__name__
    if kind in _TORCH_MODULES and hasattr(model, "state_dict"):
        name = _TORCH_MODULES[kind]
        options = {"activation": model.nonlinearity} if name == "rnn" else {}
        state = {k: _numpy(v).astype(float) for k, v in model.state_dict().items()}
        network, p = torch_network(
            state, name, family(name).cell(**options), options, direction=direction
        )
        return name, family(name).cell(**options), network, p
    if isinstance(model, Mapping):  # a state_dict, of PyTorch names
        if cell is None:
            raise ValueError("a state_dict needs cell=: 'rnn', 'lstm' or 'gru'")
        reference = _reference(cell)
        state = {k: np.asarray(_numpy(v), dtype=float) for k, v in model.items()}
        network, p = torch_network(
            state, reference.name, reference, {}, module=module, direction=direction
        )
        return reference.name, reference, network, p
    if isinstance(model, (Cell, str)):
        if params is None:
            raise ValueError("a cell needs params=: its parameters by name")
        reference = _reference(model)
        arrays = _params_of(reference, params)
        return (
            reference.name,
            reference,
            compile_cell(reference, **cell_sizes(reference, arrays)),
            arrays,
        )
    raise ValueError(
        f"cannot measure a {kind}: pass a torch.nn.RNN/LSTM/GRU (or its cell), a state_dict "
        "with cell=, or a cell with params="
    )


def gradient_flow_of(
    model: Any,
    inputs: Any,
    *,
    cell: Cell | str | None = None,
    params: Mapping[str, Any] | None = None,
    module: str | None = None,
    direction: str | None = None,
    s0: Any = None,
) -> FlowResult:
    """Measure ``log10 ||ds_T/ds_{T-k}||_2`` for ``k = 1..T`` as ``gradproof flow`` does.

    Parameters
    ----------
    model : torch.nn.Module, mapping, Cell or str
        A live ``torch.nn.RNN``/``LSTM``/``GRU`` (any number of layers: the
        whole stack is measured) or ``RNNCell``/``LSTMCell``/``GRUCell``; a
        ``state_dict`` (PyTorch names, a whole model's too: give ``cell=``
        and, where it holds several recurrent modules, ``module=``); or a cell
        (built-in name, ``"file.py:function"`` or a ``Cell``) with ``params=``.
    inputs : array_like
        ``(T, input_size)``: one sequence, first step first.
    cell, params, module, direction : optional
        As above; ``direction`` (``"forward"`` or ``"reverse"``) picks one
        direction of a bidirectional module.
    s0 : array_like, optional
        The initial full state (zeros by default).

    Returns
    -------
    FlowResult

    Examples
    --------
    >>> params = {"W": 0.5 * np.eye(2), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> result = gradient_flow_of("rnn", np.zeros((3, 1)), params=params)
    >>> result.log10_norm.round(4), result.verdict["measured"]
    (array([-0.301 , -0.6021, -0.9031]), 'neutral')
    """
    from .bounds import evaluate_bound
    from .flow import gradient_flow
    from .flow_answers import cell_answer, layer_bounds, stack_answer
    from .stack import StackedCell

    name, reference, network, p = _network_of(model, cell, params, direction, module)
    xs = np.asarray(_numpy(inputs), dtype=float)
    if xs.ndim != 2 or xs.shape[1] != network.input_size:
        raise ValueError(
            f"inputs have shape {xs.shape}, expected (T, {network.input_size}): one sequence"
        )
    if direction == "reverse":
        xs = xs[::-1]  # the reverse direction reads x_T first
    start = np.zeros(network.state_size) if s0 is None else np.asarray(_numpy(s0), dtype=float)
    flow = gradient_flow(network, p, xs, start)
    if isinstance(network, StackedCell):
        bounds = layer_bounds(reference, network)
        result, _ = stack_answer(name, reference, network, flow, xs, start, bounds)
    else:
        result, _ = cell_answer(name, reference, network, flow, evaluate_bound(reference, p))
    for key in ("log10_norm", "log10_bound"):
        if result[key] is not None:
            result[key] = np.asarray(result[key], dtype=float)
    return FlowResult(**result)


def assert_gradient_flow(
    model: Any,
    inputs: Any,
    *,
    horizon: int,
    above: float | None = None,
    below: float | None = None,
    **options: Any,
) -> FlowResult:
    """Assert ``above <= log10 ||ds_T/ds_{T-H}||_2 <= below`` at ``H = horizon``.

    ``model``, ``inputs`` and ``options`` are those of :func:`gradient_flow_of`;
    the band's ends are in decades (``above=-3``: the gradient over ``H``
    steps keeps at least a thousandth of its size).  The failure message gives
    the measured value, key points of the curve, the cell's bound over the
    same steps where one holds, and the verdict.  Returns the measurement.

    Examples
    --------
    >>> params = {"W": 0.5 * np.eye(2), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> _ = assert_gradient_flow("rnn", np.zeros((10, 1)), horizon=10, above=-4, params=params)
    >>> assert_gradient_flow("rnn", np.zeros((10, 1)), horizon=10, above=-2, params=params)
    Traceback (most recent call last):
    ...
    AssertionError: log10 ||ds_T/ds_{T-10}||_2 = -3.0103 is below the band [-2, inf] at horizon 10; curve (k: log10 norm): 1: -0.301, 2: -0.602, 5: -1.51, 8: -2.41, 10: -3.01; bound over 10 steps: -3.0103 (B^10, B = 0.5); verdict: vanishing guaranteed: B = sigma_max(W) = 0.5 < 1 (gamma = 1, sigma_max = 0.5); measured: vanishing, -0.301 decades per step
    """
    if above is None and below is None:
        raise ValueError("give the band: above=, below= or both (in decades)")
    result = gradient_flow_of(model, inputs, **options)
    if int(horizon) != horizon or not 1 <= horizon <= result.steps:
        raise ValueError(
            f"horizon must be an integer in 1..{result.steps} (the steps), got {horizon}"
        )
    value = float(result.log10_norm[horizon - 1])
    low = -np.inf if above is None else above
    high = np.inf if below is None else below
    if low <= value <= high:
        return result
    side = "below" if value < low else "above"
    ks = sorted({1, *(max(1, round(horizon * f)) for f in (0.25, 0.5, 0.75)), horizon})
    curve = ", ".join(f"{k}: {result.log10_norm[k - 1]:.3g}" for k in ks)
    bound = ""
    if result.log10_bound is not None:
        B = result.verdict["step_bound"]
        bound = f"; bound over {horizon} steps: {result.log10_bound[horizon - 1]:.4f} (B^{horizon}, B = {B:.4g})"
    raise AssertionError(
        f"log10 ||ds_T/ds_{{T-{horizon}}}||_2 = {value:.4f} is {side} the band "
        f"[{low:g}, {high:g}] at horizon {horizon}; curve (k: log10 norm): {curve}{bound}; "
        f"verdict: {result.verdict['summary']}"
    )
