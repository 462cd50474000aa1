"""What every command that names a cell shares: the lookup, its options, its weights.

A cell on the command line is a registered family (``rnn``, ``lstm``,
``gru``, ``gridlstm``) or a user's cell as ``path/to/file.py:function`` or
``package.module:function``; both go through :func:`symbolic.registry.family`.

This module is imported by ``gradproof --help``, so it imports neither NumPy
nor SymPy at module level: the registry lists its names without importing a
family, and what help texts list besides (:data:`ACTIVATION_NAMES`,
:data:`INITS`) is spelled out here, kept equal to its source by the tests.
The defaults of random weights and inputs (:data:`DEFAULT_RANDOM`,
:data:`GRIDLSTM_DEFAULTS`) live here too: the help texts are written from
the same values the commands use.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING

from symbolic.registry import CellFamily, family, family_names

from .errors import GradproofInputError

if TYPE_CHECKING:
    import numpy as np

    from symbolic.cells import Cell

    from .compile import CompiledCell

__all__ = [
    "ACTIVATION_NAMES",
    "BLAS_THREADS",
    "CELL_HELP",
    "CELL_OPTIONS",
    "DEFAULT_RANDOM",
    "FLOW_STEPS",
    "GRIDLSTM_DEFAULTS",
    "INITS",
    "SEED_UNUSED",
    "add_cell_arguments",
    "check_numbers",
    "chosen_options",
    "compiled",
    "default_note",
    "flags_describe",
    "limit_blas_threads",
    "lookup",
    "parse_sizes",
    "random_sizes",
    "random_torch_state",
    "random_weights",
    "seed_of",
]

#: Names of :data:`symbolic.activations.ACTIVATIONS`, sorted (for help texts).
ACTIVATION_NAMES = ("identity", "relu", "sigmoid", "tanh")
#: :data:`numeric.weights.INITS`: how a random recurrent matrix is drawn.
INITS = ("gaussian", "orthogonal")

#: Options a family may take (argparse attribute names).
CELL_OPTIONS = ("activation", "variant", "output_form", "priority")
#: Help for the ``cell`` argument.
CELL_HELP = (
    f"a built-in cell ({', '.join(family_names())}) or your own as file.py:function "
    "or package.module:function (a function returning a Cell)"
)


def lookup(spec: str) -> CellFamily:
    """The family for a built-in name or a user's ``file.py:function``; one-line errors.

    Examples
    --------
    >>> lookup("lstm").name
    'lstm'
    >>> lookup("nosuchcell")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cell 'nosuchcell' is neither a registered name (gridlstm, gru, lstm, rnn) nor file.py:function or package.module:function
    """
    try:
        return family(spec)
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None


def chosen_options(fam: CellFamily, args: argparse.Namespace) -> dict[str, str]:
    """The family's options from the command line, defaults filled in, others refused.

    Examples
    --------
    >>> chosen_options(lookup("gru"), argparse.Namespace(variant="textbook"))
    {'variant': 'textbook'}
    """
    try:
        return fam.resolve({name: getattr(args, name, None) for name in CELL_OPTIONS})
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None


#: Random-weight options of cells with a PyTorch layout, and their defaults.
DEFAULT_RANDOM = {"hidden": 32, "input": 4, "layers": 1, "scale": 1.0, "init": "gaussian"}
#: Horizon T of ``gradproof flow`` without ``--inputs`` or ``--steps``.
FLOW_STEPS = 100
#: Defaults of ``gradproof flow gridlstm`` (its random weights, inputs and form).
GRIDLSTM_DEFAULTS = {
    "hidden": 16,
    "input": 4,
    "layers": 4,
    "scale": 1.0,
    "steps": 20,
    "output_form": "paper",
    "priority": "none",
}


def default_note(value: object, gridlstm: object = None) -> str:
    """``"default 32"``, or ``"default 32; gridlstm 16"`` where the Grid LSTM differs.

    Examples
    --------
    >>> default_note(DEFAULT_RANDOM["hidden"], GRIDLSTM_DEFAULTS["hidden"])
    'default 32; gridlstm 16'
    >>> default_note(DEFAULT_RANDOM["scale"], GRIDLSTM_DEFAULTS["scale"])
    'default 1'
    """
    note = f"default {value:g}" if isinstance(value, float) else f"default {value}"
    if gridlstm is not None and gridlstm != value:
        note += (
            f"; gridlstm {gridlstm:g}" if isinstance(gridlstm, float) else f"; gridlstm {gridlstm}"
        )
    return note


def add_cell_arguments(parser: argparse.ArgumentParser, *, gridlstm: bool = False) -> None:
    """The cell, its options, random-weight sizes and the outputs ``flow`` and ``sweep`` share.

    With ``gridlstm`` (``flow``, which runs the Grid LSTM too), help texts
    name the Grid LSTM's defaults where they differ.
    """

    def note(name: str) -> str:
        return default_note(DEFAULT_RANDOM[name], GRIDLSTM_DEFAULTS[name] if gridlstm else None)

    parser.add_argument("cell", help=CELL_HELP)
    parser.add_argument(
        "--activation",
        help=f"rnn: nonlinearity, one of {', '.join(ACTIVATION_NAMES)} (default tanh)",
    )
    parser.add_argument(
        "--variant",
        help="lstm: pytorch (default), no_forget or peephole; gru: pytorch (default) or textbook",
    )
    torch_or_grid = "random PyTorch or Grid LSTM weights" if gridlstm else "random PyTorch weights"
    parser.add_argument(
        "--hidden", type=int, metavar="N", help=f"{torch_or_grid}: hidden size ({note('hidden')})"
    )
    parser.add_argument(
        "--input", type=int, metavar="M", help=f"{torch_or_grid}: input size ({note('input')})"
    )
    parser.add_argument(
        "--init",
        choices=INITS,
        help="random PyTorch weights: W_hh drawn gaussian (default) or orthogonal (every "
        "singular value equal), then rescaled to the chosen sigma_max",
    )
    parser.add_argument(
        "--size",
        action="append",
        metavar="NAME=N",
        help="random weights of a cell keyed by parameter names: one per size, e.g. --size n=8",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--plot", metavar="FILE", help="figure (.png, .pdf or .svg)")


def parse_sizes(pairs: list[str] | None) -> dict[str, int]:
    """``["n=8", "m=3"]`` from repeated ``--size`` options as ``{"n": 8, "m": 3}``.

    Examples
    --------
    >>> parse_sizes(["n=8", "m=3"])
    {'n': 8, 'm': 3}
    """
    sizes = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name or not value.strip().lstrip("-").isdigit():
            raise GradproofInputError(f"--size {pair!r} is not NAME=N, e.g. --size n=8")
        sizes[name.strip()] = int(value)
    return sizes


def check_numbers(args: argparse.Namespace) -> None:
    """Refuse sizes, steps, seeds and scales out of range, before the cell is looked up.

    The same checks (and words) as where the numbers are used
    (:func:`numeric.weights.random_state_dict`, :func:`numeric.weights.random_inputs`,
    :func:`numeric.gridlstm.random_grid_weights`), made first so that a typo
    is answered at once, not after SymPy has been imported and a cell built.

    Examples
    --------
    >>> check_numbers(argparse.Namespace(steps=5, scale=None))
    >>> check_numbers(argparse.Namespace(steps=-3))
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: --steps must be a positive integer, got -3
    """
    for name in ("steps", "hidden", "input", "layers", "spectrum"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise GradproofInputError(f"--{name} must be a positive integer, got {value}")
    scale = getattr(args, "scale", None)
    if scale is not None and not (math.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise GradproofInputError(f"--seed must be a non-negative integer, got {seed}")
    seeds = getattr(args, "seeds", None)
    if seeds is not None and seeds < 1:
        raise GradproofInputError(f"--seeds must be at least 1, got {seeds}")
    for name in ("input_scale", "bias_scale"):
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value >= 0):
            flag = "--" + name.replace("_", "-")
            raise GradproofInputError(f"{flag} must be a non-negative number, got {value}")


#: The refusal of ``--seed`` where nothing is random.
SEED_UNUSED = (
    "--seed draws random weights and inputs; with --weights and --inputs nothing is drawn: drop it"
)


def seed_of(args: argparse.Namespace) -> int:
    """The ``--seed`` given, or 0 (its default).

    Examples
    --------
    >>> seed_of(argparse.Namespace(seed=None)), seed_of(argparse.Namespace(seed=7))
    (0, 7)
    """
    return 0 if getattr(args, "seed", None) is None else args.seed


def random_sizes(fam: CellFamily, cell: Cell, args: argparse.Namespace) -> tuple[int, int, int]:
    """Numbers in the state, in one step's input and in the parameters of random weights.

    Read off the options before anything is drawn, for
    :func:`numeric.budget.flow_cost`; a size the options leave open counts
    as 1 (drawing the weights then says which is missing).

    Examples
    --------
    >>> fam = lookup("lstm")
    >>> random_sizes(fam, fam.build(), argparse.Namespace(hidden=10, input=3))
    (20, 3, 600)
    >>> random_sizes(fam, fam.build(), argparse.Namespace(hidden=10, input=3, layers=2))
    (40, 3, 1480)
    >>> fam = lookup("symbolic.rnn:elman_rnn")
    >>> random_sizes(fam, fam.build(), argparse.Namespace(size=["n=5", "m=2"]))
    (5, 2, 40)
    """
    if fam.layout is not None:  # a PyTorch layout: every state vector has the hidden size
        H, M, L = (
            DEFAULT_RANDOM[k] if getattr(args, k, None) is None else getattr(args, k)
            for k in ("hidden", "input", "layers")
        )
        G = len(fam.layout.gates)
        # layer 0 reads the M inputs, each layer above the H outputs of the one below
        return L * len(cell.state) * H, M, G * H * (H + M + 2) + (L - 1) * G * H * (2 * H + 2)
    import sympy as sp

    from .weights import param_shapes

    given = parse_sizes(getattr(args, "size", None))
    known = {d: given.get(d.name, 1) for d in cell.dims}

    def numbers(shape: tuple) -> int:
        return math.prod(max(1, int(sp.sympify(d).xreplace(known))) for d in shape)

    return (
        sum(numbers(v.symbol.shape) for v in cell.state),
        sum(numbers(v.symbol.shape) for v in cell.inputs),
        sum(numbers(shape) for shape in param_shapes(cell).values()),
    )


def random_weights(
    fam: CellFamily, cell: Cell, args: argparse.Namespace, scale: float, seed: int
) -> dict[str, np.ndarray]:
    """Random parameters: PyTorch-shaped for a family with a layout, else by name."""
    from .weights import random_params, torch_weights

    if fam.layout is None:
        torch_only = [
            f"--{k}"
            for k in ("hidden", "input", "init", "layers")
            if getattr(args, k, None) is not None
        ]
        if torch_only:
            raise GradproofInputError(
                f"{flags_describe(torch_only)} PyTorch weights; {args.cell} is keyed by "
                "parameter names: give its sizes with --size NAME=N"
            )
        return random_params(cell, parse_sizes(args.size), scale, seed)
    return torch_weights(random_torch_state(fam, args, scale, seed), fam.name, cell=cell).params


def random_torch_state(
    fam: CellFamily, args: argparse.Namespace, scale: float, seed: int
) -> dict[str, np.ndarray]:
    """A random PyTorch ``state_dict`` of ``--hidden``, ``--input``, ``--init``, ``--layers``.

    Unsuffixed names for one layer, ``_lK`` names for several
    (:func:`numeric.weights.random_state_dict`).
    """
    from .weights import random_state_dict

    if getattr(args, "size", None):
        raise GradproofInputError(
            f"--size is for cells keyed by parameter names; {args.cell} takes --hidden and --input"
        )
    hidden, input_size, init, layers = (
        DEFAULT_RANDOM[k] if getattr(args, k, None) is None else getattr(args, k)
        for k in ("hidden", "input", "init", "layers")
    )
    return random_state_dict(fam.name, hidden, input_size, scale, seed, init, layers)


def compiled(cell: Cell, params: dict[str, np.ndarray]) -> CompiledCell:
    """The cell compiled at the sizes its weights fix; every size must be fixed."""
    from .compile import compile_cell
    from .weights import cell_sizes

    try:
        model = compile_cell(cell, **cell_sizes(cell, params))
        model.input_size  # noqa: B018 - compiling is lazy; this checks every size is known
        return model
    except ValueError as exc:  # a size no parameter fixes (an input no weight multiplies)
        raise GradproofInputError(
            f"cannot read every size of {cell.name!r} off the weights: {exc}"
        ) from None


#: Environment variables that set the threads of NumPy's BLAS (OpenBLAS, MKL, BLIS, OpenMP).
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS")


def limit_blas_threads() -> None:
    """Run NumPy's BLAS on one thread, unless the user set a number of threads.

    The flow multiplies one ``N x N`` matrix after another; with several
    BLAS threads on a machine whose cores are busy, each product waits for
    threads that are not running (a 2-layer LSTM of hidden size 64 took 65
    seconds instead of 5 on two shared cores).  One thread loses at most the
    number of cores on an idle machine, so it is the default; setting any of
    :data:`BLAS_THREADS` (``OPENBLAS_NUM_THREADS=2 gradproof flow ...``)
    chooses otherwise.  Takes effect only before NumPy is first imported,
    which ``gradproof`` does after reading its arguments.

    Examples
    --------
    >>> import numpy  # here NumPy is loaded: nothing changes
    >>> before = dict(os.environ)
    >>> limit_blas_threads()
    >>> dict(os.environ) == before
    True
    """
    if "numpy" in sys.modules or any(name in os.environ for name in BLAS_THREADS):
        return
    for name in BLAS_THREADS:
        os.environ[name] = "1"


def flags_describe(flags: list[str]) -> str:
    """``"--hidden describes"`` or ``"--hidden, --init describe"``, for one-line refusals.

    Examples
    --------
    >>> flags_describe(["--hidden"]), flags_describe(["--hidden", "--init"])
    ('--hidden describes', '--hidden, --init describe')
    """
    return f"{', '.join(flags)} {'describes' if len(flags) == 1 else 'describe'}"
