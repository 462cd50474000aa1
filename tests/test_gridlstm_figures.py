"""Heat maps of gradient flow over the (t, l) grid, and the comparison they show."""

from __future__ import annotations

import dataclasses

from numeric.gridlstm import figures as grid_figures
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


def test_the_peephole_caption_prints_the_numbers_it_measures(tmp_path, monkeypatch):
    from numeric.gridlstm import flows

    sizes = {"hidden": 3, "layers": 2, "steps": 4}
    runs = flows.peephole_runs(sizes["hidden"], 4, sizes["layers"], sizes["steps"])
    caption = grid_figures.plot_grid_peepholes(tmp_path / "a.png", **sizes)
    for run in runs.values():
        assert f"${run.time_rate:.4f}$ decades per step" in caption
        assert f"the gradient {run.depth.depth_decay}" in caption
        for entries in run.carousel.values():
            assert f"$[{entries.min():.3f}, {entries.max():.3f}]$" in caption
    # teeth: other measurements print other numbers
    shifted = {
        scale: dataclasses.replace(run, carousel={k: v + 1 for k, v in run.carousel.items()})
        for scale, run in runs.items()
    }
    monkeypatch.setattr(flows, "peephole_runs", lambda *args, **kwargs: shifted)
    assert grid_figures.plot_grid_peepholes(tmp_path / "b.png", **sizes) != caption
