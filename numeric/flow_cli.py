"""The ``flow``, ``sweep`` and ``params`` subcommands.

``gradproof flow CELL`` measures ``||ds_T/ds_{T-k}||_2`` for k = 1..T on real
or random weights and sets it against the cell's bound ``B^k``;
``gradproof sweep CELL`` measures the decay rate over a range of weight
scales, against ``B``.  Handlers validate everything before computing, write
files only at the end (atomically), and let
:class:`~numeric.errors.GradproofInputError` propagate to ``main``.

Every cell takes the same path: the registry's family gives the cell, its
weight layout (PyTorch gate slices, or files keyed by parameter names) and
its declared step bound; a family whose flow is not one cell along time
(the Grid LSTM) names its own runner.  ``gradproof params`` lists the keys
and shapes a weight file needs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np

from symbolic.cells import Cell
from symbolic.registry import CellFamily, load_entry_point

from .bounds import evaluate_bound, log10_bound, verdict
from .cli_common import CELL_HELP, chosen_options, lookup
from .compile import compile_cell
from .errors import GradproofInputError
from .flow import gradient_flow, json_floats
from .loading import load_inputs, load_state0, load_state_dict
from .plots import check_plot_path, plot_flow, plot_sweep
from .sweep import crossing, decay_rates
from .weights import (
    INITS,
    cell_sizes,
    named_params,
    param_shapes,
    random_inputs,
    random_params,
    random_state_dict,
    torch_weights,
)

__all__ = ["add_flow_parser", "add_params_parser", "add_sweep_parser", "parse_scales"]

#: Random-weight options of cells with a PyTorch layout, and their defaults.
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


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("cell", help=CELL_HELP)
    parser.add_argument("--activation", help="rnn: nonlinearity, tanh (default) or relu")
    parser.add_argument(
        "--variant", help="lstm: pytorch (default) or no_forget; gru: pytorch (default) or textbook"
    )
    parser.add_argument(
        "--hidden", type=int, help="random PyTorch weights: hidden size (default 32)"
    )
    parser.add_argument("--input", type=int, help="random PyTorch weights: input size (default 4)")
    parser.add_argument(
        "--init",
        choices=INITS,
        help="random PyTorch weights: W_hh drawn gaussian (default) or orthogonal, then rescaled",
    )
    parser.add_argument(
        "--size",
        action="append",
        metavar="NAME=N",
        help="random weights of a cell keyed by parameter names: one per size, e.g. --size n=8",
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
        "ds_T/ds_{T-k} for k = 1..T in log space, against the cell's bound B^k.",
    )
    _add_common(parser)
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="weights as .npz (or .pt/.pth with torch): a PyTorch state_dict, or keyed by "
        "parameter names (see gradproof params CELL)",
    )
    parser.add_argument("--layer", type=int, help="layer K of a multi-layer module (_lK names)")
    parser.add_argument("--scale", type=float, help="random weights: sigma_max(W_hh) (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights and inputs")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--inputs", metavar="F.npy", help="inputs x_1..x_T, shape (T, in)")
    source.add_argument("--steps", type=int, help="T standard-normal inputs (default 100)")
    parser.add_argument("--h0", metavar="F.npy", help="initial state, shape (N,); default zeros")
    parser.add_argument(
        "--output-form", help="gridlstm: h' = tanh(o*m') (paper) or o*tanh(m') (standard)"
    )
    parser.add_argument(
        "--priority", help="gridlstm: depth reads the new time hidden vector (depth) or not (none)"
    )
    parser.add_argument("--layers", type=int, help="gridlstm: layers L (default 4)")
    parser.add_argument(
        "--tied", action="store_true", help="gridlstm: one weight set for all layers"
    )
    parser.set_defaults(func=run_flow)
    return parser


def add_sweep_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``sweep``: measured decay rate against the step bound ``B``.

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
        help="decay rate of the gradient norm against the step bound B",
        description="For each weight scale in --scales and each seed, draw random weights "
        "and inputs, measure the decay rate of ||ds_T/ds_{T-k}|| and set it against the "
        "cell's step bound B (gamma*sigma_max(W) for the Elman RNN), below 1 of which "
        "vanishing is guaranteed.",
    )
    _add_common(parser)
    parser.add_argument(
        "--scales",
        default="0.5:1.5:11",
        help="weight scales (sigma_max(W_hh) for PyTorch layouts), START:STOP:COUNT or a,b,c",
    )
    parser.add_argument("--steps", type=int, default=200, help="horizon T (default 200)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 per scale (default 3)")
    parser.set_defaults(func=run_sweep)
    return parser


def add_params_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``params``: the keys and shapes a weight file for a cell needs.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="gradproof")
    >>> _ = add_params_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["params", "symbolic.rnn:elman_rnn"])
    >>> args.func(args)  # doctest: +NORMALIZE_WHITESPACE
    cell symbolic.rnn:elman_rnn (Elman RNN (tanh)): a .npz (or .pt) keyed by parameter name
      W  (n, n)
      U  (n, m)
      b  (n,)
    sizes n, m are read off the arrays; random weights: --size n=N --size m=N
    0
    """
    parser = subparsers.add_parser(
        "params", help="list the keys and shapes a weight file for a cell needs"
    )
    parser.add_argument("cell", help=CELL_HELP)
    for option in ("activation", "variant", "output_form", "priority"):
        parser.add_argument("--" + option.replace("_", "-"), help="as for derive")
    parser.set_defaults(func=run_params)
    return parser


