"""The Grid LSTM (Kalchbrenner, Danihelka and Graves, ICLR 2016), symbolically.

One module per piece of the mathematics: :mod:`.transform` (the LSTM
transform of one dimension), :mod:`.block` (the N-dimensional block),
:mod:`.sequence_models` (the 2D model over sequences, the stacked reading of
it, the stacked comparison models), :mod:`.description` (what a model does and where
two differ), :mod:`.jacobian_claims` (exact checks of the block Jacobian),
:mod:`.memory_paths` (what each memory's own Jacobian block is, read off the
block) and :mod:`.derivations` (the equations, the comparison and the block
Jacobian as derivations).  Exported here: what the command line, the report and the
notebook use.
"""

from __future__ import annotations

from ..registry import CellFamily
from .block import grid_block
from .derivations import (
    comparison_derivation,
    equations_derivation,
    grid_derivations,
    jacobian_derivation,
)
from .description import describe, differences
from .jacobian_claims import block_mismatches
from .sequence_models import (
    PRIORITIES,
    VARIANT_ALIASES,
    VARIANT_READINGS,
    VARIANTS,
    grid_lstm_2d,
    resolve_options,
    stacked_lstm_2d,
    stacked_rnn_2d,
)
from .transform import OUTPUT_FORMS

__all__ = [
    "FAMILY",
    "OUTPUT_FORMS",
    "PRIORITIES",
    "VARIANTS",
    "VARIANT_READINGS",
    "block_mismatches",
    "comparison_derivation",
    "describe",
    "differences",
    "equations_derivation",
    "grid_block",
    "grid_derivations",
    "grid_lstm_2d",
    "jacobian_derivation",
    "resolve_options",
    "stacked_lstm_2d",
    "stacked_rnn_2d",
]


class _Choices(tuple):
    """An option's allowed values; ``in`` also accepts old names, which are never listed.

    Examples
    --------
    >>> choices = _Choices(("paper", "stacked"), {"seed"})
    >>> "seed" in choices, list(choices)
    (True, ['paper', 'stacked'])
    """

    aliases: frozenset[str]

    def __new__(cls, values: tuple, aliases=()) -> _Choices:
        obj = super().__new__(cls, values)
        obj.aliases = frozenset(aliases)
        return obj

    def __contains__(self, value: object) -> bool:
        return tuple.__contains__(self, value) or value in self.aliases


#: The Grid LSTM as the registry knows it.  Its flow runs over the time-by-depth
#: grid, not one cell along time, so it names its own numeric runner; None as an
#: option's default lets the variant choose (the stacked reading fixes its output
#: form and its priority, and refuses other values).  The old variant name
#: ``seed`` is accepted for ``stacked`` but never listed.
FAMILY = CellFamily(
    name="gridlstm",
    build=lambda variant, output_form, priority: grid_lstm_2d(variant, output_form, priority).cell,
    options={
        "variant": _Choices(VARIANTS, VARIANT_ALIASES),
        "output_form": (None, *sorted(OUTPUT_FORMS)),
        "priority": (None, *PRIORITIES),
    },
    derivations=grid_derivations,
    flow="numeric.gridlstm.cli:flow_command",
    summary="Q2: the 2D Grid LSTM's equations along time and depth, and its block Jacobian",
    weights_help=(
        "its own .npz: input_projection (d, k) and, per layer l, weight_time_l{l} (4d, 2d), "
        "bias_time_l{l} (4d,), weight_depth_l{l} (4d, 2d), bias_depth_l{l} (4d,) (with --tied, "
        "the same names without _l{l}); gate rows i, f, g, o (the paper's u, f, c, o), "
        "columns [h^time; h^depth] (in the stacked reading: time columns [h^time; m^depth], "
        "depth columns [new h^time; h^depth]); grids built with --dims name their weights "
        "per dimension NAME: weight_NAME_l{l} (4d, N d) for an LSTM dimension or (d, N d) for "
        "another, bias_NAME_l{l}, with --peepholes peephole_NAME_l{l} (3d,), with --tied-dims "
        "one group name instead of NAME, memory_projection (d, k) with --memory-input "
        "projection, and no input_projection without a depth dimension"
    ),
)
