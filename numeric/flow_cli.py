"""The ``flow`` and ``sweep`` subcommands.

``gradproof flow rnn`` measures ``||ds_T/ds_{T-k}||_2`` for k = 1..T on real
or random weights and sets it against the bound ``(gamma sigma_max)^k``;
``gradproof sweep rnn`` measures the decay rate over a range of
``sigma_max(W_hh)``.  Handlers validate everything before computing, write
files only at the end (atomically), and let
:class:`~numeric.errors.GradproofInputError` propagate to ``main``.

A cell joins both commands with one :data:`FLOW_CELLS` entry.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symbolic.activations import activation
from symbolic.cells import Cell, elman_rnn
from symbolic.gru import GRU_VARIANTS, gru
from symbolic.lstm import LSTM_VARIANTS, lstm

from .compile import compile_cell
from .errors import GradproofInputError
from .flow import gradient_flow, json_floats, log10_bound, unbounded_verdict, verdict
from .grid_cli import add_gridlstm_arguments, format_gridlstm_flow, run_gridlstm_flow
from .plots import check_plot_path, plot_flow, plot_sweep
from .sweep import crossing, decay_rates
from .weights import (
    INITS,
    cell_sizes,
    load_inputs,
    load_state0,
    load_state_dict,
    random_inputs,
    random_state_dict,
    torch_weights,
)

__all__ = ["FLOW_CELLS", "FlowCell", "add_flow_parser", "add_sweep_parser", "parse_scales"]


@dataclass(frozen=True)
class FlowCell:
    """How the flow commands build, load and bound one kind of cell.

    Parameters
    ----------
    build : callable
        ``(activation, variant) -> symbolic cell``.
    layout : str
        Key of :data:`numeric.weights.TORCH_LAYOUTS`.
    activations, variants : tuple of str
        The values ``--activation`` and ``--variant`` may take (first: default).
    bounded : bool
        Whether ``||ds_T/ds_{T-k}|| <= (gamma sigma_max)^k`` holds for the full
        state (the Elman RNN); otherwise ``gamma`` and ``log10_bound`` are null.
    """

    build: Callable[[str | None, str | None], Cell]
    layout: str
    activations: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    bounded: bool = False


#: Cells the flow commands accept, by command-line name.
FLOW_CELLS: dict[str, FlowCell] = {
    "rnn": FlowCell(
        lambda act, variant: elman_rnn(act), "rnn", activations=("tanh", "relu"), bounded=True
    ),
    "lstm": FlowCell(lambda act, variant: lstm(variant), "lstm", variants=LSTM_VARIANTS),
    "gru": FlowCell(lambda act, variant: gru(variant), "gru", variants=GRU_VARIANTS),
}

_ACTIVATIONS = ("tanh", "relu")
#: Options of ``flow gridlstm`` that no other cell takes (argparse attribute names).
GRID_OPTIONS = ("layers", "tied", "output_form", "priority")
_DEFAULT_RANDOM = {"hidden": 32, "input": 4, "scale": 1.0, "init": "gaussian"}


def parse_scales(text: str) -> np.ndarray:
    """``"start:stop:count"`` (inclusive, evenly spaced) or ``"a,b,c"``.

    Examples
    --------
    >>> parse_scales("0.5:1.5:5")
    array([0.5 , 0.75, 1.  , 1.25, 1.5 ])
    >>> parse_scales("0.9,1.1")
    array([0.9, 1.1])
    """
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            if int(count) < 1:
                raise ValueError
            scales = np.linspace(float(start), float(stop), int(count))
        else:
            scales = np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise GradproofInputError(
            f"--scales {text!r} is not START:STOP:COUNT or a comma list, e.g. 0.5:1.5:11"
        ) from None
    if not (np.all(np.isfinite(scales)) and np.all(scales > 0)):
        raise GradproofInputError(f"--scales {text!r} must be positive numbers")
    return scales


def _add_common(parser: argparse.ArgumentParser, cells: list[str]) -> None:
    parser.add_argument("cell", choices=cells, help="recurrent cell")
    parser.add_argument(
        "--activation", choices=_ACTIVATIONS, help="rnn: nonlinearity (default tanh)"
    )
    parser.add_argument(
        "--variant",
        choices=sorted({v for spec in FLOW_CELLS.values() for v in spec.variants}),
        help="lstm: pytorch (default) or no_forget; gru: pytorch (default) or textbook",
    )
    parser.add_argument("--hidden", type=int, help="random weights: hidden size N (default 32)")
    parser.add_argument("--input", type=int, help="random weights: input size M (default 4)")
    parser.add_argument(
        "--init",
        choices=INITS,
        help="random weights: W_hh drawn gaussian (default) or orthogonal, then rescaled",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--plot", metavar="FILE", help="figure (.png, .pdf or .svg)")


def add_flow_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``flow``: gradient norms through a network, against the bound.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="gradproof")
    >>> _ = add_flow_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["flow", "rnn", "--steps", "5"])
    >>> args.func(args)  # doctest: +ELLIPSIS
    cell rnn (Elman RNN (tanh)), hidden 32, steps 5
    ...
    0
    """
    parser = subparsers.add_parser(
        "flow",
        help="measure ||ds_T/ds_{T-k}||_2 for every k and compare with the bound",
        description="Run a recurrent network forward, then measure the spectral norm of "
        "ds_T/ds_{T-k} for k = 1..T in log space, against (gamma*sigma_max)^k.",
    )
    _add_common(parser, sorted([*FLOW_CELLS, "gridlstm"]))
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="PyTorch state_dict as .npz (or .pt/.pth with torch); gridlstm: its own .npz",
    )
    parser.add_argument("--layer", type=int, help="layer K of a multi-layer module (_lK names)")
    parser.add_argument("--scale", type=float, help="random weights: sigma_max(W_hh) (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights and inputs")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--inputs", metavar="F.npy", help="inputs x_1..x_T, shape (T, in)")
    source.add_argument("--steps", type=int, help="T standard-normal inputs (default 100)")
    parser.add_argument("--h0", metavar="F.npy", help="initial state, shape (N,); default zeros")
    add_gridlstm_arguments(parser)
    parser.set_defaults(func=run_flow)
    return parser