def run_params(args: argparse.Namespace) -> int:
    """Handler of ``gradproof params``."""
    fam = lookup(args.cell)
    options = chosen_options(fam, args)
    if fam.weights_help:
        print(f"cell {args.cell}: {fam.weights_help}")
        return 0
    cell = fam.build(**options)
    if fam.layout is not None:
        G, gates = len(fam.layout.gates), ", ".join(fam.layout.gates)
        print(f"cell {args.cell} ({cell.title}): a PyTorch state_dict, G = {G} gates ({gates})")
        for key, shape in (
            ("weight_ih", "(G*H, in)"),
            ("weight_hh", "(G*H, H)"),
            ("bias_ih", "(G*H,)"),
            ("bias_hh", "(G*H,)"),
        ):
            print(f"  {key:<10} {shape}")
        print("multi-layer modules suffix _lK (choose one with --layer K); the cell reads")
        for name, terms in fam.layout.params.items():
            parts = " + ".join(f"{tensor}[{gate}]" for tensor, gate in terms)
            print(f"  {name} = {parts}")
        return 0
    print(f"cell {args.cell} ({cell.title}): a .npz (or .pt) keyed by parameter name")
    shapes = param_shapes(cell)
    width = max((len(k) for k in shapes), default=0)
    for name, shape in shapes.items():
        shown = "scalar, a 0-d array" if shape == () else str(shape)
        print(f"  {name:<{width}}  {shown}")
    dims = ", ".join(str(d) for d in cell.dims) or "none"
    flags = " ".join(f"--size {d}=N" for d in cell.dims)
    print(f"sizes {dims} are read off the arrays; random weights: {flags}")
    return 0


def _parse_sizes(pairs: list[str] | None) -> dict[str, int]:
    sizes = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.strip().lstrip("-").isdigit():
            raise GradproofInputError(f"--size {pair!r} is not NAME=N, e.g. --size n=8")
        sizes[name.strip()] = int(value)
    return sizes


def _random_weights(
    fam: CellFamily, cell: Cell, args: argparse.Namespace, scale: float, seed: int
) -> dict[str, np.ndarray]:
    """Random parameters: PyTorch-shaped for a family with a layout, else by name."""
    if fam.layout is None:
        torch_only = [f"--{k}" for k in ("hidden", "input", "init") if getattr(args, k) is not None]
        if torch_only:
            raise GradproofInputError(
                f"{', '.join(torch_only)} describe PyTorch weights; {args.cell} is keyed by "
                "parameter names: give its sizes with --size NAME=N"
            )
        return random_params(cell, _parse_sizes(args.size), scale, seed)
    if args.size:
        raise GradproofInputError(
            f"--size is for cells keyed by parameter names; {args.cell} takes --hidden and --input"
        )
    hidden, input_size, init = (
        _DEFAULT_RANDOM[k] if getattr(args, k) is None else getattr(args, k)
        for k in ("hidden", "input", "init")
    )
    state = random_state_dict(fam.name, hidden, input_size, scale, seed, init)
    return torch_weights(state, fam.name).params


