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
    random_torch_state,
    random_weights,
    seed_of,
)
from .errors import GradproofInputError
from .outputs import json_line

if TYPE_CHECKING:
    import numpy as np

    from symbolic.cells import Cell

    from .compile import CompiledCell
    from .stack import StackedCell

__all__ = [
    "add_flow_parser",
    "add_params_parser",
    "run_flow",
]


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
        help="weights as .npz (or .pt/.pth with torch): a PyTorch state_dict, a module's or a "
        "whole model's, or keyed by parameter names (see gradproof params CELL)",
    )
    parser.add_argument(
        "--layer",
        type=int,
        metavar="K",
        help="layer K alone of a multi-layer module (_lK names); without it, a multi-layer "
        "module is measured whole, as one stacked network",
    )
    parser.add_argument(
        "--module",
        metavar="NAME",
        help="the recurrent module of a whole model's state_dict to measure, by its path "
        "(rnn, encoder.rnn); needed only where the file holds several of the cell's type",
    )
    parser.add_argument(
        "--direction",
        choices=("forward", "reverse"),
        help="the direction of a bidirectional module (reverse: its _reverse weights, reading "
        "the inputs last to first, as the module does)",
    )
    parser.add_argument(
        "--spectrum",
        type=int,
        metavar="K",
        help="also the K largest singular values of ds_T/ds_{T-k} for every k (log10) and the "
        "K leading Lyapunov exponents (QR method, natural log per step), with the largest "
        "checked against ln B where the cell declares a step bound B",
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
        help="random weights: L layers; rnn, lstm and gru stacked as PyTorch's num_layers, "
        "measured as one network "
        f"({default_note(DEFAULT_RANDOM['layers'], GRIDLSTM_DEFAULTS['layers'])})",
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
        print(
            "multi-layer modules suffix _lK: all layers are measured as one stacked network, "
            "one alone with --layer K;\na whole model's keys carry the module's path "
            "(rnn.weight_hh_l0): choose a module with --module NAME,\na bidirectional one's "
            "direction (_reverse keys) with --direction; the cell reads"
        )
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
    """What to lower when a run is too large: the options that set its sizes.

    Examples
    --------
    >>> args = argparse.Namespace(inputs=None, weights=None, layers=2, spectrum=4)
    >>> _shrink(lookup("gru"), args)
    'lower --steps, --hidden, --input, --layers or --spectrum'
    """
    parts = ["--steps" if args.inputs is None else "the steps in --inputs"]
    if args.weights is None:
        parts += ["--hidden", "--input"] if fam.layout is not None else ["--size"]
        if args.layers is not None:
            parts.append("--layers")
    if args.spectrum is not None:
        parts.append("--spectrum")
    return "lower " + (f"{', '.join(parts[:-1])} or {parts[-1]}" if len(parts) > 1 else parts[0])


#: Options that pick weights out of a PyTorch file.
_FILE_OPTIONS = ("layer", "module", "direction")


def _torch_network(state, fam: CellFamily, cell: Cell, args: argparse.Namespace):
    from .state_dicts import torch_network

    options = chosen_options(fam, args)
    return torch_network(
        state,
        fam.name,
        cell,
        options,
        module=args.module,
        direction=args.direction,
        layer=args.layer,
    )


def _network(
    fam: CellFamily, cell: Cell, args: argparse.Namespace
) -> tuple[CompiledCell | StackedCell, dict[str, np.ndarray]]:
    """The network measured and its parameters: a compiled cell, or a stack (parameters ``{}``)."""
    from .budget import check_cost, flow_cost
    from .loading import load_state_dict
    from .weights import named_params

    if args.weights is None:
        chosen = [f"--{k}" for k in _FILE_OPTIONS if getattr(args, k) is not None]
        if chosen:
            verb = "selects" if len(chosen) == 1 else "select"
            raise GradproofInputError(
                f"{', '.join(chosen)} {verb} weights in --weights; pass --weights too"
            )
        state, inputs, numbers = random_sizes(fam, cell, args)
        steps = 1 if args.inputs is not None else args.steps  # the inputs' steps: once read
        what = f"a flow over {steps} steps" if args.inputs is None else "a flow"
        cost = flow_cost(steps, state, inputs, numbers)
        check_cost(cost, f"{what} with a state of {state} numbers", _shrink(fam, args))
        scale = DEFAULT_RANDOM["scale"] if args.scale is None else args.scale
        if fam.layout is not None:
            return _torch_network(
                random_torch_state(fam, args, scale, seed_of(args)), fam, cell, args
            )
        params = random_weights(fam, cell, args, scale, seed_of(args))
        return compiled(cell, params), params
    random_flags = [
        f"--{k}"
        for k in ("hidden", "input", "layers", "scale", "init", "size")
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
        return _torch_network(state, fam, cell, args)
    chosen = [f"--{k}" for k in _FILE_OPTIONS if getattr(args, k) is not None]
    if chosen:
        verb = "applies" if len(chosen) == 1 else "apply"
        raise GradproofInputError(
            f"{', '.join(chosen)} {verb} to PyTorch state_dicts, not to {args.cell}"
        )
    params = named_params(state, cell)
    return compiled(cell, params), params


def run_flow(args: argparse.Namespace) -> int:
    """Handler of ``gradproof flow``; returns the exit code.

    Everything is checked before the run (the options, the plot's path, the
    memory and time the sizes need); the plot is written, whole, after the
    output is ready and before it is printed.
    """
    check_numbers(args)
    fam = lookup(args.cell)
    if fam.flow is not None:
        others = [f"--{k}" for k in (*_FILE_OPTIONS[1:], "spectrum") if getattr(args, k)]
        if others:
            verb, pronoun = ("does", "it") if len(others) == 1 else ("do", "them")
            raise GradproofInputError(
                f"{', '.join(others)} {verb} not apply to {args.cell}; drop {pronoun}"
            )
        report, shown = load_entry_point(fam.flow)(args)
        print(json_line(report) if args.json else shown)
        return 0
    if args.tied:
        raise GradproofInputError("--tied applies only to gridlstm; drop it")
    cell = fam.build(**chosen_options(fam, args))
    import numpy as np

    from .bounds import evaluate_bound
    from .budget import check_cost, flow_cost, spectrum_cost, stack_map_cost
    from .flow import gradient_flow
    from .flow_answers import cell_answer, layer_bounds, plot_answer, stack_answer
    from .loading import load_inputs, load_state0
    from .plots import check_plot_path
    from .stack import StackedCell
    from .weights import random_inputs

    args.steps = FLOW_STEPS if args.steps is None else args.steps
    if args.plot:
        check_plot_path(args.plot)
    model, params = _network(fam, cell, args)
    stacked = isinstance(model, StackedCell)
    N = model.state_size
    if args.spectrum is not None and args.spectrum > N:
        raise GradproofInputError(
            f"--spectrum {args.spectrum} asks for more singular values than the state has "
            f"numbers (N = {N}); give at most --spectrum {N}"
        )
    inputs = None if args.inputs is None else load_inputs(args.inputs, model.input_size)
    steps = args.steps if inputs is None else len(inputs)
    weights = model.params if stacked else (params,)
    cost = flow_cost(
        steps, N, model.input_size, sum(np.size(p) for w in weights for p in w.values())
    )
    if args.spectrum is not None:
        cost += spectrum_cost(steps, N, args.spectrum)
    if stacked and args.plot:
        cost += stack_map_cost(steps, N, model.depth, model.hidden_sizes[-1])
    what = f"a flow over {steps} steps with a state of {N} numbers"
    if args.spectrum is not None:
        what += f" and its {args.spectrum} largest singular values"
    check_cost(cost, what, _shrink(fam, args))
    if inputs is None:
        inputs = random_inputs(steps, model.input_size, seed_of(args))
    if args.direction == "reverse":
        inputs = inputs[::-1]  # the reverse direction reads x_T first
    s0 = load_state0(args.h0, N)
    flow = gradient_flow(model, params, inputs, s0)
    if stacked:
        bound = layer_bounds(cell, model)
        result, lines = stack_answer(args.cell, cell, model, flow, inputs, s0, bound)
    else:
        bound = evaluate_bound(cell, params)
        result, lines = cell_answer(args.cell, cell, model, flow, bound)
    if args.spectrum is not None:
        from .spectrum_answers import spectrum_answer

        more, spectrum_lines = spectrum_answer(model, params, inputs, s0, args.spectrum, bound)
        result.update(more)
        lines += spectrum_lines
    lines.append(f"verdict: {result['verdict']['summary']}")
    shown = json_line(result) if args.json else "\n".join(lines)
    if args.plot:
        plot_answer(args.plot, cell, model, flow, result, inputs, s0)
    print(shown)
    return 0
