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