def _weights(fam: CellFamily, cell: Cell, args: argparse.Namespace) -> dict[str, np.ndarray]:
    if args.weights is None:
        if args.layer is not None:
            raise GradproofInputError("--layer selects a layer of --weights; pass --weights too")
        scale = _DEFAULT_RANDOM["scale"] if args.scale is None else args.scale
        return _random_weights(fam, cell, args, scale, args.seed)
    random_flags = [
        f"--{k}"
        for k in ("hidden", "input", "scale", "init", "size")
        if getattr(args, k) is not None
    ]
    if random_flags:
        raise GradproofInputError(
            f"{', '.join(random_flags)} describe random weights; drop them when using --weights"
        )
    state = load_state_dict(args.weights)
    if fam.layout is not None:
        return torch_weights(state, fam.name, args.layer).params
    if args.layer is not None:
        raise GradproofInputError(
            f"--layer applies to PyTorch multi-layer files, not to {args.cell}"
        )
    return named_params(state, cell)


def _compiled(cell: Cell, params: dict[str, np.ndarray]):
    """The cell compiled at the sizes its weights fix; every size must be fixed."""
    try:
        model = compile_cell(cell, **cell_sizes(cell, params))
        model.input_size  # noqa: B018 - compiling is lazy; this checks every size is known
        return model
    except ValueError as exc:  # a size no parameter fixes (an input no weight multiplies)
        raise GradproofInputError(
            f"cannot read every size of {cell.name!r} off the weights: {exc}"
        ) from None


def run_flow(args: argparse.Namespace) -> int:
    """Handler of ``gradproof flow``; returns the exit code."""
    fam = lookup(args.cell)
    if fam.flow is not None:
        report, shown = load_entry_point(fam.flow)(args)
        print(json.dumps(report, allow_nan=False) if args.json else shown)
        return 0
    grid_only = [f"--{name}" for name in ("layers", "tied") if getattr(args, name)]
    if grid_only:
        verb, pronoun = ("applies", "it") if len(grid_only) == 1 else ("apply", "them")
        raise GradproofInputError(f"{', '.join(grid_only)} {verb} only to gridlstm; drop {pronoun}")
    cell = fam.build(**chosen_options(fam, args))
    args.steps = 100 if args.steps is None else args.steps
    if args.plot:
        check_plot_path(args.plot)
    params = _weights(fam, cell, args)
    model = _compiled(cell, params)
    if args.inputs is not None:
        inputs = load_inputs(args.inputs, model.input_size)
    else:
        inputs = random_inputs(args.steps, model.input_size, args.seed)
    s0 = load_state0(args.h0, model.state_size)
    flow = gradient_flow(model, params, inputs, s0)
    bound = evaluate_bound(cell, params)
    log10_b = None if bound is None else log10_bound(bound.value, flow.steps)
    result = verdict(bound, flow.log10_norm).as_dict()
    hidden = model.state_sizes[0]
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {flow.steps}"
        curve = np.where(np.isfinite(flow.log10_norm), flow.log10_norm, np.nan)
        plot_flow(args.plot, curve, log10_b, title)
    if args.json:
        report = {
            "cell": args.cell,
            "hidden": hidden,
            "steps": flow.steps,
            "gamma": None if bound is None else bound.gamma,
            "sigma_max": None if bound is None else bound.sigma_max,
            "spectral_radius": None if bound is None else bound.spectral_radius,
            "log10_norm": json_floats(flow.log10_norm),
            "log10_bound": None if log10_b is None else json_floats(log10_b),
            "verdict": result,
        }
        print(json.dumps(report, allow_nan=False))
        return 0
    print(f"cell {args.cell} ({cell.title}), hidden {hidden}, steps {flow.steps}")
    if bound is None:
        print("no step bound declared for this cell")
    else:
        shown = [f"step bound B = {bound.formula} = {bound.value:.6g}"]
        shown += [
            f"{name} {value:.6g}"
            for name, value in (
                ("gamma", bound.gamma),
                ("sigma_max", bound.sigma_max),
                ("spectral radius", bound.spectral_radius),
            )
            if value is not None
        ]
        print(", ".join(shown))
    print(f"{'k':>8}  {'log10 norm':>14}  {'log10 bound':>14}")
    for k in _table_rows(flow.steps):
        shown = "n/a" if log10_b is None else f"{log10_b[k - 1]:14.6f}"
        print(f"{k:>8}  {flow.log10_norm[k - 1]:14.6f}  {shown:>14}")
    print(f"verdict: {result['summary']}")
    return 0


