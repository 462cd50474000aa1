"""Heat maps of gradient flow over the (t, l) grid, and the comparison they show."""

from __future__ import annotations

from numeric.gridlstm.figures import compare_depth_flow, plot_depth_flow
from numeric.gridlstm.models import GRID_MODELS


def test_heat_map_files_are_deterministic(tmp_path):
    maps = compare_depth_flow(hidden=2, input_size=1, layers=3, steps=4)
    assert set(maps) == set(GRID_MODELS)
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    plot_depth_flow(first, maps, "test")
    plot_depth_flow(second, maps, "test")
    assert first.read_bytes() == second.read_bytes()
    pdf = tmp_path / "a.pdf"
    plot_depth_flow(pdf, maps, "test")
    assert b"CreationDate" not in pdf.read_bytes()


def test_grid_lstm_loses_less_per_layer_than_the_stacked_lstm():
    maps = compare_depth_flow(hidden=8, input_size=2, layers=6, steps=5, scale=1.0, seed=0)
    assert maps["gridlstm"].depth_slope < maps["stacked-lstm"].depth_slope
