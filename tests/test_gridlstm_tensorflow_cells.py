"""TensorFlow's GridRNNCell classes: the configurations they build, what is refused."""

from __future__ import annotations

import pytest

from numeric.errors import GradproofInputError
from numeric.gridlstm.tensorflow_cells import gridrnn_config, tensorflow_variable_shapes

UNITS = 3


@pytest.mark.parametrize(
    "cls, kwargs, expected",
    [
        ("Grid1LSTMCell", {}, ((0,), (0,), (0,), (), (0,))),
        ("Grid2BasicRNNCell", {"non_recurrent_fn": "relu"}, ((0,), (0,), (0,), (0,), (1,))),
        ("Grid3LSTMCell", {"non_recurrent_fn": None}, ((0,), (0,), (0,), (), (0, 1, 2))),
        (
            "GridRNNCell",
            {"num_dims": 3, "input_dims": 2, "output_dims": [2, 0, 2], "priority_dims": 1},
            ((2,), (0, 2), (1,), (), (0, 1, 2)),
        ),
    ],
)
def test_a_class_builds_tensorflows_configuration(cls, kwargs, expected):
    c = gridrnn_config(cls, UNITS, **kwargs)
    got = (c.input_dims, c.output_dims, c.priority_dims, c.non_recurrent_dims, c.recurrent_dims)
    assert got == expected


def test_the_variables_follow_the_inner_cell_and_tying():
    untied = tensorflow_variable_shapes(
        gridrnn_config("Grid2LSTMCell", UNITS, use_peepholes=True), 2
    )
    assert untied["kernel_1"] == (2 * UNITS, 4 * UNITS) and untied["w_o_diag_0"] == (UNITS,)
    rnn = tensorflow_variable_shapes(
        gridrnn_config("Grid2BasicRNNCell", UNITS, tied=True, non_recurrent_fn="relu"), 2
    )
    assert rnn == {
        "project_m_0": (2, UNITS),
        "kernel": (2 * UNITS, UNITS),
        "bias": (UNITS,),
        "weights": (2 * UNITS, UNITS),
        "biases": (UNITS,),
    }


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        ("Grid2GRUCell", {}, "not a Grid LSTM"),
        ("Grid5LSTMCell", {}, "unknown GridRNNCell class"),
        ("Grid1LSTMCell", {"tied": True}, "takes no argument 'tied'"),
        ("Grid2LSTMCell", {"non_recurrent_fn": "softplus"}, "non_recurrent_fn 'softplus'"),
        ("GridRNNCell", {"num_dims": 2, "input_dims": [0, 1]}, "input in one dimension"),
        ("GridRNNCell", {"num_dims": 2, "non_recurrent_dims": 1}, "neither recurrent nor"),
        ("GridRNNCell", {"num_dims": 2, "priority_dims": 2}, "must lie in"),
        ("GridRNNCell", {"cell": "GRUCell"}, "not a Grid LSTM transform"),
        ("GridRNNCell", {"cell": "BasicLSTMCell", "use_peepholes": True}, "no peepholes"),
    ],
)
def test_configurations_gradproof_cannot_map_are_refused_in_one_line(cls, kwargs, message):
    with pytest.raises(GradproofInputError, match=message) as err:
        gridrnn_config(cls, UNITS, **kwargs)
    assert "\n" not in str(err.value)
