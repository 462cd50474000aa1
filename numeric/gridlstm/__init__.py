"""The 2D Grid LSTM over sequences, numerically: weight files, compiled grid, gradient flow.

:mod:`.models` names the models run, :mod:`.weight_files` reads, writes and
draws their weights, :mod:`.compiled` compiles the block and the step along
time, :mod:`.flows` measures gradient flow along time and over the (t, l)
grid; :mod:`.figures` draws the heat maps and :mod:`.cli` is
``gradproof flow gridlstm``.  Exported here: what a notebook or script runs.
"""

from .compiled import compile_grid
from .flows import DepthFlow, depth_flow_map, time_flow
from .models import GRID_MODELS, grid_model
from .weight_files import load_grid_weights, random_grid_weights, save_grid_weights

__all__ = [
    "GRID_MODELS",
    "DepthFlow",
    "compile_grid",
    "depth_flow_map",
    "grid_model",
    "load_grid_weights",
    "random_grid_weights",
    "save_grid_weights",
    "time_flow",
]
