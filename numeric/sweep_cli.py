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
    random_sizes,
    random_weights,
)
from .errors import GradproofInputError
from .outputs import json_line

if TYPE_CHECKING:
    import numpy as np

__all__ = ["SWEEP_DEFAULTS", "add_sweep_parser", "parse_scales", "scales_count"]

#: Defaults of ``gradproof sweep`` (the help is written from them).
SWEEP_DEFAULTS = {
    "scales": "0.5:1.5:11",
    "steps": 200,
    "seeds": 3,
    "input_scale": 1.0,
    "bias_scale": 1.0,
}


def _scales_spec(text: str) -> tuple[float, float, int] | list[float]:
    """``(start, stop, count)`` of ``START:STOP:COUNT`` or the values of ``a,b,c``, all checked.

    Nothing is allocated: :func:`scales_count` is known before the budget is.
    """
    try:
        if ":" in text:
            start, stop, count = text.split(":")
            spec: tuple[float, float, int] | list[float] = (float(start), float(stop), int(count))
            if spec[2] < 1:
                raise ValueError
            values = spec[:2]
        else:
            spec = values = [float(v) for v in text.split(",")]
    except ValueError:
        raise GradproofInputError(
            f"--scales {text!r} is not START:STOP:COUNT or a comma list, e.g. 0.5:1.5:11"
        ) from None
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise GradproofInputError(f"--scales {text!r} must be positive, finite numbers")
    return spec


def scales_count(text: str) -> int:
    """How many scales ``--scales`` gives, without making them.

    Examples
    --------
    >>> scales_count("0.5:1.5:100000000000"), scales_count("0.9,1.1")
    (100000000000, 2)
    """
    spec = _scales_spec(text)
    return spec[2] if isinstance(spec, tuple) else len(spec)


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

    spec = _scales_spec(text)
    return np.linspace(*spec) if isinstance(spec, tuple) else np.array(spec)


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
    """Handler of ``gradproof sweep``; returns the exit code.

    Everything is checked before the first run (the options, the plot's
    path, the memory and time of all runs); the plot is written, whole, after
    the output is ready and before it is printed.
    """
    check_numbers(args)
    count = scales_count(args.scales)
    fam = lookup(args.cell)
    cell = fam.build(**chosen_options(fam, args)) if fam.flow is None else None
    if cell is None or cell.bound is None:
        raise GradproofInputError(
            f"sweep sets the decay rate against a cell's step bound; {args.cell} declares none"
        )
    layout = None if fam.layout is None else fam.name
    if layout is None and args.bias_scale is not None:
        raise GradproofInputError(
            f"--bias-scale scales the biases of PyTorch weights; {args.cell} is keyed by "
            "parameter names: drop it"
        )
    from .budget import check_cost, flow_cost

    state, inputs, numbers = random_sizes(fam, cell, args)
    runs = count * args.seeds
    check_cost(
        flow_cost(args.steps, state, inputs, numbers, runs),
        f"a sweep of {runs} runs ({count} scales x {args.seeds} seeds) over {args.steps} steps "
        f"with a state of {state} numbers",
        "lower the count in --scales, --seeds, --steps or "
        + ("--hidden" if layout is not None else "--size"),
    )
    import numpy as np

    from .bounds import evaluate_bound
    from .plots import check_plot_path, plot_sweep
    from .sweep import crossing, decay_rates, sweep_params

    if args.plot:
        check_plot_path(args.plot)
    scales = parse_scales(args.scales)
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
    B = (bounds / args.seeds).sum(axis=1)  # the mean, which cannot overflow near 1.8e308
    with np.errstate(divide="ignore"):  # B = 0: weights that underflowed to 0
        bound_rate = np.log10(B)
    mean = rates.mean(axis=1)
    measured = crossing(B, mean)
    if args.json:
        shown = json_line(
            {
                "cell": args.cell,
                "hidden": hidden,
                "steps": args.steps,
                "seeds": args.seeds,
                "gamma": None if cell.bound.gamma is None else float(cell.bound.gamma),
                "scale": scales,
                "step_bound": B,
                "decay_rate": rates,
                "mean_decay_rate": mean,
                "bound_rate": bound_rate,
                "measured_crossing": measured,
                "input": input_size,
                "init": None if layout is None else draw["init"],
                "input_scale": input_scale,
                "bias_scale": None if layout is None else bias_scale,
            }
        )
    else:
        formula = evaluate_bound(cell, sweep_params(cell, layout, scales[0], 0, **draw)).formula
        lines = [
            f"cell {args.cell} ({cell.title}), hidden {hidden}, steps {args.steps}, "
            f"seeds {args.seeds}"
        ]
        if layout is None:
            weights = (
                "matrices with sigma_max = the scale, vectors with max_i |v_i| = the scale, "
                "scalars uniform in (0, the scale)"
            )
        else:
            weights = (
                f"W_hh {draw['init']}, rescaled to sigma_max = the scale; "
                f"biases times {bias_scale:g}"
            )
        lines.append(f"random weights: {weights}")
        lines.append(f"inputs: standard normal times {input_scale:g}, {input_size} per step")
        lines.append(f"step bound B = {formula}")
        lines.append(f"{'B':>16}  {'mean rate':>12}  {'bound rate':>12}  guarantee")
        for g, r, b in zip(B, mean, bound_rate, strict=True):
            guarantee = "vanishing" if g < 1 else "none"
            shown_g = f"{g:16.4f}" if g < 1e9 else f"{g:16.4e}"
            lines.append(f"{shown_g}  {r:12.5f}  {b:12.5f}  {guarantee}")
        where = "not within the range" if measured is None else f"at B = {measured:.3f}"
        lines.append(f"below B = 1 vanishing is guaranteed; the measured rate crosses 0 {where}")
        shown = "\n".join(lines)
    if args.plot:
        title = f"{cell.title}, hidden {hidden}, T = {args.steps}, {args.seeds} draw(s) per scale"
        if input_scale != SWEEP_DEFAULTS["input_scale"]:
            title += f", inputs x {input_scale:g}"
        if layout is not None and bias_scale != SWEEP_DEFAULTS["bias_scale"]:
            title += f", biases x {bias_scale:g}"
        plot_sweep(args.plot, B, np.where(np.isfinite(rates), rates, np.nan), title)
    print(shown)
    return 0
