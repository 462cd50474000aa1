"""Weight files of the 2D grid models: their shapes, random weights, loading and saving.

Weight files (``.npz``, or ``.pt``/``.pth`` saved with ``torch.save``, read
by :func:`numeric.loading.load_state_dict`): ``input_projection (d, k)``; per layer
``l = 0..L-1``: ``weight_time_l{l} (4d, 2d)``, ``bias_time_l{l} (4d)``,
``weight_depth_l{l} (4d, 2d)``, ``bias_depth_l{l} (4d)``; tied weights use
the same names without ``_l{l}``.  Gate rows are in PyTorch's order
``i, f, g, o`` (the paper's ``u, f, c, o``), columns ``[h^time; h^depth]``;
in the stacked reading the columns are the vectors each dimension reads, in
order: time ``[h^time; m^depth]``, depth ``[new h^time; h^depth]``.
The stacked models of the comparison use the ``time`` arrays only (the tanh
RNN with one gate, ``(d, 2d)``); their depth dimension copies ``h`` up.
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

__all__ = [
    "GridWeights",
    "grid_weight_shapes",
    "load_grid_weights",
    "random_grid_weights",
    "save_grid_weights",
]

#: The weight-file name of each dimension's arrays.
_PREFIX = {"T": "time", "D": "depth"}


def _gates(model: GridSequenceModel, label: str) -> int:
    return 4 if model.block.dimension(label).has_memory else 1


def _file_dimensions(model: GridSequenceModel) -> tuple[str, ...]:
    """Dimensions whose weights come from the file (a copy-up dimension has none)."""
    return tuple(
        label
        for label, refs in model.block.reads
        if not (model.block.dimension(label).kind == "identity" and len(refs) == 1)
    )


def grid_weight_shapes(
    model: GridSequenceModel, hidden: int, input_size: int, layers: int, tied: bool = False
) -> dict[str, tuple[int, ...]]:
    """Every key of a weight file and its shape.

    Examples
    --------
    >>> from numeric.gridlstm import grid_model
    >>> shapes = grid_weight_shapes(grid_model(), hidden=3, input_size=2, layers=2)
    >>> shapes["input_projection"], shapes["weight_time_l1"], shapes["bias_depth_l0"]
    ((3, 2), (12, 6), (12,))
    >>> sorted(grid_weight_shapes(grid_model(), 3, 2, 2, tied=True))
    ['bias_depth', 'bias_time', 'input_projection', 'weight_depth', 'weight_time']
    """
    shapes: dict[str, tuple[int, ...]] = {"input_projection": (hidden, input_size)}
    suffixes = [""] if tied else [f"_l{j}" for j in range(layers)]
    for label in _file_dimensions(model):
        rows = _gates(model, label) * hidden
        reads = len(dict(model.block.reads)[label])
        for suffix in suffixes:
            shapes[f"weight_{_PREFIX[label]}{suffix}"] = (rows, reads * hidden)
            shapes[f"bias_{_PREFIX[label]}{suffix}"] = (rows,)
    return shapes


@dataclass(frozen=True)
class GridWeights:
    """Validated weights of a 2D grid model, by weight-file key."""

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
    model: GridSequenceModel,
    hidden: int,
    input_size: int,
    layers: int,
    *,
    tied: bool = False,
    scale: float = 1.0,
    forget_bias: float = 1.0,
    seed: int = 0,
) -> GridWeights:
    """Random weights at a given scale, the same for every model.

    Every weight entry is ``N(0, scale^2 / (2d))`` (fan-in ``2d``), the
    projection ``N(0, 1/k)``; biases are zero except the forget gates',
    ``forget_bias`` (LSTM dimensions).  Models compared at one ``scale`` and
    ``seed`` thus have weights of matched scale.

    Examples
    --------
    >>> from numeric.gridlstm import grid_model
    >>> w = random_grid_weights(grid_model(), hidden=2, input_size=3, layers=2, seed=1)
    >>> w.layer("weight_depth", 1).shape, float(w.layer("bias_time", 0)[2])
    ((8, 4), 1.0)
    """
    hidden = _positive(hidden, "--hidden")
    input_size = _positive(input_size, "--input")
    layers = _positive(layers, "--layers")
    if not (math.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    rng = np.random.default_rng(seed)
    arrays = {}
    for key, shape in grid_weight_shapes(model, hidden, input_size, layers, tied).items():
        if key == "input_projection":
            arrays[key] = rng.standard_normal(shape) / np.sqrt(input_size)
        elif key.startswith("weight"):
            arrays[key] = scale * rng.standard_normal(shape) / np.sqrt(shape[1])
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
    model: GridSequenceModel,
    *,
    layers: int | None = None,
    hidden: int | None = None,
    input_size: int | None = None,
    tied: bool = False,
) -> GridWeights:
    """Read and validate a weight file; sizes come from the file.

    ``layers`` is required for tied weights; any size given that disagrees
    with the file is an error, as is a missing, unexpected or misshapen key.

    Examples
    --------
    >>> from numeric.gridlstm import grid_model
    >>> w = random_grid_weights(grid_model(), 2, 1, 2)
    >>> load_grid_weights(dict(w.arrays), grid_model(), layers=3)
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: --layers 3 disagrees with the weights file, which has 2 layers (weight_time_l0..weight_time_l1)
    """
    if isinstance(path_or_arrays, Mapping):
        arrays = {k: real_array(v, f"key {k!r}") for k, v in path_or_arrays.items()}
    else:
        arrays = load_state_dict(path_or_arrays)
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
    d_file, k_file = proj.shape
    for flag, given, actual in (("--hidden", hidden, d_file), ("--input", input_size, k_file)):
        if given is not None and given != actual:
            raise GradproofInputError(
                f"{flag} {given} disagrees with the weights file: key 'input_projection' "
                f"has shape {proj.shape}"
            )
    first = f"weight_{_PREFIX[_file_dimensions(model)[0]]}"
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
    expected = grid_weight_shapes(model, d_file, k_file, layers, tied)
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
