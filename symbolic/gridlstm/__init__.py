"""The Grid LSTM (Kalchbrenner, Danihelka and Graves, ICLR 2016), symbolically.

One module per piece of the mathematics: :mod:`.transform` (the LSTM
transform of one dimension), :mod:`.block` (the N-dimensional block),
:mod:`.sequence_models` (the 2D model over sequences, the seed's reading, the
stacked comparison models), :mod:`.description` (what a model does and where
two differ), :mod:`.jacobian_claims` (exact checks of the block Jacobian) and
:mod:`.derivations` (the equations, the comparison and the block Jacobian as
derivations).  Exported here: what the command line, the report and the
notebook use.
"""

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
from .sequence_models import PRIORITIES, VARIANTS, grid_lstm_2d, stacked_lstm_2d, stacked_rnn_2d
from .transform import OUTPUT_FORMS

__all__ = [
    "FAMILY",
    "OUTPUT_FORMS",
    "PRIORITIES",
    "VARIANTS",
    "block_mismatches",
    "comparison_derivation",
    "describe",
    "differences",
    "equations_derivation",
    "grid_block",
    "grid_derivations",
    "grid_lstm_2d",
    "jacobian_derivation",
    "stacked_lstm_2d",
    "stacked_rnn_2d",
]


def _derivations(variant: str, output_form: str | None, priority: str | None) -> tuple:
    if variant == "seed" and priority == "none":
        raise ValueError(
            "in the seed's reading the depth LSTM reads the new time hidden vector, "
            "so its priority is depth; drop --priority none"
        )
    return grid_derivations(variant, output_form, priority)


#: The Grid LSTM as the registry knows it.  Its flow runs over the time-by-depth
#: grid, not one cell along time, so it names its own numeric runner; None as an
#: option's default lets the variant choose (the seed's reading has depth priority).
FAMILY = CellFamily(
    name="gridlstm",
    build=lambda variant, output_form, priority: grid_lstm_2d(variant, output_form, priority).cell,
    options={
        "variant": VARIANTS,
        "output_form": (None, *sorted(OUTPUT_FORMS)),
        "priority": (None, *PRIORITIES),
    },
    derivations=_derivations,
    flow="numeric.gridlstm.cli:flow_command",
    summary="Q2: the 2D Grid LSTM's equations along time and depth, and its block Jacobian",
    weights_help=(
        "its own .npz: input_projection (d, k) and, per layer l, weight_time_l{l} (4d, 2d), "
        "bias_time_l{l} (4d,), weight_depth_l{l} (4d, 2d), bias_depth_l{l} (4d,) (with --tied, "
        "the same names without _l{l}); gate rows i, f, g, o (the paper's u, f, c, o), "
        "columns [h^time; h^depth]"
    ),
)
