"""What ``gradproof flow`` answers for one cell or a stacked network: JSON, text, figure.

One cell (:func:`cell_answer`): the norms ``log10 ||ds_T/ds_{T-k}||_2``
against the cell's step bound ``B^k`` where it declares one.  A multi-layer ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (a weight file with names
``weight_hh_l0 .. weight_hh_l{L-1}``, or random weights with ``--layers L``)
is measured whole (:mod:`numeric.stack`): the state carried along time is
every layer's state, bottom first, so ``log10_norm[k-1]`` is
``log10 ||ds_T/ds_{T-k}||_2`` over the full stacked state, and
``log10_norm_depth[l]`` is ``log10 ||dh^{(L-1)}_T/dh^{(l)}_T||_2``, the top
layer's output against layer ``l``'s hidden vector at the last step
(:mod:`numeric.stack_depth`).

There is no single step bound for the stack.  A cell's bound ``B`` limits
its own step Jacobian; in the stack that is each layer's diagonal block
``ds^{(l)}_t/ds^{(l)}_{t-1}``, while ``ds_t/ds_{t-1}`` also holds the
blocks through the layers' inputs, which no ``B`` limits, so ``B^k`` bounds
no product of stacked steps.  Each layer's own bound ``B_l`` is given
(``layer_bounds``), and with ``--spectrum`` the relation it does imply is
checked: the largest Lyapunov exponent of the layer's own step Jacobians is
at most ``ln B_l`` (:func:`numeric.stack.layer_lyapunov_exponents`).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from symbolic.cells import Cell

from .bounds import EvaluatedBound, evaluate_bound, log10_bound, verdict
from .compile import CompiledCell
from .flow import GradientFlow
from .stack import StackedCell
from .stack_depth import depth_slope, log10_norm_depth

__all__ = [
    "NO_SINGLE_BOUND",
    "bound_line",
    "cell_answer",
    "layer_bounds",
    "norm_rows",
    "plot_answer",
    "stack_answer",
    "table_rows",
]

#: Why the stack has no step bound, in words (the text answer and the verdict).
NO_SINGLE_BOUND = (
    "no single step bound for the stacked network: a layer's bound B_l limits its own "
    "step Jacobian ds^(l)_t/ds^(l)_(t-1), not the blocks through the layers' inputs"
)


def layer_bounds(cell: Cell, stack: StackedCell) -> list[EvaluatedBound | None]:
    """Each layer's step bound ``B_l`` at its own weights, bottom first (None: none declared).

    Examples
    --------
    >>> from numeric.stack import torch_stack
    >>> state = {"weight_ih_l0": np.eye(2), "weight_hh_l0": 0.9 * np.eye(2),
    ...          "weight_ih_l1": np.eye(2), "weight_hh_l1": 0.5 * np.eye(2)}
    >>> from symbolic.rnn import elman_rnn
    >>> [b.value for b in layer_bounds(elman_rnn("tanh"), torch_stack(state, "rnn"))]
    [0.9, 0.5]
    """
    return [evaluate_bound(cell, params) for params in stack.params]


def _bound_dict(bound: EvaluatedBound | None) -> dict | None:
    return None if bound is None else dataclasses.asdict(bound)


def stack_answer(
    cell_name: str,
    cell: Cell,
    stack: StackedCell,
    flow: GradientFlow,
    inputs: np.ndarray,
    s0: np.ndarray,
    bounds: list[EvaluatedBound | None],
) -> tuple[dict, list[str]]:
    """The JSON-ready result of ``flow`` on a stack, and its text without the verdict line.

    ``bounds`` are the layers' own step bounds (:func:`layer_bounds`).

    Keys: those of every flow (``cell, hidden, steps, gamma, sigma_max,
    spectral_radius, log10_norm, log10_bound, verdict``; the bound's fields
    null), and ``layers``, ``log10_norm_depth``, ``depth_slope`` (decades
    per layer, positive when the gradient shrinks going down) and
    ``layer_bounds`` (per layer, the fields of
    :class:`numeric.bounds.EvaluatedBound` or null).

    Examples
    --------
    >>> from numeric.flow import gradient_flow
    >>> from numeric.stack import torch_stack
    >>> from symbolic.rnn import elman_rnn
    >>> state = {f"{w}_l{l}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh")
    ...          for l in range(2)}
    >>> stack, xs, s0 = torch_stack(state, "rnn"), np.zeros((3, 2)), np.zeros(4)
    >>> cell = elman_rnn("tanh")
    >>> result, lines = stack_answer("rnn", cell, stack, gradient_flow(stack, {}, xs, s0),
    ...                              xs, s0, layer_bounds(cell, stack))
    >>> result["layers"], result["log10_norm_depth"], result["layer_bounds"][1]["value"]
    (2, [-0.3010299956639812, 0.0], 0.5)
    >>> print(result["verdict"]["summary"])  # doctest: +ELLIPSIS
    no single step bound for the stacked network: ...; measured: neutral, -0.2006 decades per step
    """
    depth = log10_norm_depth(stack, inputs, s0)
    slope = depth_slope(depth)
    measured = verdict(None, flow.log10_norm)
    observed = measured.summary.partition("measured: ")[2]
    result = {
        "cell": cell_name,
        "hidden": stack.hidden_sizes[-1],
        "layers": stack.depth,
        "steps": flow.steps,
        "gamma": None,
        "sigma_max": None,
        "spectral_radius": None,
        "log10_norm": flow.log10_norm,
        "log10_bound": None,
        "verdict": dataclasses.replace(
            measured, summary=f"{NO_SINGLE_BOUND}; measured: {observed}"
        ).as_dict(),
        "log10_norm_depth": [float(v) for v in depth],
        "depth_slope": slope,
        "layer_bounds": [_bound_dict(b) for b in bounds],
    }
    from .gridlstm.flows import depth_decay_phrase

    lines = [
        f"cell {cell_name} ({cell.title}), {stack.depth} layers of hidden {stack.hidden_sizes[-1]}"
        f", steps {flow.steps}: the stacked network, state [s^(0); ...; s^({stack.depth - 1})]",
        NO_SINGLE_BOUND,
    ]
    if all(b is None for b in bounds):
        lines.append("no step bound declared for this cell, in any layer")
    lines += [f"layer {j}: {bound_line(b)}" for j, b in enumerate(bounds) if b is not None]
    lines += norm_rows(flow.log10_norm, None)
    lines.append(f"{'l':>8}  log10 ||dh^(L-1)_T/dh^(l)_T||")
    lines += [f"{level:>8}  {v:29.6f}" for level, v in enumerate(depth)]
    lines.append(f"depth: the gradient of the top output {depth_decay_phrase(slope)}")
    return result, lines


def cell_answer(
    cell_name: str,
    cell: Cell,
    model: CompiledCell,
    flow: GradientFlow,
    bound: EvaluatedBound | None,
) -> tuple[dict, list[str]]:
    """One cell's result of ``flow`` (JSON-ready) and its text without the verdict line.

    Keys: ``cell, hidden, steps, gamma, sigma_max, spectral_radius,
    log10_norm, log10_bound, verdict``; the bound's fields null where the
    cell declares none.

    Examples
    --------
    >>> from numeric.compile import compile_cell
    >>> from numeric.flow import gradient_flow
    >>> from symbolic.rnn import elman_rnn
    >>> cell = elman_rnn("tanh")
    >>> params = {"W": 0.5 * np.eye(2), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> model, bound = compile_cell(cell, n=2, m=1), evaluate_bound(cell, params)
    >>> result, lines = cell_answer("rnn", cell, model,
    ...                             gradient_flow(model, params, np.zeros((2, 1))), bound)
    >>> print("\\n".join(lines))
    cell rnn (Elman RNN (tanh)), hidden 2, steps 2
    step bound B = sigma_max(W) = 0.5, gamma 1, sigma_max 0.5, spectral radius 0.5
           k      log10 norm     log10 bound
           1       -0.301030       -0.301030
           2       -0.602060       -0.602060
    """

    log10_b = None if bound is None else log10_bound(bound, flow.steps)
    hidden = model.state_sizes[0]
    result = {
        "cell": cell_name,
        "hidden": hidden,
        "steps": flow.steps,
        "gamma": None if bound is None else bound.gamma,
        "sigma_max": None if bound is None else bound.sigma_max,
        "spectral_radius": None if bound is None else bound.spectral_radius,
        "log10_norm": flow.log10_norm,
        "log10_bound": log10_b,
        "verdict": verdict(bound, flow.log10_norm).as_dict(),
    }
    lines = [f"cell {cell_name} ({cell.title}), hidden {hidden}, steps {flow.steps}"]
    lines.append("no step bound declared for this cell" if bound is None else bound_line(bound))
    return result, lines + norm_rows(flow.log10_norm, log10_b)


def bound_line(bound: EvaluatedBound) -> str:
    """A step bound and its constants, in one line of text.

    Examples
    --------
    >>> from numeric.bounds import EvaluatedBound
    >>> bound_line(EvaluatedBound(0.9, "sigma_max(W)", 1.0, 0.9, None))
    'step bound B = sigma_max(W) = 0.9, gamma 1, sigma_max 0.9'
    """
    shown = [f"step bound B = {bound.formula} = {bound.shown('value')}"]
    shown += [
        f"{label} {bound.shown(name)}"
        for label, name in (
            ("gamma", "gamma"),
            ("sigma_max", "sigma_max"),
            ("spectral radius", "spectral_radius"),
        )
        if getattr(bound, name) is not None
    ]
    return ", ".join(shown)


def norm_rows(log10_norm, log10_b) -> list[str]:
    """The table of norms (and bound) at k = 1, 2, 5, 10, ..., T.

    Examples
    --------
    >>> print("\\n".join(norm_rows([-0.5, -1.0], None)))  # doctest: +NORMALIZE_WHITESPACE
    k log10 norm log10 bound
    1 -0.500000 n/a
    2 -1.000000 n/a
    """
    lines = [f"{'k':>8}  {'log10 norm':>14}  {'log10 bound':>14}"]
    for k in table_rows(len(log10_norm)):
        shown = "n/a" if log10_b is None else f"{log10_b[k - 1]:14.6f}"
        lines.append(f"{k:>8}  {log10_norm[k - 1]:14.6f}  {shown:>14}")
    return lines


def table_rows(steps: int) -> list[int]:
    """The steps k a text table shows: 1, 2, 5, 10, 20, 50, ... up to ``steps``, and ``steps``.

    Examples
    --------
    >>> table_rows(30)
    [1, 2, 5, 10, 20, 30]
    """
    rows = {steps}
    decade = 1
    while decade <= steps:
        rows.update(m * decade for m in (1, 2, 5) if m * decade <= steps)
        decade *= 10
    return sorted(rows)


def plot_answer(
    path: str | os.PathLike,
    cell: Cell,
    model: CompiledCell | StackedCell,
    flow: GradientFlow,
    result: dict,
    inputs: np.ndarray,
    s0: np.ndarray,
) -> None:
    """The figure of ``flow --plot``: the norms against the bound; for a stack, the
    time-by-layer map of :func:`numeric.stack_depth.time_depth_map`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from numeric.flow import gradient_flow
    >>> from numeric.stack import torch_stack
    >>> from symbolic.rnn import elman_rnn
    >>> state = {f"{w}_l{l}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh")
    ...          for l in range(2)}
    >>> stack, xs, s0 = torch_stack(state, "rnn"), np.zeros((3, 2)), np.zeros(4)
    >>> flow = gradient_flow(stack, {}, xs, s0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "map.svg"
    >>> plot_answer(path, elman_rnn("tanh"), stack, flow, {"hidden": 2}, xs, s0)
    >>> b"<svg" in path.read_bytes()
    True
    """
    from .plots import plot_flow, plot_stack_depth
    from .stack import StackedCell
    from .stack_depth import time_depth_map

    if isinstance(model, StackedCell):
        subtitle = f"{model.depth} layers of hidden {result['hidden']}, T = {flow.steps}"
        plot_stack_depth(path, time_depth_map(model, inputs, s0), f"stacked {cell.title}", subtitle)
        return
    title = f"{cell.title}, hidden {result['hidden']}, T = {flow.steps}"
    curve = np.where(np.isfinite(flow.log10_norm), flow.log10_norm, np.nan)
    plot_flow(path, curve, result["log10_bound"], title)
