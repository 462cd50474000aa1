"""The ``sweep`` subcommand: measured decay rate against the cell's step bound.

For each weight scale and seed, random weights and inputs; the decay rate of
``||ds_T/ds_{T-k}||_2`` per step is set against the step bound ``B`` at those
weights (``gamma sigma_max(W)`` for the Elman RNN), below 1 of which vanishing
is guaranteed.  ``--input-scale`` and ``--bias-scale`` choose where the state
runs: at 0 both, a tanh network stays at the origin, where each step
Jacobian is ``W`` and, with ``--init orthogonal``, the measured rate changes
sign at ``B = 1``; with the defaults the units saturate and it may stay
negative beyond.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING

from .cli_common import (
    DEFAULT_RANDOM,
    add_cell_arguments,
    check_numbers,
    chosen_options,
    compiled,
    lookup,
    parse_sizes,
    random_weights,
)
from .errors import GradproofInputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SWEEP_DEFAULTS", "add_sweep_parser", "parse_scales"]

#: Defaults of ``gradproof sweep`` (the help is written from them).
SWEEP_DEFAULTS = {
    "scales": "0.5:1.5:11",
    "steps": 200,
    "seeds": 3,
    "input_scale": 1.0,
    "bias_scale": 1.0,
}


def parse_scales(text: str) -> np.ndarray:
    """``"start:stop:count"`` (inclusive, evenly spaced) or ``"a,b,c"``.

    Examples
    --------
    >>> parse_scales("0.5:1.5:5")
    array([0.5 , 0.75, 1.  , 1.25, 1.5 ])
    >>> parse_scales("0.9,1.1")
    array([0.9, 1.1])
    """
    import numpy as np

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
        description="For each weight scale in --scales and each of --seeds random draws of "
        "weights and inputs, measure the decay rate of ||ds_T/ds_{T-k}||_2 (the least-squares "
        "slope of its log10 per step k, in decades per step) and set it against the cell's "
        "step bound B (gamma*sigma_max(W) for the Elman RNN), below 1 of which vanishing is "
        "guaranteed. With --init orthogonal --input-scale 0 --bias-scale 0 a tanh network "
        "stays at the origin, where each step Jacobian is W: the measured rate is the bound's "
        "and changes sign at B = 1.",
    )
    add_cell_arguments(parser)
    parser.add_argument(
        "--scales",
        default=SWEEP_DEFAULTS["scales"],
        help="weight scales (sigma_max(W_hh) for PyTorch layouts), START:STOP:COUNT (inclusive, "
        f"evenly spaced) or a,b,c (default {SWEEP_DEFAULTS['scales']})",
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=SWEEP_DEFAULTS["steps"],
        metavar="T",
        help=f"horizon T (default {SWEEP_DEFAULTS['steps']})",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=SWEEP_DEFAULTS["seeds"],
        metavar="S",
        help="random draws of weights and inputs per scale, with random-number seeds "
        f"0..S-1 (default {SWEEP_DEFAULTS['seeds']})",
    )
    parser.add_argument(
        "--input-scale",
        type=float,
        metavar="X",
        help="inputs are standard normal times X; 0 runs the cell without input "
        f"(default {SWEEP_DEFAULTS['input_scale']:g})",
    )
    parser.add_argument(
        "--bias-scale",
        type=float,
        metavar="X",
        help="random PyTorch weights: biases times X; 0 drops them "
        f"(default {SWEEP_DEFAULTS['bias_scale']:g})",
    )
    parser.set_defaults(func=run_sweep)
    return parser


def run_sweep(args: argparse.Namespace) -> int:
    """Handler of ``gradproof sweep``; returns the exit code."""
    check_numbers(args)
    fam = lookup(args.cell)
    cell = fam.build(**chosen_options(fam, args)) if fam.flow is None else None
    if cell is None or cell.bound is None:
        raise GradproofInputError(
            f"sweep sets the decay rate against a cell's step bound; {args.cell} declares none"
        )
    import numpy as np

    from .bounds import evaluate_bound
    from .flow import json_floats
    from .plots import check_plot_path, plot_sweep
    from .sweep import crossing, decay_rates, sweep_params

    if args.plot:
        check_plot_path(args.plot)
    scales = parse_scales(args.scales)
    layout = None if fam.layout is None else fam.name
    if layout is None and args.bias_scale is not None:
        raise GradproofInputError(
            f"--bias-scale scales the biases of PyTorch weights; {args.cell} is keyed by "
            "parameter names: drop it"
        )
    # the first draw through the shared path checks the random-weight flags and fixes the sizes
    model = compiled(cell, random_weights(fam, cell, args, scales[0], 0))
    hidden, input_size = model.state_sizes[0], model.input_size
    input_scale = SWEEP_DEFAULTS["input_scale"] if args.input_scale is None else args.input_scale
    bias_scale = SWEEP_DEFAULTS["bias_scale"] if args.bias_scale is None else args.bias_scale
    draw = {
        "hidden": hidden,
        "input_size": input_size,
        "init": args.init or DEFAULT_RANDOM["init"],
        "sizes": parse_sizes(args.size),
        "bias_scale": bias_scale,
    }
    bounds = np.array(
        [
            [
                evaluate_bound(cell, sweep_params(cell, layout, s, seed, **draw)).value
                for seed in range(args.seeds)
            ]
            for s in scales
        ]
    )

    def progress(done: int, total: int, scale: float, seed: int, rate: float) -> None:
        print(
            f"sweep {done}/{total}: scale {scale:.4g}, seed {seed}, rate {rate:.4g} decades/step",
            file=sys.stderr,
            flush=True,
        )

    rates = decay_rates(
        cell,
        layout,
        scales,
        steps=args.steps,
        seeds=args.seeds,
        input_scale=input_scale,
        progress=progress,
        **draw,
    )
    B = bounds.mean(axis=1)
    mean = rates.mean(axis=1)
    measured = crossing(B, mean)
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {args.steps}, {args.seeds} draw(s) per scale"
        if input_scale != SWEEP_DEFAULTS["input_scale"]:
            title += f", inputs x {input_scale:g}"
        if layout is not None and bias_scale != SWEEP_DEFAULTS["bias_scale"]:
            title += f", biases x {bias_scale:g}"
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
            "input": input_size,
            "init": None if layout is None else draw["init"],
            "input_scale": input_scale,
            "bias_scale": None if layout is None else bias_scale,
        }
        print(json.dumps(report, allow_nan=False))
        return 0
    formula = evaluate_bound(cell, sweep_params(cell, layout, scales[0], 0, **draw)).formula
    print(
        f"cell {args.cell} ({cell.title}), hidden {hidden}, steps {args.steps}, seeds {args.seeds}"
    )
    if layout is None:
        weights = (
            "matrices with sigma_max = the scale, vectors with max_i |v_i| = the scale, "
            "scalars uniform in (0, the scale)"
        )
    else:
        weights = (
            f"W_hh {draw['init']}, rescaled to sigma_max = the scale; biases times {bias_scale:g}"
        )
    print(f"random weights: {weights}")
    print(f"inputs: standard normal times {input_scale:g}, {input_size} per step")
    print(f"step bound B = {formula}")
    print(f"{'B':>16}  {'mean rate':>12}  {'bound rate':>12}  guarantee")
    for g, r in zip(B, mean, strict=True):
        guarantee = "vanishing" if g < 1 else "none"
        print(f"{g:16.4f}  {r:12.5f}  {math.log10(g):12.5f}  {guarantee}")
    where = "not within the range" if measured is None else f"at B = {measured:.3f}"
    print(f"below B = 1 vanishing is guaranteed; the measured rate crosses 0 {where}")
    return 0
