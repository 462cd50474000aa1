"""Grid LSTMs over sequences, numerically: grids, weight files, compiled grids, gradient flow.

:mod:`.models` names the models run (the 2D models and N-dimensional grids,
:func:`grid_nd`), :mod:`.sequence_grids` places a block's dimensions along
time and depth and lists a grid's weight-file keys, :mod:`.weight_files`
reads, writes and draws a grid's weights, :mod:`.compiled` compiles the
block and the step along time, :mod:`.flows` measures gradient flow along
time and over the (t, l) grid; :mod:`.tensorflow_cells` reads TensorFlow's
GridRNNCell configurations and :mod:`.tensorflow_grid` maps them onto a
grid; :mod:`.figures` draws the heat maps and :mod:`.cli` is
``gradproof flow gridlstm``.  Exported here: what a notebook or script runs.
"""

from .compiled import compile_grid
from .flows import DepthFlow, depth_flow_map, time_flow
from .models import GRID_MODELS, grid_model, grid_nd
from .sequence_grids import SequenceGrid, sequence_grid
from .tensorflow_cells import gridrnn_config
from .tensorflow_grid import from_tensorflow
from .weight_files import load_grid_weights, random_grid_weights, save_grid_weights

__all__ = [
    "GRID_MODELS",
    "DepthFlow",
    "SequenceGrid",
    "compile_grid",
    "depth_flow_map",
    "from_tensorflow",
    "grid_model",
    "grid_nd",
    "gridrnn_config",
    "load_grid_weights",
    "random_grid_weights",
    "save_grid_weights",
    "sequence_grid",
    "time_flow",
]
