"""Weight files of the grids: round trips and errors that name the key."""

from __future__ import annotations

import numpy as np
import pytest

from numeric.errors import GradproofInputError
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.flows import depth_flow_map
from numeric.gridlstm.models import grid_model, grid_nd
from numeric.gridlstm.weight_files import (
    grid_weight_shapes,
    load_grid_weights,
    random_grid_weights,
    save_grid_weights,
)

HIDDEN, INPUT, LAYERS = 3, 2, 3


def test_weight_file_round_trips(tmp_path):
    for tied in (False, True):
        model = grid_model()
        weights = random_grid_weights(model, HIDDEN, INPUT, LAYERS, tied=tied, seed=3)
        path = tmp_path / f"grid-{tied}.npz"
        save_grid_weights(path, weights)
        loaded = load_grid_weights(path, model, layers=LAYERS if tied else None, tied=tied)
        assert (loaded.hidden, loaded.input_size, loaded.layers, loaded.tied) == (
            HIDDEN,
            INPUT,
            LAYERS,
            tied,
        )
        assert set(loaded.arrays) == set(grid_weight_shapes(model, HIDDEN, INPUT, LAYERS, tied))
        for key, value in weights.arrays.items():
            np.testing.assert_array_equal(loaded.arrays[key], value)
        grid = compile_grid(model, HIDDEN)
        inputs = np.ones((3, INPUT))
        np.testing.assert_array_equal(
            depth_flow_map(grid, loaded, inputs).log10_norm,
            depth_flow_map(grid, weights, inputs).log10_norm,
        )


def _arrays():
    return dict(random_grid_weights(grid_model(), HIDDEN, INPUT, 2, seed=0).arrays)


@pytest.mark.parametrize(
    "edit, options, message",
    [
        (lambda a: a.pop("bias_depth_l1"), {}, "no key 'bias_depth_l1'; expected shape (12,)"),
        (
            lambda a: a.update(weight_time_l0=np.zeros((12, 5))),
            {},
            "key 'weight_time_l0' has shape (12, 5), expected (12, 6)",
        ),
        (lambda a: a.update(extra=np.zeros(1)), {}, "unexpected key 'extra'"),
        (lambda a: a.pop("input_projection"), {}, "no key 'input_projection'"),
        (lambda a: None, {"hidden": 4}, "--hidden 4 disagrees"),
        (lambda a: None, {"input_size": 9}, "--input 9 disagrees"),
        (lambda a: None, {"layers": 3}, "--layers 3 disagrees"),
        (lambda a: None, {"tied": True, "layers": 2}, "'weight_time_l0'; drop --tied"),
        (
            lambda a: a.update(
                weight_time=a.pop("weight_time_l0"),
            ),
            {},
            "tied key 'weight_time'",
        ),
    ],
)
def test_bad_weight_files_name_the_key(edit, options, message):
    arrays = _arrays()
    edit(arrays)
    with pytest.raises(GradproofInputError) as err:
        load_grid_weights(arrays, grid_model(), **options)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_tied_weights_need_the_number_of_layers(tmp_path):
    weights = random_grid_weights(grid_model(), HIDDEN, INPUT, 2, tied=True)
    with pytest.raises(GradproofInputError, match="--layers"):
        load_grid_weights(dict(weights.arrays), grid_model(), tied=True)


def test_pt_weight_files_load_like_npz(tmp_path):
    torch = pytest.importorskip("torch")
    weights = random_grid_weights(grid_model(), HIDDEN, INPUT, 2, seed=4)
    torch.save({k: torch.as_tensor(v) for k, v in weights.arrays.items()}, tmp_path / "grid.pt")
    loaded = load_grid_weights(tmp_path / "grid.pt", grid_model())
    assert loaded.layers == 2
    for key, value in weights.arrays.items():
        np.testing.assert_array_equal(loaded.arrays[key], value)


