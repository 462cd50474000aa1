"""The ``flow`` and ``params`` subcommands.

``gradproof flow CELL`` measures ``||ds_T/ds_{T-k}||_2`` for k = 1..T on real
or random weights and sets it against the cell's bound ``B^k``.  Handlers
validate everything before computing (the options, the output's path, the
memory and time the sizes need: :mod:`numeric.budget`), write files only at
the end, whole (:mod:`numeric.outputs`), and let
:class:`~numeric.errors.GradproofInputError` propagate to ``main``.

Every cell takes the same path: the registry's family gives the cell, its
weight layout (PyTorch gate slices, or files keyed by parameter names) and
its declared step bound; a family whose flow is not one cell along time
(the Grid LSTM) names its own runner.  ``gradproof params`` lists the keys
and shapes a weight file needs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from symbolic.registry import CellFamily, load_entry_point

from .cli_common import (
    CELL_HELP,
    DEFAULT_RANDOM,
    FLOW_STEPS,
    GRIDLSTM_DEFAULTS,
    SEED_UNUSED,
    add_cell_arguments,
    check_numbers,
    chosen_options,
    compiled,
    default_note,
    flags_describe,
    lookup,
    random_sizes,
    random_weights,
    seed_of,
)
from .errors import GradproofInputError
from .outputs import json_line

if TYPE_CHECKING:
    import numpy as np

    from symbolic.cells import Cell

__all__ = ["add_flow_parser", "add_params_parser"]


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
    add_cell_arguments(parser, gridlstm=True)
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="weights as .npz (or .pt/.pth with torch): a PyTorch state_dict, or keyed by "
        "parameter names (see gradproof params CELL)",
    )
    parser.add_argument(
        "--layer", type=int, metavar="K", help="layer K of a multi-layer module (_lK names)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        metavar="S",
        help="random weights: sigma_max(W_hh) = S; for cells keyed by parameter names, "
        "sigma_max of every matrix, max |v_i| of every vector, scalars uniform in (0, S); "
        "for gridlstm, weight entries of standard deviation S/sqrt(2H), H the hidden size "
        f"({default_note(DEFAULT_RANDOM['scale'], GRIDLSTM_DEFAULTS['scale'])})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="K",
        help="random-number seed of the random weights and inputs: the same K draws the same "
        "numbers (default 0)",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--inputs", metavar="F.npy", help="inputs x_1..x_T, shape (T, in)")
    source.add_argument(
        "--steps",
        type=int,
        metavar="T",
        help=f"T standard-normal inputs ({default_note(FLOW_STEPS, GRIDLSTM_DEFAULTS['steps'])})",
    )
    parser.add_argument("--h0", metavar="F.npy", help="initial state, shape (N,); default zeros")
    parser.add_argument(
        "--output-form",
        help="gridlstm: h' = tanh(o*m') (paper) or o*tanh(m') (standard) "
        f"(default {GRIDLSTM_DEFAULTS['output_form']})",
    )
    parser.add_argument(
        "--priority",
        help="gridlstm: depth reads the new time hidden vector (depth) or not (none) "
        f"(default {GRIDLSTM_DEFAULTS['priority']})",
    )
    parser.add_argument(
        "--layers",
        type=int,
        metavar="L",
        help=f"gridlstm: layers L (default {GRIDLSTM_DEFAULTS['layers']})",
    )
    parser.add_argument(
        "--tied", action="store_true", help="gridlstm: one weight set for all layers"
    )
    parser.set_defaults(func=run_flow)
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
        used = {p.name for p in cell.params}
        vectors = {n: k for n, k in fam.layout.vectors.items() if n in used}
        print(f"cell {args.cell} ({cell.title}): a PyTorch state_dict, G = {G} gates ({gates})")
        for key, shape in (
            ("weight_ih", "(G*H, in)"),
            ("weight_hh", "(G*H, H)"),
            ("bias_ih", "(G*H,)"),
            ("bias_hh", "(G*H,)"),
            *((key, "(H,)") for key in vectors.values()),
        ):
            print(f"  {key:<10} {shape}")
        print("multi-layer modules suffix _lK (choose one with --layer K); the cell reads")
        for name, terms in fam.layout.params.items():
            parts = " + ".join(f"{tensor}[{gate}]" for tensor, gate in terms)
            print(f"  {name} = {parts}")
        for name, key in vectors.items():
            print(f"  {name} = {key}")
        return 0
    print(f"cell {args.cell} ({cell.title}): a .npz (or .pt) keyed by parameter name")
    from .weights import param_shapes

    shapes = param_shapes(cell)
    width = max((len(k) for k in shapes), default=0)
    for name, shape in shapes.items():
        shown = "scalar, a 0-d array" if shape == () else str(shape)
        print(f"  {name:<{width}}  {shown}")
    dims = ", ".join(str(d) for d in cell.dims) or "none"
    flags = " ".join(f"--size {d}=N" for d in cell.dims)
    print(f"sizes {dims} are read off the arrays; random weights: {flags}")
    return 0


def _shrink(fam: CellFamily, args: argparse.Namespace) -> str:
    """What to lower when a run is too large: the options that set its sizes."""
    parts = ["--steps" if args.inputs is None else "the steps in --inputs"]
    if args.weights is None:
        parts.append("--hidden or --input" if fam.layout is not None else "--size")
    return "lower " + ", ".join(parts)


def _weights(fam: CellFamily, cell: Cell, args: argparse.Namespace) -> dict[str, np.ndarray]:
    from .budget import check_cost, flow_cost
    from .loading import load_state_dict
    from .weights import named_params, torch_weights

    if args.weights is None:
        if args.layer is not None:
            raise GradproofInputError("--layer selects a layer of --weights; pass --weights too")
        state, inputs, numbers = random_sizes(fam, cell, args)
        steps = 1 if args.inputs is not None else args.steps  # the inputs' steps: once read
        what = f"a flow over {steps} steps" if args.inputs is None else "a flow"
        cost = flow_cost(steps, state, inputs, numbers)
        check_cost(cost, f"{what} with a state of {state} numbers", _shrink(fam, args))
        scale = DEFAULT_RANDOM["scale"] if args.scale is None else args.scale
        return random_weights(fam, cell, args, scale, seed_of(args))
    random_flags = [
        f"--{k}"
        for k in ("hidden", "input", "scale", "init", "size")
        if getattr(args, k) is not None
    ]
    if random_flags:
        raise GradproofInputError(
            f"{flags_describe(random_flags)} random weights; drop "
            f"{'it' if len(random_flags) == 1 else 'them'} when using --weights"
        )
    if args.inputs is not None and args.seed is not None:
        raise GradproofInputError(SEED_UNUSED)
    state = load_state_dict(args.weights)
    if fam.layout is not None:
        return torch_weights(state, fam.name, args.layer, cell).params
    if args.layer is not None:
        raise GradproofInputError(
            f"--layer applies to PyTorch multi-layer files, not to {args.cell}"
        )
    return named_params(state, cell)


def run_flow(args: argparse.Namespace) -> int:
    """Handler of ``gradproof flow``; returns the exit code.

    Everything is checked before the run (the options, the plot's path, the
    memory and time the sizes need); the plot is written, whole, after the
    output is ready and before it is printed.
    """
    check_numbers(args)
    fam = lookup(args.cell)
    if fam.flow is not None:
        report, shown = load_entry_point(fam.flow)(args)
        print(json_line(report) if args.json else shown)
        return 0
    grid_only = [f"--{name}" for name in ("layers", "tied") if getattr(args, name)]
    if grid_only:
        verb, pronoun = ("applies", "it") if len(grid_only) == 1 else ("apply", "them")
        raise GradproofInputError(f"{', '.join(grid_only)} {verb} only to gridlstm; drop {pronoun}")
    cell = fam.build(**chosen_options(fam, args))
    import numpy as np

    from .bounds import evaluate_bound, log10_bound, verdict
    from .budget import check_cost, flow_cost
    from .flow import gradient_flow
    from .loading import load_inputs, load_state0
    from .plots import check_plot_path, plot_flow
    from .weights import random_inputs

    args.steps = FLOW_STEPS if args.steps is None else args.steps
    if args.plot:
        check_plot_path(args.plot)
    params = _weights(fam, cell, args)
    model = compiled(cell, params)
    inputs = None if args.inputs is None else load_inputs(args.inputs, model.input_size)
    steps = args.steps if inputs is None else len(inputs)
    cost = flow_cost(
        steps, model.state_size, model.input_size, sum(np.size(p) for p in params.values())
    )
    check_cost(
        cost,
        f"a flow over {steps} steps with a state of {model.state_size} numbers",
        _shrink(fam, args),
    )
    if inputs is None:
        inputs = random_inputs(steps, model.input_size, seed_of(args))
    s0 = load_state0(args.h0, model.state_size)
    flow = gradient_flow(model, params, inputs, s0)
    bound = evaluate_bound(cell, params)
    log10_b = None if bound is None else log10_bound(bound.value, flow.steps)
    result = verdict(bound, flow.log10_norm).as_dict()
    hidden = model.state_sizes[0]
    if args.json:
        shown = json_line(
            {
                "cell": args.cell,
                "hidden": hidden,
                "steps": flow.steps,
                "gamma": None if bound is None else bound.gamma,
                "sigma_max": None if bound is None else bound.sigma_max,
                "spectral_radius": None if bound is None else bound.spectral_radius,
                "log10_norm": flow.log10_norm,
                "log10_bound": log10_b,
                "verdict": result,
            }
        )
    else:
        shown = _flow_table(args.cell, cell.title, hidden, flow.log10_norm, bound, log10_b, result)
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {flow.steps}"
        curve = np.where(np.isfinite(flow.log10_norm), flow.log10_norm, np.nan)
        plot_flow(args.plot, curve, log10_b, title)
    print(shown)
    return 0


def _flow_table(cell_name, title, hidden, log10_norm, bound, log10_b, result) -> str:
    """The text answer of ``flow``: the bound, the norms at k = 1, 2, 5, 10, ..., the verdict."""
    steps = len(log10_norm)
    lines = [f"cell {cell_name} ({title}), hidden {hidden}, steps {steps}"]
    if bound is None:
        lines.append("no step bound declared for this cell")
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
        lines.append(", ".join(shown))
    lines.append(f"{'k':>8}  {'log10 norm':>14}  {'log10 bound':>14}")
    for k in _table_rows(steps):
        shown = "n/a" if log10_b is None else f"{log10_b[k - 1]:14.6f}"
        lines.append(f"{k:>8}  {log10_norm[k - 1]:14.6f}  {shown:>14}")
    lines.append(f"verdict: {result['summary']}")
    return "\n".join(lines)


def _table_rows(steps: int) -> list[int]:
    rows = {steps}
    decade = 1
    while decade <= steps:
        rows.update(m * decade for m in (1, 2, 5) if m * decade <= steps)
        decade *= 10
    return sorted(rows)
