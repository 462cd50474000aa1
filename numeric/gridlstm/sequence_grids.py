"""N-dimensional Grid LSTM grids over sequences: what runs along time, what along depth.

A :class:`SequenceGrid` places the dimensions of one symbolic block
(:mod:`symbolic.gridlstm.block`) on the time-by-depth sheet of a sequence
model: the block at ``(t, l)`` reads the vectors of each *time* dimension
from block ``(t-1, l)`` and those of each *depth* dimension from block
``(t, l-1)``.  The first depth dimension is the input dimension: below the
first layer its hidden vector is the projected input, ``h_{t,0} = P_h x_t``,
and its memory (an LSTM dimension) one of :data:`MEMORY_INPUTS`: zero (the
paper), its own projection ``P_m x_t`` (TensorFlow's ``project_c``) or the
hidden vector's projection (the stacked reading).  Every other depth
dimension enters the first layer at zero, every time dimension the first
step at zero; the output is the input dimension's hidden vector at the top.
Several dimensions may run along time (TensorFlow's 3D cells carry two) or
along depth.

Weight files (read, written and drawn by :mod:`numeric.gridlstm.weight_files`),
sizes ``d`` (hidden), ``k`` (input), ``N`` (dimensions), one array per layer
``l = 0..L-1`` with suffix ``_l{l}``, or without the suffix when the layers
share their weights:

* ``input_projection (d, k)``: ``P_h``, only for a grid with an input (a
  depth dimension); ``memory_projection (d, k)``: ``P_m``, only with
  ``memory_input="projection"`` and an LSTM input dimension;
* per dimension, named by its name (``time``, ``depth``, ...):
  ``weight_{name}`` of ``G d`` rows, ``G = 4`` gates for an LSTM dimension
  in PyTorch's order ``i, f, g, o`` (the paper's ``u, f, c, o``) and ``G =
  1`` for a non-LSTM one, and one column block of ``d`` per vector the
  dimension reads, in the block's order (dimension order, ``N d`` columns);
  ``bias_{name} (G d)``; with peepholes ``peephole_{name} (3 d)``, the
  diagonal weights of the gates ``i, f, o`` stacked;
* dimensions tied together (one weight set shared by the dimensions of a
  group, :attr:`SequenceGrid.shared`) use the group's name instead: for
  :func:`~numeric.gridlstm.models.grid_nd` with ``tied=True``, ``lstm`` for
  the LSTM dimensions and the activation (``relu``, ...) for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from symbolic.gridlstm.block import GridBlock
from symbolic.gridlstm.sequence_models import GridSequenceModel
from symbolic.gridlstm.transform import PEEPHOLE_READS

__all__ = ["MEMORY_INPUTS", "SequenceGrid", "sequence_grid"]

#: What the input dimension's memory is below the first layer.
MEMORY_INPUTS = {
    "zero": "m_{t,0} = 0 (Kalchbrenner, Danihelka and Graves 2016)",
    "projection": "m_{t,0} = P_m x_t, a projection of its own (TensorFlow's project_c)",
    "shared": "m_{t,0} = P_h x_t, the hidden vector's projection (the stacked reading)",
}
#: The gates that carry a peephole, in the order of a ``peephole_*`` array.
PEEPHOLE_GATES = tuple(PEEPHOLE_READS)


@dataclass(frozen=True)
class SequenceGrid:
    """A grid block run over sequences; see the module docstring.

    Parameters
    ----------
    block : GridBlock
        The block at ``(t, l)``.
    time, depth : tuple of str
        Labels of the dimensions running along time and along depth; every
        dimension of the block is in exactly one.
    input : str or None
        The input dimension, the first of ``depth``; None for a grid without
        input (nothing along depth, or nothing entering it).
    memory_input : str
        One of :data:`MEMORY_INPUTS`.
    shared : tuple of (str, tuple of str)
        Groups of dimensions that share one weight set, by group name.
    copies : tuple of str
        Dimensions that copy a hidden vector up unchanged (``V = I``, no
        weights of their own): the stacked comparison models' depth.
    """

    block: GridBlock
    time: tuple[str, ...]
    depth: tuple[str, ...]
    input: str | None = None
    memory_input: str = "zero"
    shared: tuple[tuple[str, tuple[str, ...]], ...] = ()
    copies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        labels = [dim.label for dim in self.block.dimensions]
        placed = list(self.time) + list(self.depth)
        if sorted(placed) != sorted(labels):
            raise ValueError(
                f"time {list(self.time)} and depth {list(self.depth)} must place every "
                f"dimension {labels} exactly once"
            )
        if self.input is not None and self.depth[:1] != (self.input,):
            raise ValueError(f"the input dimension {self.input!r} must be the first of depth")
        if self.memory_input not in MEMORY_INPUTS:
            raise ValueError(
                f"memory_input must be one of {', '.join(MEMORY_INPUTS)}, got {self.memory_input!r}"
            )
        grouped = [label for _, group in self.shared for label in group]
        if len(set(grouped)) != len(grouped) or not set(grouped) <= set(labels):
            raise ValueError(f"shared groups must name distinct dimensions of {labels}")
        reads = dict(self.block.reads)
        for name, group in self.shared:
            kinds = {self.block.dimension(x).has_memory for x in group}
            widths = {len(reads[x]) for x in group}
            if len(kinds) > 1 or len(widths) > 1:
                raise ValueError(
                    f"the dimensions of shared group {name!r} must all be LSTM or all not, "
                    "and read as many vectors"
                )

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Labels of the block's dimensions, in the order of ``H``."""
        return tuple(dim.label for dim in self.block.dimensions)

    def vectors(self, labels: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """``(base, label)`` of the vectors of these dimensions: ``h`` and, for LSTM, ``m``."""
        return tuple(
            (base, label)
            for label in labels
            for base in (("h", "m") if self.block.dimension(label).has_memory else ("h",))
        )

    @property
    def time_vectors(self) -> tuple[tuple[str, str], ...]:
        """The vectors carried along time, in state order."""
        return self.vectors(self.time)

    @property
    def depth_vectors(self) -> tuple[tuple[str, str], ...]:
        """The vectors carried along depth, the input dimension's first."""
        return self.vectors(self.depth)

    def array_name(self, label: str) -> str | None:
        """The weight-file name of a dimension's arrays (None: a copy, no arrays)."""
        if label in self.copies:
            return None
        for name, group in self.shared:
            if label in group:
                return name
        return self.block.dimension(label).name

    @property
    def peepholes(self) -> bool:
        """Whether the LSTM dimensions have peephole weights."""
        return self.block.transform.peepholes

    def weight_shapes(
        self, hidden: int, input_size: int, layers: int, tied: bool = False
    ) -> dict[str, tuple[int, ...]]:
        """Every key of a weight file and its shape; ``tied``: one set for all layers.

        Examples
        --------
        >>> from numeric.gridlstm.models import grid_model
        >>> shapes = sequence_grid(grid_model()).weight_shapes(3, 2, layers=2)
        >>> shapes["input_projection"], shapes["weight_time_l1"], shapes["bias_depth_l0"]
        ((3, 2), (12, 6), (12,))
        """
        shapes: dict[str, tuple[int, ...]] = {}
        if self.input is not None:
            shapes["input_projection"] = (hidden, input_size)
            if self.memory_input == "projection" and self._has_memory(self.input):
                shapes["memory_projection"] = (hidden, input_size)
        suffixes = [""] if tied else [f"_l{j}" for j in range(layers)]
        reads = dict(self.block.reads)
        names = dict.fromkeys(self.array_name(x) for x in self.dimensions)
        for name in (n for n in names if n is not None):
            label = next(x for x in self.dimensions if self.array_name(x) == name)
            lstm = self._has_memory(label)
            rows = (4 if lstm else 1) * hidden
            for suffix in suffixes:
                shapes[f"weight_{name}{suffix}"] = (rows, len(reads[label]) * hidden)
                shapes[f"bias_{name}{suffix}"] = (rows,)
                if lstm and self.peepholes:
                    shapes[f"peephole_{name}{suffix}"] = (len(PEEPHOLE_GATES) * hidden,)
        return shapes

    def _has_memory(self, label: str) -> bool:
        return self.block.dimension(label).has_memory


@lru_cache(maxsize=32)
def _from_model(model: GridSequenceModel) -> SequenceGrid:
    block = model.block
    depth = block.dimension("D")
    shared_memory = depth.has_memory and not isinstance(model.boundary[1].rhs, sp.ZeroMatrix)
    copies = tuple(
        label
        for label, refs in block.reads
        if block.dimension(label).kind == "identity" and len(refs) == 1
    )
    return SequenceGrid(
        block,
        time=("T",),
        depth=("D",),
        input="D",
        memory_input="shared" if shared_memory else "zero",
        copies=copies,
    )


def sequence_grid(model: GridSequenceModel | SequenceGrid) -> SequenceGrid:
    """The grid a model runs: a 2D time-by-depth model placed on the sheet, or the grid itself.

    The 2D models keep their weight files: the paper's block enters with zero
    depth memory, the stacked reading with ``m^D_{t,0} = P x_t``, and the
    stacked comparison models' depth copies ``h`` up.

    Examples
    --------
    >>> from numeric.gridlstm.models import grid_model
    >>> grid = sequence_grid(grid_model(variant="stacked"))
    >>> grid.time_vectors, grid.depth_vectors, grid.memory_input
    ((('h', 'T'), ('m', 'T')), (('h', 'D'), ('m', 'D')), 'shared')
    >>> sequence_grid(grid_model("stacked-rnn")).copies
    ('D',)
    """
    return model if isinstance(model, SequenceGrid) else _from_model(model)