def add_sweep_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sweep``: measured decay rate against ``gamma sigma_max``.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="gradproof")
    >>> _ = add_sweep_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["sweep", "rnn", "--scales", "0.5,2", "--steps", "20",
    ...                           "--seeds", "1", "--hidden", "4", "--json"])
    >>> args.func(args)  # doctest: +ELLIPSIS
    {"cell": "rnn", ...}
    0
    """
    parser = subparsers.add_parser(
        "sweep",
        help="decay rate of the gradient norm against gamma*sigma_max",
        description="For each sigma_max(W_hh) in --scales and each seed, draw random weights "
        "and inputs, measure the decay rate of ||ds_T/ds_{T-k}|| and set it against "
        "gamma*sigma_max, where vanishing stops being guaranteed at 1.",
    )
    _add_common(parser, sorted(name for name, spec in FLOW_CELLS.items() if spec.bounded))
    parser.add_argument(
        "--scales", default="0.5:1.5:11", help="sigma_max values, START:STOP:COUNT or a,b,c"
    )
    parser.add_argument("--steps", type=int, default=200, help="horizon T (default 200)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 per scale (default 3)")
    parser.set_defaults(func=run_sweep)
    return parser


def _setting(args: argparse.Namespace) -> Callable[[str], object]:
    """Look up a random-weights option, falling back to its default."""

    def value(name: str) -> object:
        given = getattr(args, name, None)
        return _DEFAULT_RANDOM[name] if given is None else given

    return value


def run_flow(args: argparse.Namespace) -> int:
    """Handler of ``gradproof flow``; returns the exit code."""
    if args.cell == "gridlstm":
        if args.activation is not None:
            raise GradproofInputError("--activation does not apply to gridlstm; drop it")
        result = run_gridlstm_flow(args)
        print(json.dumps(result, allow_nan=False) if args.json else format_gridlstm_flow(result))
        return 0
    grid_only = [f"--{name.replace('_', '-')}" for name in GRID_OPTIONS if getattr(args, name)]
    if grid_only:
        verb, pronoun = ("applies", "it") if len(grid_only) == 1 else ("apply", "them")
        raise GradproofInputError(f"{', '.join(grid_only)} {verb} only to gridlstm; drop {pronoun}")
    spec = _chosen(args)
    args.steps = 100 if args.steps is None else args.steps
    if args.plot:
        check_plot_path(args.plot)
    random_flags = [f"--{k}" for k in _DEFAULT_RANDOM if getattr(args, k, None) is not None]
    if args.weights is not None:
        if random_flags:
            raise GradproofInputError(
                f"{', '.join(random_flags)} describe random weights; drop them when using --weights"
            )
        tw = torch_weights(load_state_dict(args.weights), spec.layout, args.layer)
    else:
        if args.layer is not None:
            raise GradproofInputError("--layer selects a layer of --weights; pass --weights too")
        hidden, input_size, scale, init = map(_setting(args), ("hidden", "input", "scale", "init"))
        state = random_state_dict(spec.layout, hidden, input_size, scale, args.seed, init)
        tw = torch_weights(state, spec.layout)
    if args.inputs is not None:
        inputs = load_inputs(args.inputs, tw.input_size)
    else:
        inputs = random_inputs(args.steps, tw.input_size, args.seed)
    cell = spec.build(args.activation, args.variant)
    model = compile_cell(cell, **cell_sizes(cell, tw.params))
    s0 = load_state0(args.h0, model.state_size)

    flow = gradient_flow(model, tw.params, inputs, s0)
    # PyTorch's stacked W_hh: the bound's matrix for the RNN (G = 1); for
    # gated cells it is not square and has no spectral radius.
    W_hh = tw.weight_hh
    sigma_max = float(np.linalg.norm(W_hh, 2))
    square = W_hh.shape[0] == W_hh.shape[1]
    radius = float(np.max(np.abs(np.linalg.eigvals(W_hh)))) if square else None
    if spec.bounded:
        gamma = float(activation(args.activation).gamma)
        bound = log10_bound(gamma, sigma_max, flow.steps)
        result = verdict(gamma, sigma_max, flow.log10_norm).as_dict()
    else:
        gamma, bound, result = None, None, unbounded_verdict(flow.log10_norm)

    if args.plot:
        title = f"{cell.title}, hidden {tw.hidden}, T = {flow.steps}"
        plot_flow(
            args.plot, np.where(np.isfinite(flow.log10_norm), flow.log10_norm, np.nan), bound, title
        )
    if args.json:
        report = {
            "cell": args.cell,
            "hidden": tw.hidden,
            "steps": flow.steps,
            "gamma": gamma,
            "sigma_max": sigma_max,
            "spectral_radius": radius,
            "log10_norm": json_floats(flow.log10_norm),
            "log10_bound": None if bound is None else json_floats(bound),
            "verdict": result,
        }
        print(json.dumps(report, allow_nan=False))
        return 0
    print(f"cell {args.cell} ({cell.title}), hidden {tw.hidden}, steps {flow.steps}")
    shown_radius = "n/a" if radius is None else f"{radius:.6g}"
    shown_gamma = "n/a (no bound for gated cells)" if gamma is None else f"{gamma:.6g}"
    print(f"gamma {shown_gamma}, sigma_max(W_hh) {sigma_max:.6g}, spectral radius {shown_radius}")
    print(f"{'k':>8}  {'log10 norm':>14}  {'log10 bound':>14}")
    for k in _table_rows(flow.steps):
        shown = "n/a" if bound is None else f"{bound[k - 1]:14.6f}"
        print(f"{k:>8}  {flow.log10_norm[k - 1]:14.6f}  {shown:>14}")
    print(f"verdict: {result['summary']}")
    return 0


def _chosen(args: argparse.Namespace) -> FlowCell:
    """The cell's spec, with ``--activation`` and ``--variant`` checked and defaulted."""
    spec = FLOW_CELLS[args.cell]
    for option, allowed in (("activation", spec.activations), ("variant", spec.variants)):
        given = getattr(args, option, None)
        if given is not None and given not in allowed:
            if not allowed:
                raise GradproofInputError(f"--{option} does not apply to {args.cell}; drop it")
            raise GradproofInputError(
                f"--{option} {given} is not available for {args.cell}; choose {', '.join(allowed)}"
            )
        setattr(args, option, given or (allowed[0] if allowed else None))
    return spec