def _table_rows(steps: int) -> list[int]:
    rows = {steps}
    decade = 1
    while decade <= steps:
        rows.update(m * decade for m in (1, 2, 5) if m * decade <= steps)
        decade *= 10
    return sorted(rows)


def run_sweep(args: argparse.Namespace) -> int:
    """Handler of ``gradproof sweep``; returns the exit code."""
    fam = lookup(args.cell)
    cell = fam.build(**chosen_options(fam, args)) if fam.flow is None else None
    if cell is None or cell.bound is None:
        raise GradproofInputError(
            f"sweep sets the decay rate against a cell's step bound; {args.cell} declares none"
        )
    if args.plot:
        check_plot_path(args.plot)
    scales = parse_scales(args.scales)
    if args.seeds < 1:
        raise GradproofInputError(f"--seeds must be at least 1, got {args.seeds}")
    draws = [
        [_random_weights(fam, cell, args, s, seed) for seed in range(args.seeds)] for s in scales
    ]
    bounds = np.array([[evaluate_bound(cell, p).value for p in row] for row in draws])
    model = _compiled(cell, draws[0][0])
    hidden, input_size = model.state_sizes[0], model.input_size

    def progress(done: int, total: int, scale: float, seed: int, rate: float) -> None:
        print(
            f"sweep {done}/{total}: scale {scale:.4g}, seed {seed}, rate {rate:.4g} decades/step",
            file=sys.stderr,
            flush=True,
        )

    rates = decay_rates(
        cell,
        None if fam.layout is None else fam.name,
        scales,
        steps=args.steps,
        seeds=args.seeds,
        hidden=hidden,
        input_size=input_size,
        init=args.init or _DEFAULT_RANDOM["init"],
        sizes=_parse_sizes(args.size),
        progress=progress,
    )
    B = bounds.mean(axis=1)
    mean = rates.mean(axis=1)
    measured = crossing(B, mean)
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {args.steps}, {args.seeds} seed(s)"
        plot_sweep(args.plot, B, np.where(np.isfinite(rates), rates, np.nan), title)
    if args.json:
        report = {
            "cell": args.cell,
            "hidden": hidden,
            "steps": args.steps,
            "seeds": args.seeds,
            "gamma": None if cell.bound.gamma is None else float(cell.bound.gamma),
            "scale": scales.tolist(),
            "step_bound": B.tolist(),
            "decay_rate": [json_floats(row) for row in rates],
            "mean_decay_rate": json_floats(mean),
            "bound_rate": json_floats(np.log10(B)),
            "measured_crossing": measured,
        }
        print(json.dumps(report, allow_nan=False))
        return 0
    formula = evaluate_bound(cell, draws[0][0]).formula
    print(
        f"cell {args.cell} ({cell.title}), hidden {hidden}, steps {args.steps}, seeds {args.seeds}"
    )
    print(f"step bound B = {formula}")
    print(f"{'B':>16}  {'mean rate':>12}  {'bound rate':>12}  guarantee")
    for g, r in zip(B, mean, strict=True):
        guarantee = "vanishing" if g < 1 else "none"
        print(f"{g:16.4f}  {r:12.5f}  {math.log10(g):12.5f}  {guarantee}")
    where = "not within the range" if measured is None else f"at B = {measured:.3f}"
    print(f"below B = 1 vanishing is guaranteed; the measured rate crosses 0 {where}")
    return 0
