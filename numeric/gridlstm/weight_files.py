"""Weight files of the grids: their keys and shapes, random weights, loading and saving.

A file (``.npz``, or ``.pt``/``.pth`` saved with ``torch.save``, read by
:func:`numeric.loading.load_state_dict`) holds the arrays of one grid, keyed
as :mod:`numeric.gridlstm.sequence_grids` documents: the input projections
``input_projection (d, k)`` and, with a separate memory projection,
``memory_projection (d, k)``; per dimension name and layer ``l`` (suffix
``_l{l}``, none for weights tied across layers) ``weight_{name}``,
``bias_{name}`` and, with peepholes, ``peephole_{name}``.  The 2D models'
files are those of their two dimensions, ``time`` and ``depth``, gate rows in
PyTorch's order ``i, f, g, o`` (the paper's ``u, f, c, o``), columns
``[h^time; h^depth]``; in the stacked reading the columns are the vectors
each dimension reads, in order: time ``[h^time; m^depth]``, depth ``[new
h^time; h^depth]``.  The stacked models of the comparison use the ``time``
arrays only (the tanh RNN with one gate, ``(d, 2d)``); their depth
dimension copies ``h`` up.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from symbolic.gridlstm.sequence_models import GridSequenceModel

from ..errors import GradproofInputError
from ..loading import load_state_dict, real_array
from .sequence_grids import SequenceGrid, sequence_grid

__all__ = [
    "GridWeights",
    "grid_weight_shapes",
    "load_grid_weights",
    "random_grid_weights",
    "save_grid_weights",
]


def grid_weight_shapes(
    model: GridSequenceModel | SequenceGrid,
    hidden: int,
    input_size: int,
    layers: int,
    tied: bool = False,
) -> dict[str, tuple[int, ...]]:
    """Every key of a weight file and its shape (:meth:`SequenceGrid.weight_shapes`).

    Examples
    --------
    >>> from numeric.gridlstm import grid_model, grid_nd
    >>> shapes = grid_weight_shapes(grid_model(), hidden=3, input_size=2, layers=2)
    >>> shapes["input_projection"], shapes["weight_time_l1"], shapes["bias_depth_l0"]
    ((3, 2), (12, 6), (12,))
    >>> sorted(grid_weight_shapes(grid_model(), 3, 2, 2, tied=True))
    ['bias_depth', 'bias_time', 'input_projection', 'weight_depth', 'weight_time']
    >>> sorted(grid_weight_shapes(grid_nd(("time",), peepholes=True), 3, 2, 1, tied=True))
    ['bias_time', 'peephole_time', 'weight_time']
    """
    return sequence_grid(model).weight_shapes(hidden, input_size, layers, tied)


@dataclass(frozen=True)
class GridWeights:
    """Validated weights of a grid, by weight-file key; ``input_size`` 0 for a grid without input."""

    hidden: int
    input_size: int
    layers: int
    tied: bool
    arrays: Mapping[str, np.ndarray] = field(repr=False)

    def layer(self, name: str, j: int) -> np.ndarray:
        """Array ``name`` (``"weight_time"``...) of layer ``j`` (0-based)."""
        return self.arrays[name if self.tied else f"{name}_l{j}"]


def _positive(value: int, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise GradproofInputError(f"{flag} must be a positive integer, got {value!r}")
    return int(value)


def random_grid_weights(
    model: GridSequenceModel | SequenceGrid,
    hidden: int,
    input_size: int,
    layers: int,
    *,
    tied: bool = False,
    scale: float = 1.0,
    forget_bias: float = 1.0,
    seed: int = 0,
) -> GridWeights:
    """Random weights at a given scale, drawn key by key in :func:`grid_weight_shapes` order.

    Projections are ``N(0, 1/k)``; every weight entry ``N(0, scale^2 / c)``
    with ``c`` its column count (the fan-in: ``2d`` in 2D), every peephole
    entry ``N(0, scale^2 / d)``; biases are zero except the forget gates',
    ``forget_bias``.  Models compared at one ``scale`` and ``seed`` thus have
    weights of matched scale.  A grid without input takes ``input_size`` 0.

    Examples
    --------
    >>> from numeric.gridlstm import grid_model, grid_nd
    >>> w = random_grid_weights(grid_model(), hidden=2, input_size=3, layers=2, seed=1)
    >>> w.layer("weight_depth", 1).shape, float(w.layer("bias_time", 0)[2])
    ((8, 4), 1.0)
    >>> grid = grid_nd(("time", "depth", "depth2"), non_lstm={"depth2": "relu"})
    >>> random_grid_weights(grid, 2, 3, 2).layer("weight_depth2", 1).shape
    (2, 6)
    """
    hidden = _positive(hidden, "--hidden")
    if sequence_grid(model).input is not None or input_size != 0:  # 0: a grid without input
        input_size = _positive(input_size, "--input")
    layers = _positive(layers, "--layers")
    if not (math.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, shape in grid_weight_shapes(model, hidden, input_size, layers, tied).items():
        if key.endswith("projection"):
            arrays[key] = rng.standard_normal(shape) / np.sqrt(input_size)
        elif key.startswith("weight"):
            arrays[key] = scale * rng.standard_normal(shape) / np.sqrt(shape[1])
        elif key.startswith("peephole"):
            arrays[key] = scale * rng.standard_normal(shape) / np.sqrt(hidden)
        else:
            bias = np.zeros(shape)
            if shape[0] == 4 * hidden:
                bias[hidden : 2 * hidden] = forget_bias
            arrays[key] = bias
    return GridWeights(hidden, input_size, layers, tied, arrays)


def save_grid_weights(path: str | os.PathLike, weights: GridWeights) -> None:
    """Write weights to an ``.npz`` file in the documented format.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from numeric.gridlstm import grid_model
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "grid.npz"
    >>> w = random_grid_weights(grid_model(), 2, 1, 1)
    >>> save_grid_weights(path, w)
    >>> load_grid_weights(path, grid_model()).layers
    1
    """
    np.savez(os.fspath(path), **{k: np.asarray(v) for k, v in weights.arrays.items()})


def load_grid_weights(
    path_or_arrays: str | os.PathLike | Mapping[str, np.ndarray],
    model: GridSequenceModel | SequenceGrid,
    *,
    layers: int | None = None,
    hidden: int | None = None,
    input_size: int | None = None,
    tied: bool = False,
) -> GridWeights:
    """Read and validate a weight file of a grid; sizes come from the file.

    The keys are :func:`grid_weight_shapes`' (documented in
    :mod:`numeric.gridlstm.sequence_grids`): ``input_projection`` only for a
    grid with an input, and the hidden size read off it, or else off the
    first dimension's weights.  ``layers`` is required for tied weights; any
    size given that disagrees with the file is an error, as is a missing,
    unexpected or misshapen key.

    Examples
    --------
    >>> from numeric.gridlstm import grid_model, grid_nd
    >>> w = random_grid_weights(grid_model(), 2, 1, 2)
    >>> load_grid_weights(dict(w.arrays), grid_model(), layers=3)
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: --layers 3 disagrees with the weights file, which has 2 layers (weight_time_l0..weight_time_l1)
    >>> time_only = grid_nd(("time",))
    >>> w = load_grid_weights(dict(random_grid_weights(time_only, 3, 0, 2).arrays), time_only)
    >>> w.hidden, w.input_size, w.layers
    (3, 0, 2)
    """
    grid = sequence_grid(model)
    if isinstance(path_or_arrays, Mapping):
        arrays = {k: real_array(v, f"key {k!r}") for k, v in path_or_arrays.items()}
    else:
        arrays = load_state_dict(path_or_arrays)
    if grid.input is not None:
        d_file, k_file = _projection_sizes(arrays, hidden, input_size)
    elif input_size is not None:
        raise GradproofInputError(
            f"--input {input_size}: this grid has no depth dimension, so it reads no input; "
            "drop --input"
        )
    label = next(x for x in grid.dimensions if grid.array_name(x) is not None)
    first = f"weight_{grid.array_name(label)}"
    if tied:
        if f"{first}_l0" in arrays:
            raise GradproofInputError(
                f"--tied given but the weights file has per-layer key '{first}_l0'; drop --tied"
            )
        if layers is None:
            raise GradproofInputError("tied weights do not say how many layers; pass --layers L")
        layers = _positive(layers, "--layers")
    else:
        if first in arrays:
            raise GradproofInputError(
                f"the weights file has tied key '{first}' (no _l suffix); pass --tied and --layers"
            )
        found = sorted(
            int(m.group(1)) for key in arrays if (m := re.fullmatch(rf"{first}_l(\d+)", key))
        )
        if not found:
            raise GradproofInputError(f"weights file has no key '{first}_l0'")
        if layers is not None and layers != len(found):
            raise GradproofInputError(
                f"--layers {layers} disagrees with the weights file, which has {len(found)} "
                f"layers ({first}_l0..{first}_l{len(found) - 1})"
            )
        layers = len(found)
    if grid.input is None:
        key = first if tied else f"{first}_l0"
        if key not in arrays:
            raise GradproofInputError(f"weights file has no key {key!r}")
        d_file, k_file = _weight_hidden(arrays[key], key, len(dict(grid.block.reads)[label])), 0
        if hidden is not None and hidden != d_file:
            raise GradproofInputError(
                f"--hidden {hidden} disagrees with the weights file: key {key!r} has shape "
                f"{arrays[key].shape}"
            )
    expected = grid_weight_shapes(grid, d_file, k_file, layers, tied)
    for key, shape in expected.items():
        if key not in arrays:
            raise GradproofInputError(f"weights file has no key {key!r}; expected shape {shape}")
        if arrays[key].shape != shape:
            raise GradproofInputError(
                f"key {key!r} has shape {arrays[key].shape}, expected {shape}"
            )
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise GradproofInputError(
            f"weights file has unexpected key {extra[0]!r}; expected only {', '.join(expected)}"
        )
    return GridWeights(d_file, k_file, layers, tied, arrays)


def _projection_sizes(
    arrays: Mapping[str, np.ndarray], hidden: int | None, input_size: int | None
) -> tuple[int, int]:
    """``(d, k)`` read off ``input_projection``, checked against the sizes given."""
    if "input_projection" not in arrays:
        raise GradproofInputError(
            "weights file has no key 'input_projection'; expected shape (d, k) = (hidden, input)"
        )
    proj = arrays["input_projection"]
    if proj.ndim != 2 or 0 in proj.shape:
        raise GradproofInputError(
            f"key 'input_projection' has shape {proj.shape}, expected (d, k) = (hidden, input) "
            "with both sizes >= 1"
        )
    for flag, given, actual in (
        ("--hidden", hidden, proj.shape[0]),
        ("--input", input_size, proj.shape[1]),
    ):
        if given is not None and given != actual:
            raise GradproofInputError(
                f"{flag} {given} disagrees with the weights file: key 'input_projection' "
                f"has shape {proj.shape}"
            )
    return proj.shape


def _weight_hidden(weight: np.ndarray, key: str, reads: int) -> int:
    """The hidden size ``d`` of a dimension's weight array, ``reads d`` columns."""
    if weight.ndim != 2 or weight.shape[1] == 0 or weight.shape[1] % reads:
        raise GradproofInputError(
            f"key {key!r} has shape {weight.shape}, expected (G d, {reads} d): a block of d "
            f"columns for each of the {reads} vectors the dimension reads, d >= 1"
        )
    return weight.shape[1] // reads