def _table_rows(steps: int) -> list[int]:
    rows = {steps}
    decade = 1
    while decade <= steps:
        rows.update(m * decade for m in (1, 2, 5) if m * decade <= steps)
        decade *= 10
    return sorted(rows)


def run_sweep(args: argparse.Namespace) -> int:
    """Handler of ``gradproof sweep``; returns the exit code."""
    spec = _chosen(args)
    if args.plot:
        check_plot_path(args.plot)
    scales = parse_scales(args.scales)
    if args.seeds < 1:
        raise GradproofInputError(f"--seeds must be at least 1, got {args.seeds}")
    hidden, input_size, init = map(_setting(args), ("hidden", "input", "init"))
    cell = spec.build(args.activation, args.variant)
    gamma = float(activation(args.activation).gamma)

    def progress(done: int, total: int, scale: float, seed: int, rate: float) -> None:
        print(
            f"sweep {done}/{total}: sigma_max {scale:.4g}, seed {seed}, rate {rate:.4g} decades/step",
            file=sys.stderr,
            flush=True,
        )

    rates = decay_rates(
        cell,
        spec.layout,
        scales,
        steps=args.steps,
        seeds=args.seeds,
        hidden=hidden,
        input_size=input_size,
        init=init,
        progress=progress,
    )
    gs = gamma * scales
    mean = rates.mean(axis=1)
    measured = crossing(gs, mean)
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {args.steps}, {args.seeds} seed(s)"
        plot_sweep(args.plot, gs, np.where(np.isfinite(rates), rates, np.nan), title)
    if args.json:
        report = {
            "cell": args.cell,
            "hidden": hidden,
            "steps": args.steps,
            "seeds": args.seeds,
            "gamma": gamma,
            "sigma_max": scales.tolist(),
            "gamma_sigma_max": gs.tolist(),
            "decay_rate": [json_floats(row) for row in rates],
            "mean_decay_rate": json_floats(mean),
            "bound_rate": np.log10(gs).tolist(),
            "measured_crossing": measured,
        }
        print(json.dumps(report, allow_nan=False))
        return 0
    print(
        f"cell {args.cell} ({cell.title}), hidden {hidden}, steps {args.steps}, seeds {args.seeds}"
    )
    print(f"{'gamma*sigma_max':>16}  {'mean rate':>12}  {'bound rate':>12}  guarantee")
    for g, r in zip(gs, mean, strict=True):
        guarantee = "vanishing" if g < 1 else "none"
        print(f"{g:16.4f}  {r:12.5f}  {math.log10(g):12.5f}  {guarantee}")
    where = "not within the range" if measured is None else f"at gamma*sigma_max = {measured:.3f}"
    print(f"below gamma*sigma_max = 1 vanishing is guaranteed; the measured rate crosses 0 {where}")
    return 0
