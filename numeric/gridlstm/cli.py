"""``gradproof flow gridlstm``: gradient flow through the 2D Grid LSTM.

:func:`run_gridlstm_flow` validates the options of ``gradproof flow``, runs
the model on random or file weights and returns the JSON-ready result;
:func:`format_gridlstm_flow` prints it as a table; :func:`flow_command` is
the runner the Grid LSTM family registers for ``flow``.  Its defaults,
:data:`GRIDLSTM_DEFAULTS`, are those of :mod:`numeric.cli_common`, from which
the help of ``gradproof flow`` is written.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from symbolic.gridlstm import OUTPUT_FORMS, PRIORITIES

from ..bounds import verdict
from ..budget import check_cost, depth_map_cost, flow_cost
from ..cli_common import GRIDLSTM_DEFAULTS, SEED_UNUSED, seed_of
from ..errors import GradproofInputError
from ..flow import json_floats
from ..loading import load_inputs
from ..plots import check_plot_path
from ..weights import random_inputs
from .compiled import CompiledGrid, compile_grid
from .flows import depth_decay_phrase, depth_flow_map, time_flow
from .models import grid_model
from .weight_files import grid_weight_shapes, load_grid_weights, random_grid_weights

__all__ = ["GRIDLSTM_DEFAULTS", "flow_command", "format_gridlstm_flow", "run_gridlstm_flow"]


def run_gridlstm_flow(args: argparse.Namespace) -> dict:
    """Run ``flow gridlstm`` and return its JSON-ready result.

    Keys: ``cell, hidden, input, layers, steps, tied, output_form, priority,
    gamma, sigma_max, spectral_radius, log10_norm, log10_bound, verdict,
    log10_norm_depth, depth_slope``.  ``log10_norm[k-1]`` is
    ``log10 ||ds_T/ds_{T-k}||_2`` for the time state (per layer, bottom first,
    ``[h^T; m^T]``); ``log10_norm_depth[l]`` is
    ``log10 ||dh^D_{T,L}/dh^D_{T,l}||_2``, l = 0..L-1.  No norm bound is known
    for gated cells, so ``gamma``, ``sigma_max``, ``spectral_radius`` and
    ``log10_bound`` are null, as for every cell that declares no bound.

    Examples
    --------
    >>> from numeric.flow_cli import add_flow_parser
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_flow_parser(parser.add_subparsers())
    >>> args = parser.parse_args(["flow", "gridlstm", "--hidden", "3", "--input", "2",
    ...                           "--layers", "2", "--steps", "4"])
    >>> result = run_gridlstm_flow(args)
    >>> result["cell"], len(result["log10_norm"]), len(result["log10_norm_depth"])
    ('gridlstm', 4, 2)
    """
    for flag in ("activation", "variant", "layer", "init", "h0", "size"):
        if getattr(args, flag, None) is not None:
            raise GradproofInputError(f"--{flag} does not apply to gridlstm; drop it")
    for flag, allowed in (("output_form", tuple(sorted(OUTPUT_FORMS))), ("priority", PRIORITIES)):
        given = getattr(args, flag, None)
        if given is not None and given not in allowed:
            raise GradproofInputError(
                f"--{flag.replace('_', '-')} {given} is not available for gridlstm; "
                f"choose one of {', '.join(allowed)}"
            )
    if getattr(args, "plot", None):
        check_plot_path(args.plot)
    args.output_form = args.output_form or GRIDLSTM_DEFAULTS["output_form"]
    args.priority = args.priority or GRIDLSTM_DEFAULTS["priority"]
    model = grid_model("gridlstm", output_form=args.output_form, priority=args.priority)
    seed = getattr(args, "seed", None)  # None: not given, 0 by default
    inputs_file = getattr(args, "inputs", None)

    def value(name: str):
        given = getattr(args, name, None)
        return GRIDLSTM_DEFAULTS[name] if given is None else given

    if getattr(args, "weights", None) is not None:
        if getattr(args, "scale", None) is not None:
            raise GradproofInputError("--scale describes random weights; drop it with --weights")
        if seed is not None and inputs_file is not None:
            raise GradproofInputError(SEED_UNUSED)
        weights = load_grid_weights(
            args.weights,
            model,
            # tied weights do not say how many layers: then the default, as for random ones
            layers=value("layers") if args.tied else args.layers,
            hidden=args.hidden,
            input_size=args.input,
            tied=args.tied,
        )
        hidden, input_size, layers = weights.hidden, weights.input_size, weights.layers
        numbers = sum(a.size for a in weights.arrays.values())
    else:
        weights = None
        hidden, input_size, layers = value("hidden"), value("input"), value("layers")
        shapes = grid_weight_shapes(model, hidden, input_size, layers, args.tied)
        numbers = sum(math.prod(shape) for shape in shapes.values())
    inputs = None if inputs_file is None else load_inputs(inputs_file, input_size)
    steps = value("steps") if inputs is None else len(inputs)
    grid = compile_grid(model, hidden)
    shrink = ["--steps" if inputs_file is None else "the steps in --inputs"]
    if weights is None:
        shrink.append("--hidden, --layers or --input")
    _check_cost(grid, steps, layers, input_size, numbers, "lower " + ", ".join(shrink))
    if weights is None:
        with np.errstate(over="ignore"):
            weights = random_grid_weights(
                model,
                hidden,
                input_size,
                layers,
                tied=args.tied,
                scale=value("scale"),
                seed=seed_of(args),
            )
        if not all(np.all(np.isfinite(a)) for a in weights.arrays.values()):
            raise GradproofInputError(
                f"--scale {value('scale'):g} draws weight entries beyond the largest float64 "
                "number (1.8e308); lower --scale"
            )
    if inputs is None:
        inputs = random_inputs(steps, input_size, seed_of(args))
    # the (t, l) map first: it refuses sizes whose map is too large at once
    depth = depth_flow_map(grid, weights, inputs)
    flow = time_flow(grid, weights, inputs)
    depth_rate = depth.depth_slope
    result = {
        "cell": "gridlstm",
        "hidden": hidden,
        "input": input_size,
        "layers": layers,
        "steps": flow.steps,
        "tied": weights.tied,
        "output_form": args.output_form,
        "priority": args.priority,
        "gamma": None,
        "sigma_max": None,
        "spectral_radius": None,
        "log10_norm": json_floats(flow.log10_norm),
        "log10_bound": None,
        "verdict": verdict(None, flow.log10_norm).as_dict(),
        "log10_norm_depth": json_floats(depth.log10_norm_depth),
        "depth_slope": depth_rate if math.isfinite(depth_rate) else None,
    }
    if getattr(args, "plot", None):
        from .figures import plot_depth_flow  # matplotlib: only when drawing

        plot_depth_flow(
            args.plot,
            {model.cell.title: depth},
            f"hidden {hidden}, {layers} layers, T = {flow.steps}",
        )
    return result


def _check_cost(
    grid: CompiledGrid, steps: int, layers: int, inputs: int, params: int, shrink: str
) -> None:
    """Refuse sizes whose time flow and (t, l) map do not fit in memory or time."""
    hidden = grid.hidden
    state, block = grid.time_vectors * hidden * layers, (grid.time_vectors + grid.depth_vectors)
    cost = flow_cost(steps, state, inputs, params) + depth_map_cost(
        steps, layers, hidden, block * hidden
    )
    check_cost(
        cost,
        f"a Grid LSTM flow over {steps} steps, {layers} layers of hidden size {hidden}",
        shrink,
    )


def format_gridlstm_flow(result: dict) -> str:
    """The result of :func:`run_gridlstm_flow` as text for a terminal.

    Examples
    --------
    >>> print(format_gridlstm_flow({"hidden": 2, "layers": 1, "steps": 1, "tied": False,
    ...     "output_form": "paper", "priority": "none",
    ...     "log10_norm": [-0.5], "log10_norm_depth": [-0.25], "depth_slope": 0.25,
    ...     "verdict": {"summary": "s"}}))
    gridlstm, hidden 2, layers 1, steps 1, untied, output form paper, priority none
           k    log10 ||ds_T/ds_{T-k}||
           1                  -0.500000
           l  log10 ||dh^D_{T,L}/dh^D_{T,l}||
           0                  -0.250000
    depth: the gradient of the top output decays by 0.250 decades per layer going down from the output
    verdict: s
    """
    r = result
    lines = [
        f"gridlstm, hidden {r['hidden']}, layers {r['layers']}, steps {r['steps']}, "
        f"{'tied' if r['tied'] else 'untied'}, output form {r['output_form']}, "
        f"priority {r['priority']}",
        f"{'k':>8}    log10 ||ds_T/ds_{{T-k}}||",
    ]
    for k, v in enumerate(r["log10_norm"], start=1):
        lines.append(f"{k:>8}  {'-inf' if v is None else f'{v:25.6f}'}")
    lines.append(f"{'l':>8}  log10 ||dh^D_{{T,L}}/dh^D_{{T,l}}||")
    for level, v in enumerate(r["log10_norm_depth"]):
        lines.append(f"{level:>8}  {'-inf' if v is None else f'{v:25.6f}'}")
    lines.append(f"depth: the gradient of the top output {depth_decay_phrase(r['depth_slope'])}")
    lines.append(f"verdict: {r['verdict']['summary']}")
    return "\n".join(lines)


def flow_command(args: argparse.Namespace) -> tuple[dict, str]:
    """The Grid LSTM's ``gradproof flow``: the JSON-ready result and its table."""
    result = run_gridlstm_flow(args)
    return result, format_gridlstm_flow(result)
