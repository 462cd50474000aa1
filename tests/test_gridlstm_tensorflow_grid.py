"""TensorFlow's GridRNNCell as a gradproof grid: outputs and states against TF's semantics.

TensorFlow is not needed: :func:`tf_call` below is a NumPy transcription of
``GridRNNCell.__call__`` in TF 1.x ``tf.contrib.grid_rnn`` (``_extract_states``,
``_project_input``, ``_propagate``) with its inner cells ``LSTMCell`` (peepholes
``w_f_diag``, ``w_i_diag`` on ``c_prev``, ``w_o_diag`` on the new ``c``, the
forget bias added to ``f``), ``BasicLSTMCell``, ``BasicRNNCell`` and the
``fully_connected`` layer of non-recurrent dimensions, on TF-layout variables
drawn here.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from numeric.check import RTOL, check_jacobian
from numeric.errors import GradproofInputError
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.flows import time_flow
from numeric.gridlstm.sequence_grids import SequenceGrid
from numeric.gridlstm.tensorflow_cells import (
    GRIDRNN_CLASSES,
    INNER_CELLS,
    GridRNNConfig,
    gridrnn_config,
    tensorflow_variable_shapes,
)
from numeric.gridlstm.tensorflow_grid import TENSORFLOW_OPTIONS, from_tensorflow
from symbolic.gridlstm.block import grid_block

UNITS, INPUT, BATCH = 3, 2, 2
ACT = {"relu": lambda v: np.maximum(v, 0.0), "tanh": np.tanh, "sigmoid": lambda v: _sigmoid(v)}


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def tf_call(config, V, inputs, state, *, old_output_peephole=False):
    """``GridRNNCell.__call__`` in NumPy; ``old_output_peephole`` is a wrong variant."""
    c, N = config, config.num_dims
    recurrents = [i for i in range(N) if i not in c.non_recurrent_dims]
    lstm = c.cell != "BasicRNNCell"
    c_prev, m_prev = [None] * N, [None] * N
    for i, entry in zip(recurrents, state, strict=True):
        if lstm:
            c_prev[i], m_prev[i] = entry
        else:
            m_prev[i] = entry
    if inputs.shape[1] > 0 and c.input_dims:
        for split, j in zip(np.split(inputs, len(c.input_dims), axis=1), c.input_dims, strict=True):
            m_prev[j] = split @ V[f"project_m_{j}"]
            if lstm:
                c_prev[j] = split @ V[f"project_c_{j}"] if f"project_c_{j}" in V else None
    new_output, new_state = [None] * N, [None] * N

    def var(name, i):
        return V[name if c.tied else f"{name}_{i}"]

    def inner(i, x, cell_state):
        if c.cell == "BasicRNNCell":
            out = np.tanh(np.concatenate([x, cell_state], 1) @ var("kernel", i) + var("bias", i))
            return out, out
        cp, mp = cell_state
        z = np.concatenate([x, mp], 1) @ var("kernel", i) + var("bias", i)
        gi, gj, gf, go = np.split(z, 4, axis=1)
        if c.cell == "LSTMCell" and c.use_peepholes:
            new_c = _sigmoid(gf + c.forget_bias + var("w_f_diag", i) * cp) * cp + _sigmoid(
                gi + var("w_i_diag", i) * cp
            ) * np.tanh(gj)
            peep = cp if old_output_peephole else new_c
            m = _sigmoid(go + var("w_o_diag", i) * peep) * np.tanh(new_c)
        else:
            new_c = _sigmoid(gf + c.forget_bias) * cp + _sigmoid(gi) * np.tanh(gj)
            m = np.tanh(new_c) * _sigmoid(go)
        return m, (new_c, m)

    def propagate(dims):
        if not dims:
            return
        if N > 1:
            cell_inputs = np.concatenate(
                [m_prev[d] if new_output[d] is None else new_output[d] for d in range(N - 1)], 1
            )
        else:
            cell_inputs = np.zeros((m_prev[0].shape[0], 0))
        last = m_prev[-1] if new_output[-1] is None else new_output[-1]
        for i in dims:
            if i in c.non_recurrent_dims:
                args = np.concatenate([cell_inputs, last], 1) if N > 1 else last
                fn = ACT.get(c.non_recurrent_fn, lambda v: v)
                new_output[i] = fn(args @ var("weights", i) + var("biases", i))
            else:
                cell_state = (c_prev[i], last) if c_prev[i] is not None else last
                new_output[i], new_state[i] = inner(i, cell_inputs, cell_state)

    propagate([i for i in range(N) if i not in c.priority_dims])
    propagate(list(c.priority_dims))
    return tuple(new_output[i] for i in c.output_dims), tuple(new_state[i] for i in recurrents)


def _variables(config, seed=0):
    rng = np.random.default_rng(seed)
    V = {
        k: rng.standard_normal(s) / 1.5
        for k, s in tensorflow_variable_shapes(config, INPUT).items()
    }
    if config.cell != "BasicRNNCell":
        # TensorFlow creates project_c for every input dimension of an LSTM grid.
        for j in config.input_dims:
            V.setdefault(f"project_c_{j}", rng.standard_normal((INPUT, UNITS)))
    return V


def _state(config, seed=1):
    rng = np.random.default_rng(seed)
    draw = lambda: rng.standard_normal((BATCH, UNITS))  # noqa: E731
    lstm = config.cell != "BasicRNNCell"
    return tuple((draw(), draw()) if lstm else draw() for _ in config.recurrent_dims)


def _flat(value):
    if isinstance(value, tuple):
        return [a for v in value for a in _flat(v)]
    return [np.asarray(value)]


def _agree(a, b) -> bool:
    fa, fb = _flat(a), _flat(b)
    return len(fa) == len(fb) and all(
        np.allclose(x, y, rtol=RTOL, atol=RTOL) for x, y in zip(fa, fb, strict=True)
    )


def _class_cases():
    choices = {
        "tied": (False, True),
        "non_recurrent_fn": (None, "relu"),
        "use_peepholes": (False, True),
        "forget_bias": (None, 0.3),
    }
    for cls, (_, accepted) in GRIDRNN_CLASSES.items():
        if cls == "GridRNNCell":
            continue
        names = [n for n in choices if n in accepted]
        for values in itertools.product(*(choices[n] for n in names)):
            kwargs = {n: v for n, v in zip(names, values, strict=True) if v is not None}
            yield pytest.param(cls, kwargs, id=f"{cls}-{'-'.join(map(str, kwargs.values()))}")


GENERIC = [
    # two priority dimensions (each reads the other's incoming h), a tanh non-recurrent input
    # dimension, outputs from every dimension, peepholes, tied
    dict(
        num_dims=3,
        input_dims=1,
        output_dims=[0, 1, 2],
        priority_dims=[0, 2],
        non_recurrent_dims=1,
        non_recurrent_fn="tanh",
        use_peepholes=True,
        tied=True,
    ),
    dict(num_dims=3, input_dims=2, output_dims=[2, 0], priority_dims=[1, 2], forget_bias=-0.5),
    dict(num_dims=2, output_dims=1, cell="BasicRNNCell", priority_dims=0),  # no input
    dict(num_dims=2, input_dims=1, output_dims=1, cell="BasicLSTMCell", tied=True),
]


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        *_class_cases(),
        *(pytest.param("GridRNNCell", g, id=f"generic{i}") for i, g in enumerate(GENERIC)),
    ],
)
def test_outputs_and_states_are_tensorflows(cls, kwargs):
    config = gridrnn_config(cls, UNITS, **kwargs)
    V = _variables(config)
    grid = from_tensorflow(config, V)
    inputs = np.random.default_rng(2).standard_normal((BATCH, INPUT))
    state = _state(config)
    expected = tf_call(config, V, inputs, state)
    assert _agree(grid.call(inputs, state), expected)
    # one sample without a batch axis
    single = grid.call(inputs[0], tuple(_flat_index(s, 0) for s in state))
    assert _agree(single, tuple(_flat_index(e, 0) for e in expected))
    if config.use_peepholes:
        # teeth: TensorFlow's output gate reads the new memory, not the old one
        assert not _agree(
            grid.call(inputs, state), tf_call(config, V, inputs, state, old_output_peephole=True)
        )


def _flat_index(value, k):
    return tuple(_flat_index(v, k) for v in value) if isinstance(value, tuple) else value[k]


@pytest.mark.parametrize(
    "wrong",
    ["forget bias dropped", "gate columns kept", "paper priority", "memory projection dropped"],
)
def test_a_wrong_mapping_fails(wrong):
    config = gridrnn_config("GridRNNCell", UNITS, **{**GENERIC[0], "non_recurrent_dims": None})
    config = dataclasses.replace(config, forget_bias=0.7)
    V = _variables(config)
    grid = from_tensorflow(config, V)
    inputs, state = np.random.default_rng(2).standard_normal((BATCH, INPUT)), _state(config)
    expected = tf_call(config, V, inputs, state)
    assert _agree(grid.call(inputs, state), expected)
    if wrong == "forget bias dropped":
        broken = from_tensorflow(dataclasses.replace(config, forget_bias=0.0), V)
    elif wrong == "gate columns kept":
        # i, j, f, o read as i, f, g, o: TensorFlow's candidate taken for the forget gate
        i, j, f, o = np.split(V["kernel"], 4, axis=1)
        swapped = dict(V, kernel=np.concatenate([i, f, j, o], axis=1))
        broken = dataclasses.replace(grid, weights=from_tensorflow(config, swapped).weights)
    elif wrong == "paper priority":
        # the second priority dimension reading the first's new h (the paper's block)
        block = grid.grid.block
        paper = grid_block(block.dimensions, transform=block.transform, priority=["0", "2"])
        broken = dataclasses.replace(grid, grid=dataclasses.replace(grid.grid, block=paper))
    else:
        broken = dataclasses.replace(grid, grid=dataclasses.replace(grid.grid, memory_input="zero"))
    assert not _agree(broken.call(inputs, state), expected)


def test_the_mapping_places_dimensions_and_ties_by_group():
    config = gridrnn_config("Grid3LSTMCell", UNITS, tied=True, non_recurrent_fn="relu")
    grid = from_tensorflow(config, _variables(config)).grid
    assert isinstance(grid, SequenceGrid)
    assert (grid.time, grid.depth, grid.input) == (("1", "2"), ("0",), "0")
    assert grid.shared == (("recurrent", ("1", "2")), ("non_recurrent", ("0",)))
    assert dict(grid.block.reads)["0"] == (("h", "0", "in"), ("h", "1", "new"), ("h", "2", "new"))
    assert grid.block.transform.output_form == "standard"


def test_bad_variables_are_refused_in_one_line():
    config = gridrnn_config("Grid2LSTMCell", UNITS)
    V = _variables(config)
    for variables, message in [
        ({k: v for k, v in V.items() if k != "kernel_1"}, "no variable 'kernel_1'"),
        ({k: v for k, v in V.items() if k != "project_m_0"}, "no variable 'project_m_0'"),
        (dict(V, bias_0=np.zeros(3)), "has shape"),
        (dict(V, kernel=V["kernel_0"]), "unexpected variable 'kernel'"),
    ]:
        with pytest.raises(GradproofInputError, match=message) as err:
            from_tensorflow(config, variables)
        assert "\n" not in str(err.value)
    with pytest.raises(GradproofInputError, match="one per recurrent dimension"):
        from_tensorflow(config, V).call(np.zeros(INPUT), ())


def test_along_a_sequence_the_time_step_is_tensorflows_cell():
    # In a dynamic_rnn, dimensions 1 and 2 of a 3D cell carry their state from step to step
    # and dimension 0 is refilled from the input: that is the grid's step along time.
    config = gridrnn_config("Grid3LSTMCell", UNITS, use_peepholes=True, non_recurrent_fn="relu")
    V = _variables(config)
    grid = from_tensorflow(config, V)
    model = compile_grid(grid.grid, UNITS).time_model(grid.weights)
    rng = np.random.default_rng(4)
    x, s = rng.standard_normal(INPUT), rng.standard_normal(model.state_size)
    h1, m1, h2, m2 = np.split(s, 4)  # gradproof's order h, m; TensorFlow's (c, h)
    _, (new1, new2) = tf_call(config, V, x[None], ((m1[None], h1[None]), (m2[None], h2[None])))
    expected = np.concatenate([new1[1][0], new1[0][0], new2[1][0], new2[0][0]])
    assert np.allclose(model.step(s, x), expected, rtol=RTOL, atol=RTOL)
    assert check_jacobian(lambda v: model.step(v, x), lambda v: model.jacobian(v, x), s)
    inputs = rng.standard_normal((5, INPUT))
    assert np.all(
        np.isfinite(time_flow(compile_grid(grid.grid, UNITS), grid.weights, inputs).log10_norm)
    )


def test_every_option_of_tensorflows_cell_has_a_row_in_the_table():
    rows = " ".join(option for option, _, _ in TENSORFLOW_OPTIONS)
    arguments = [f.name for f in dataclasses.fields(GridRNNConfig) if f.name != "cell"]
    for name in [*arguments, *INNER_CELLS, "GRUCell", "kernel", "bias", "state", "state_is_tuple"]:
        assert name in rows, name
    assert all(len(row) == 3 and all(row) for row in TENSORFLOW_OPTIONS)
