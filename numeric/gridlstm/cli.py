"""``gradproof flow gridlstm``: gradient flow through a Grid LSTM over sequences.

:func:`run_gridlstm_flow` validates the options of ``gradproof flow``, builds
the grid they describe (:func:`~numeric.gridlstm.models.grid_nd`: 1D, 2D or
3D, LSTM and non-LSTM dimensions, priority, peepholes, weights tied across
dimensions or layers, the input dimension's memory), runs it on random or
file weights and returns the JSON-ready result; :func:`format_gridlstm_flow`
prints it as a table; :func:`flow_command` is the runner the Grid LSTM
family registers for ``flow``.  Its defaults, :data:`GRIDLSTM_DEFAULTS`, are
those of :mod:`numeric.cli_common`, from which the help of ``gradproof
flow`` is written.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from symbolic.activations import ACTIVATIONS
from symbolic.gridlstm.transform import OUTPUT_FORMS

from ..bounds import Verdict, verdict
from ..budget import Cost, check_cost, depth_map_cost, flow_cost
from ..cli_common import GRIDLSTM_DEFAULTS, SEED_UNUSED, seed_of
from ..errors import GradproofInputError
from ..flow import json_floats
from ..loading import load_inputs
from ..plots import check_plot_path
from ..weights import random_inputs
from .compiled import CompiledGrid, compile_grid
from .flows import depth_decay_phrase, depth_flow_map, time_flow
from .models import grid_nd
from .sequence_grids import MEMORY_INPUTS, SequenceGrid
from .weight_files import grid_weight_shapes, load_grid_weights, random_grid_weights

__all__ = ["GRIDLSTM_DEFAULTS", "flow_command", "format_gridlstm_flow", "run_gridlstm_flow"]

#: The grid ``flow gridlstm`` runs without ``--dims``: the 2D Grid LSTM.
DEFAULT_DIMS = "time,depth"
#: The verdict of a grid that carries nothing along time.
NO_TIME = "no dimension along time: nothing is carried from step to step"


def _names(text: str, flag: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise GradproofInputError(
            f"{flag} {text!r} has an empty name; separate names by single commas, e.g. time,depth"
        )
    return names


def _non_lstm(text: str | None) -> dict[str, str]:
    """``NAME=FN,...`` as ``{name: fn}``."""
    kinds: dict[str, str] = {}
    for entry in () if text is None else _names(text, "--non-lstm"):
        name, equals, fn = (part.strip() for part in entry.partition("="))
        if not (name and equals and fn in ACTIVATIONS):
            raise GradproofInputError(
                f"--non-lstm {entry!r}: expected NAME=FN with FN one of "
                f"{', '.join(sorted(ACTIVATIONS))}, e.g. depth=relu"
            )
        if name in kinds:
            raise GradproofInputError(f"--non-lstm names {name} twice; give it one function")
        kinds[name] = fn
    return kinds


def _grid(args: argparse.Namespace) -> tuple[SequenceGrid, dict]:
    """The grid the options describe, and its description for the result.

    Options that do not apply to the grid are refused.
    """
    given_dims, given_priority = getattr(args, "dims", None), getattr(args, "priority", None)
    dims = _names(DEFAULT_DIMS if given_dims is None else given_dims, "--dims")
    non_lstm = _non_lstm(getattr(args, "non_lstm", None))
    if given_priority is None:
        given_priority = GRIDLSTM_DEFAULTS["priority"]
    priority = () if given_priority == "none" else _names(given_priority, "--priority")
    memory_input = getattr(args, "memory_input", None)
    output_form = getattr(args, "output_form", None)
    for flag, given, allowed in (
        ("--memory-input", memory_input, tuple(MEMORY_INPUTS)),
        ("--output-form", output_form, tuple(sorted(OUTPUT_FORMS))),
    ):
        if given is not None and given not in allowed:
            raise GradproofInputError(
                f"{flag} {given} is not available for gridlstm; choose one of {', '.join(allowed)}"
            )
    peepholes = bool(getattr(args, "peepholes", False))
    tied_dims = bool(getattr(args, "tied_dims", False))
    grid = grid_nd(
        dims,
        non_lstm=non_lstm,
        priority=priority,
        tied=tied_dims,
        peepholes=peepholes,
        output_form=output_form or GRIDLSTM_DEFAULTS["output_form"],
        memory_input=memory_input or "zero",
    )
    lstm = any(dim.has_memory for dim in grid.block.dimensions)
    for flag, given in (("--output-form", output_form), ("--peepholes", peepholes)):
        if given and not lstm:
            raise GradproofInputError(
                f"{flag} applies to LSTM dimensions, and every dimension of this grid is in "
                "--non-lstm; drop it"
            )
    input_lstm = grid.input is not None and grid.block.dimension(grid.input).has_memory
    if memory_input is not None and not input_lstm:
        if grid.input is None:
            why = "this grid has no depth dimension, so no input dimension"
        else:
            dim = grid.block.dimension(grid.input)
            why = f"its input dimension {dim.name} is non-LSTM ({dim.kind}), without memory"
        raise GradproofInputError(
            f"--memory-input sets the input dimension's memory, and {why}; drop it"
        )
    if tied_dims and all(len(group) < 2 for _, group in grid.shared):
        raise GradproofInputError(
            "--tied-dims ties dimensions of one kind, and no two dimensions of this grid are of "
            "one kind (LSTM, or non-LSTM with one function); drop it"
        )
    described = {
        "dims": list(dims),
        "non_lstm": non_lstm,
        "output_form": (output_form or GRIDLSTM_DEFAULTS["output_form"]) if lstm else None,
        "priority": ",".join(priority) or "none",
        "peepholes": peepholes,
        "tied_dims": tied_dims,
        "memory_input": (memory_input or "zero") if input_lstm else None,
    }
    return grid, described


def run_gridlstm_flow(args: argparse.Namespace) -> dict:
    """Run ``flow gridlstm`` and return its JSON-ready result.

    Keys: ``cell, dims, non_lstm, hidden, input, layers, steps, tied, tied_dims,
    output_form, priority, peepholes, memory_input, gamma, sigma_max,
    spectral_radius, log10_norm, log10_bound, verdict, log10_norm_depth,
    depth_slope``.  ``log10_norm[k-1]`` is ``log10 ||ds_T/ds_{T-k}||_2`` for
    the time state (per layer, bottom first, the time dimensions' vectors,
    ``[h^T; m^T]`` in 2D); ``log10_norm_depth[l]`` is
    ``log10 ||dh^D_{T,L}/dh^D_{T,l}||_2``, l = 0..L-1, ``h^D`` the input
    dimension's hidden vector.  A grid with no dimension along time has
    ``log10_norm`` null, one with none along depth ``log10_norm_depth`` null
    and ``input`` null (it reads no input); ``output_form`` is null without
    LSTM dimensions, ``memory_input`` null unless the input dimension is an
    LSTM.  No norm bound is known for gated cells, so ``gamma``,
    ``sigma_max``, ``spectral_radius`` and ``log10_bound`` are null, as for
    every cell that declares no bound.

    Examples
    --------
    >>> from numeric.cli import _parser
    >>> args = _parser().parse_args(["flow", "gridlstm", "--hidden", "3", "--input", "2",
    ...                              "--layers", "2", "--steps", "4"])
    >>> result = run_gridlstm_flow(args)
    >>> result["dims"], len(result["log10_norm"]), len(result["log10_norm_depth"])
    (['time', 'depth'], 4, 2)
    >>> args = _parser().parse_args(["flow", "gridlstm", "--dims", "depth", "--hidden", "3",
    ...                              "--layers", "2", "--steps", "4"])
    >>> result = run_gridlstm_flow(args)
    >>> result["log10_norm"], result["verdict"]["summary"], len(result["log10_norm_depth"])
    (None, 'no dimension along time: nothing is carried from step to step', 2)
    """
    for flag in ("activation", "variant", "layer", "init", "h0", "size"):
        if getattr(args, flag, None) is not None:
            raise GradproofInputError(f"--{flag} does not apply to gridlstm; drop it")
    grid, described = _grid(args)
    seed = getattr(args, "seed", None)  # None: not given, 0 by default
    inputs_file = getattr(args, "inputs", None)
    if grid.input is None:
        for flag, given in (("--input", args.input), ("--inputs", inputs_file)):
            if given is not None:
                raise GradproofInputError(
                    f"{flag}: this grid has no depth dimension, so it reads no input; drop it "
                    "(--steps sets T)"
                )
    if getattr(args, "plot", None):
        if not grid.depth:
            raise GradproofInputError(
                "--plot draws the depth flow over the (t, l) grid, and this grid has no depth "
                "dimension; drop it"
            )
        check_plot_path(args.plot)

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
            grid,
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
        hidden, layers = value("hidden"), value("layers")
        input_size = value("input") if grid.input is not None else 0
        shapes = grid_weight_shapes(grid, hidden, input_size, layers, args.tied)
        numbers = sum(math.prod(shape) for shape in shapes.values())
    inputs = None if inputs_file is None else load_inputs(inputs_file, input_size)
    steps = value("steps") if inputs is None else len(inputs)
    compiled = compile_grid(grid, hidden)
    shrink = ["--steps" if inputs_file is None else "the steps in --inputs"]
    if weights is None:
        shrink.append("--hidden, --layers or --input")
    _check_cost(compiled, steps, layers, input_size, numbers, "lower " + ", ".join(shrink))
    if weights is None:
        with np.errstate(over="ignore"):
            weights = random_grid_weights(
                grid,
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
    depth = depth_flow_map(compiled, weights, inputs) if grid.depth else None
    flow = time_flow(compiled, weights, inputs) if grid.time else None
    found = Verdict(None, None, None, math.nan, None, NO_TIME) if flow is None else None
    depth_rate = None if depth is None else depth.depth_slope
    result = {
        "cell": "gridlstm",
        "dims": described["dims"],
        "non_lstm": described["non_lstm"],
        "hidden": hidden,
        "input": input_size if grid.input is not None else None,
        "layers": layers,
        "steps": steps,
        "tied": weights.tied,
        "tied_dims": described["tied_dims"],
        "output_form": described["output_form"],
        "priority": described["priority"],
        "peepholes": described["peepholes"],
        "memory_input": described["memory_input"],
        "gamma": None,
        "sigma_max": None,
        "spectral_radius": None,
        "log10_norm": None if flow is None else json_floats(flow.log10_norm),
        "log10_bound": None,
        "verdict": (found or verdict(None, flow.log10_norm)).as_dict(),
        "log10_norm_depth": None if depth is None else json_floats(depth.log10_norm_depth),
        "depth_slope": depth_rate if depth_rate is not None and math.isfinite(depth_rate) else None,
    }
    if getattr(args, "plot", None):
        from .figures import plot_depth_flow  # matplotlib: only when drawing

        plot_depth_flow(
            args.plot,
            {grid.block.cell.title: depth},
            f"hidden {hidden}, {layers} layers, T = {steps}",
        )
    return result


def _check_cost(
    grid: CompiledGrid, steps: int, layers: int, inputs: int, params: int, shrink: str
) -> None:
    """Refuse sizes whose time flow and (t, l) map do not fit in memory or time."""
    hidden = grid.hidden
    state, block = grid.time_vectors * hidden * layers, (grid.time_vectors + grid.depth_vectors)
    cost = Cost(0.0, 0.0)
    if grid.time_vectors:
        cost += flow_cost(steps, state, inputs, params)
    if grid.depth_vectors:
        cost += depth_map_cost(steps, layers, hidden, block * hidden)
    check_cost(
        cost,
        f"a Grid LSTM flow over {steps} steps, {layers} layers of hidden size {hidden}",
        shrink,
    )


def _rows(values: list | None, what: str, index: str, first: int, along: str) -> list[str]:
    """One row per entry: its index and its log10 norm (``-inf`` for an exact zero)."""
    if values is None:
        return [f"{index:>8}  {what}: no dimension along {along}, nothing to measure"]
    rows = [f"{index:>8}  {what}"]
    for i, v in enumerate(values, start=first):
        rows.append(f"{i:>8}  {'-inf' if v is None else f'{v:25.6f}'}")
    return rows


def format_gridlstm_flow(result: dict) -> str:
    """The result of :func:`run_gridlstm_flow` as text for a terminal.

    Examples
    --------
    >>> print(format_gridlstm_flow({"dims": ["time", "depth"], "non_lstm": {"depth": "relu"},
    ...     "hidden": 2, "layers": 1, "steps": 1, "tied": False, "tied_dims": False,
    ...     "output_form": "paper", "priority": "none", "peepholes": True,
    ...     "memory_input": None, "log10_norm": [-0.5], "log10_norm_depth": [-0.25],
    ...     "depth_slope": 0.25, "verdict": {"summary": "s"}}))
    gridlstm time,depth (depth=relu), hidden 2, layers 1, steps 1, untied, output form paper, priority none, peepholes
           k  log10 ||ds_T/ds_{T-k}||
           1                  -0.500000
           l  log10 ||dh^D_{T,L}/dh^D_{T,l}||
           0                  -0.250000
    depth: the gradient of the top output decays by 0.250 decades per layer going down from the output
    verdict: s
    """
    r = result
    kinds = ", ".join(f"{name}={fn}" for name, fn in r["non_lstm"].items())
    head = [
        f"gridlstm {','.join(r['dims'])}{f' ({kinds})' if kinds else ''}",
        f"hidden {r['hidden']}",
        f"layers {r['layers']}",
        f"steps {r['steps']}",
        "tied" if r["tied"] else "untied",
        *(["tied across dimensions"] if r["tied_dims"] else []),
        *([f"output form {r['output_form']}"] if r["output_form"] else []),
        f"priority {r['priority']}",
        *(["peepholes"] if r["peepholes"] else []),
        *([f"memory input {r['memory_input']}"] if r["memory_input"] not in (None, "zero") else []),
    ]
    lines = [", ".join(head)]
    lines += _rows(r["log10_norm"], "log10 ||ds_T/ds_{T-k}||", "k", 1, "time")
    lines += _rows(r["log10_norm_depth"], "log10 ||dh^D_{T,L}/dh^D_{T,l}||", "l", 0, "depth")
    if r["log10_norm_depth"] is not None:
        lines.append(
            f"depth: the gradient of the top output {depth_decay_phrase(r['depth_slope'])}"
        )
    lines.append(f"verdict: {r['verdict']['summary']}")
    return "\n".join(lines)


def flow_command(args: argparse.Namespace) -> tuple[dict, str]:
    """The Grid LSTM's ``gradproof flow``: the JSON-ready result and its table."""
    result = run_gridlstm_flow(args)
    return result, format_gridlstm_flow(result)