def test_a_torch_file_named_npz_says_to_rename_it(tmp_path):
    torch = pytest.importorskip("torch")
    weights = random_grid_weights(grid_model(), HIDDEN, INPUT, 2)
    torch.save({k: torch.as_tensor(v) for k, v in weights.arrays.items()}, tmp_path / "grid.npz")
    with pytest.raises(GradproofInputError) as err:
        load_grid_weights(tmp_path / "grid.npz", grid_model())
    assert str(err.value) == (
        f"weights file '{tmp_path / 'grid.npz'}' is a torch.save file, not an .npz archive; "
        "give it a name ending in .pt"
    )


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            lambda a: a.update(input_projection=np.zeros((0, 2))),
            "key 'input_projection' has shape (0, 2), expected (d, k) = (hidden, input) with "
            "both sizes >= 1",
        ),
        (
            lambda a: a.update(bias_time_l0=a["bias_time_l0"] + 0j),
            "key 'bias_time_l0' has complex dtype complex128, expected real numbers",
        ),
        (
            lambda a: a.update(bias_time_l0=a["bias_time_l0"] > 0),
            "key 'bias_time_l0' has dtype bool, expected real numbers",
        ),
    ],
)
def test_arrays_given_in_memory_follow_the_file_policy(edit, message):
    arrays = _arrays()
    edit(arrays)
    with pytest.raises(GradproofInputError) as err:
        load_grid_weights(arrays, grid_model())
    assert str(err.value).startswith(message)


# N-dimensional grids: peepholes, a memory projection, dimensions tied together, no input.
GRIDS = [
    (("time", "depth"), {"peepholes": True, "memory_input": "projection"}),
    (("depth", "time", "time2"), {"non_lstm": {"depth": "relu"}, "tied": True}),
    (("time",), {}),
    (("depth",), {"non_lstm": {"depth": "tanh"}}),
]


@pytest.mark.parametrize(("dims", "options"), GRIDS)
def test_n_d_weight_files_round_trip(tmp_path, dims, options):
    grid = grid_nd(dims, **options)
    size = INPUT if grid.input is not None else 0
    weights = random_grid_weights(grid, HIDDEN, size, LAYERS, seed=2)
    assert set(weights.arrays) == set(grid_weight_shapes(grid, HIDDEN, size, LAYERS))
    save_grid_weights(tmp_path / "grid.npz", weights)
    loaded = load_grid_weights(tmp_path / "grid.npz", grid)
    assert (loaded.hidden, loaded.input_size, loaded.layers) == (HIDDEN, size, LAYERS)
    assert all(np.array_equal(loaded.arrays[k], v) for k, v in weights.arrays.items())


def test_n_d_weight_files_name_what_is_wrong():
    peephole = grid_nd(peepholes=True, memory_input="projection")
    arrays = dict(random_grid_weights(peephole, HIDDEN, INPUT, 1, seed=0).arrays)
    for key, shape in (("peephole_depth_l0", (9,)), ("memory_projection", (3, 2))):
        broken = {k: v for k, v in arrays.items() if k != key}
        with pytest.raises(GradproofInputError) as err:
            load_grid_weights(broken, peephole)
        assert str(err.value) == f"weights file has no key '{key}'; expected shape {shape}"
    # the paper's zero memory takes no memory projection, a grid without input no projection
    with pytest.raises(GradproofInputError, match="unexpected key 'memory_projection'"):
        load_grid_weights(arrays, grid_nd(peepholes=True))
    time_only = grid_nd(("time",))
    no_input = dict(random_grid_weights(time_only, HIDDEN, 0, 2, seed=0).arrays)
    assert "input_projection" not in no_input
    with pytest.raises(GradproofInputError, match="unexpected key 'input_projection'"):
        load_grid_weights({**no_input, "input_projection": np.zeros((HIDDEN, INPUT))}, time_only)
    for options, message in (
        ({"input_size": 2}, "--input 2: this grid has no depth dimension, so it reads no input"),
        ({"hidden": 4}, "--hidden 4 disagrees with the weights file: key 'weight_time_l0'"),
    ):
        with pytest.raises(GradproofInputError, match=message):
            load_grid_weights(no_input, time_only, **options)
    for weight, message in (
        (np.zeros((12, 4)), r"key 'weight_time_l0' has shape \(12, 4\), expected \(16, 4\)"),
        (np.zeros(12), r"key 'weight_time_l0' has shape \(12,\), expected \(G d, 1 d\)"),
    ):
        with pytest.raises(GradproofInputError, match=message):
            load_grid_weights({**no_input, "weight_time_l0": weight}, time_only)
    with pytest.raises(GradproofInputError, match="--input must be a positive integer, got 0"):
        random_grid_weights(grid_nd(), HIDDEN, 0, 1)
