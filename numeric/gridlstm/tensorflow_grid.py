"""TensorFlow's GridRNNCell (TF 1.x ``tf.contrib.grid_rnn``) as a gradproof grid.

:func:`gridrnn_config` reads a configuration the way a ``GridRNNCell`` class
or its constructor builds it; :func:`from_tensorflow` turns it and the cell's
variables into a :class:`~numeric.gridlstm.sequence_grids.SequenceGrid`
(one layer) with weights, whose :meth:`TensorFlowGrid.call` gives the cell's
outputs and new states from its inputs and state.  The mapping uses the
weights alone: TensorFlow's gate columns ``i, j, f, o`` become gradproof's
rows ``i, f, g, o`` (the paper's ``u, f, c, o``), the forget bias is added to
``b_f``, and the input projections ``project_m``, ``project_c`` are the
incoming hidden vector and memory of the input dimension.

:data:`TENSORFLOW_OPTIONS` says what every option of TensorFlow's cell is
in gradproof and in the paper (Kalchbrenner, Danihelka and Graves 2016),
``H = [h_0; ...; h_{N-1}]`` the incoming hidden vectors in dimension order;
:func:`options_table` prints it as a Markdown table.

The classes, their configurations and the variables' keys and shapes are
in :mod:`numeric.gridlstm.tensorflow_cells`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from symbolic.gridlstm.block import Dimension, grid_block

from ..errors import GradproofInputError
from ..loading import real_array
from .compiled import compile_grid
from .models import grid_transform
from .sequence_grids import SequenceGrid
from .tensorflow_cells import GridRNNConfig, tensorflow_variable_shapes
from .weight_files import GridWeights

__all__ = ["TENSORFLOW_OPTIONS", "TensorFlowGrid", "from_tensorflow", "options_table"]

#: Every option of TensorFlow's GridRNNCell: (option, gradproof, the paper).
TENSORFLOW_OPTIONS = (
    ("num_units", "the size d of every hidden vector h and memory m", "a block's vector size"),
    ("num_dims", 'N dimensions, labelled "0" to "N-1"', "an N-dimensional block (Sec. 3)"),
    (
        "input_dims",
        "one input dimension: its incoming h = P_h x with P_h = project_m^T and its memory "
        "m = P_m x with P_m = project_c^T, a projection of its own",
        "the input projected into the block (Sec. 3.4)",
    ),
    ("output_dims", "the dimensions whose new h is the output", "the output (Sec. 3.4)"),
    (
        "priority_dims",
        "priority dimensions, computed after the others and reading their new h; TensorFlow's "
        "priority dimensions read each other's incoming h",
        "priority dimensions (Sec. 3.2)",
    ),
    (
        "non_recurrent_dims",
        "non-LSTM dimensions h' = alpha(V H + c), not in TensorFlow's state",
        "non-LSTM dimensions (Sec. 3.3)",
    ),
    ("non_recurrent_fn", "alpha (default relu)", "the function of a non-LSTM dimension"),
    (
        "tied",
        "one weight set for all recurrent dimensions (weight-file name recurrent), one for all "
        "non-recurrent dimensions (non_recurrent)",
        "weight sharing, here across the dimensions of one block",
    ),
    (
        "cell_fn: LSTMCell, BasicLSTMCell",
        "LSTM dimensions with biases, output form h' = g^o ⊙ tanh(m') (standard)",
        "the LSTM transform, written h' = tanh(g^o ⊙ m') and without biases",
    ),
    (
        "cell_fn: BasicRNNCell",
        "non-LSTM dimensions with alpha = tanh, in the state",
        "non-LSTM dimensions (Sec. 3.3)",
    ),
    (
        "cell_fn: GRUCell (Grid2GRUCell)",
        "refused: the GRU's gates act on the last dimension's h, not a Grid LSTM transform",
        "none",
    ),
    (
        "use_peepholes",
        "peepholes: w_i_diag and w_f_diag read the incoming memory m, w_o_diag the new m'",
        "none (Gers, Schraudolph and Schmidhuber 2002)",
    ),
    ("forget_bias", "added to the forget gate's bias b_f", "none (no biases)"),
    (
        "kernel [inputs; h] by 4 units, columns i, j, f, o",
        "weight rows i, f, g, o: the kernel's columns i, f, j, o, transposed; its rows are H "
        "(inputs h_0..h_{N-2}, then h = h_{N-1})",
        "the gate weights W^u, W^f, W^c, W^o acting on H",
    ),
    ("bias", "bias rows i, f, g, o, b_f plus the forget bias", "none (no biases)"),
    ("state (c, h) of a dimension", "its memory and hidden vector (m, h)", "m and h"),
    ("state_is_tuple, output_is_tuple", "layout only: tuples here", "none"),
)


def _grid(c: GridRNNConfig) -> SequenceGrid:
    labels = [str(i) for i in range(c.num_dims)]
    kind = {
        str(i): ("lstm" if c.lstm else "tanh") if i in c.recurrent_dims else c.non_recurrent_fn
        for i in range(c.num_dims)
    }
    dims = [Dimension(x, f"dim{x}", sp.Symbol(f"p_{x}", integer=True), kind[x]) for x in labels]
    priority = [str(i) for i in c.priority_dims]
    # TensorFlow computes the non-priority dimensions, then the priority ones, each group
    # reading H as it stands before the group: new h of the other group, incoming h of its own.
    reads = {
        a: tuple(("h", b, "new" if a in priority and b not in priority else "in") for b in labels)
        for a in labels
    }
    block = grid_block(
        dims,
        transform=grid_transform("standard", c.use_peepholes),
        priority=priority,
        reads=reads,
        name="gridlstm",
        title=f"TensorFlow {c.num_dims}D GridRNNCell ({c.cell})",
    )
    groups = (
        ("recurrent", tuple(str(i) for i in c.recurrent_dims)),
        ("non_recurrent", tuple(str(i) for i in c.non_recurrent_dims)),
    )
    inputs = tuple(str(i) for i in c.input_dims)
    return SequenceGrid(
        block,
        time=tuple(str(i) for i in c.recurrent_dims if i not in c.input_dims),
        depth=inputs,
        input=inputs[0] if inputs else None,
        memory_input="projection",
        shared=tuple(g for g in groups if g[1]) if c.tied else (),
    )


def options_table() -> str:
    """:data:`TENSORFLOW_OPTIONS` as a Markdown table.

    Examples
    --------
    >>> print("\\n".join(options_table().splitlines()[:3]))
    | TensorFlow | gradproof | Kalchbrenner, Danihelka and Graves (2016) |
    | --- | --- | --- |
    | `num_units` | the size d of every hidden vector h and memory m | a block's vector size |
    """
    lines = ["| TensorFlow | gradproof | Kalchbrenner, Danihelka and Graves (2016) |"]
    lines.append("| --- | --- | --- |")
    lines += [f"| `{tf}` | {ours} | {paper} |" for tf, ours, paper in TENSORFLOW_OPTIONS]
    return "\n".join(lines)


@dataclass(frozen=True)
class TensorFlowGrid:
    """A GridRNNCell as a gradproof grid of one layer, and its weights."""

    config: GridRNNConfig
    grid: SequenceGrid
    weights: GridWeights = field(repr=False)

    def call(self, inputs: np.ndarray, state: Sequence) -> tuple[tuple[np.ndarray, ...], tuple]:
        """TensorFlow's ``cell(inputs, state)``: the outputs and the new state, as tuples.

        ``state`` has one entry per recurrent dimension: ``(c, h)`` for an
        LSTM, ``h`` for a BasicRNN (the input dimension's is read, as in
        TensorFlow, but replaced by the projected input).  Arrays carry a
        leading batch axis or none.
        """
        c = self.config
        if len(state) != len(c.recurrent_dims):
            raise GradproofInputError(
                f"state has {len(state)} entries, expected one per recurrent dimension "
                f"{c.recurrent_dims}"
            )
        incoming = {}
        for i, entry in zip(c.recurrent_dims, state, strict=True):
            parts = tuple(entry) if c.lstm else (entry,)
            for base, value in zip(("m", "h") if c.lstm else ("h",), parts, strict=True):
                incoming[(base, str(i))] = np.asarray(value, dtype=float)
        cg = compile_grid(self.grid, c.num_units)
        depth = cg.bottom(self.weights, inputs) if self.grid.depth else []
        time = [incoming[ref] for ref in self.grid.time_vectors]
        new_time, new_depth, _ = cg.block(time, depth, cg.block_params(self.weights, 0), False)
        refs = self.grid.time_vectors + self.grid.depth_vectors
        new = dict(zip(refs, new_time + new_depth, strict=True))
        output = tuple(new[("h", str(i))] for i in c.output_dims)
        states = tuple(
            (new[("m", str(i))], new[("h", str(i))]) if c.lstm else new[("h", str(i))]
            for i in c.recurrent_dims
        )
        return output, states


def _gate_rows(kernel: np.ndarray, bias: np.ndarray, forget_bias: float):
    """TensorFlow's columns ``i, j, f, o`` as gradproof's rows ``i, f, g, o``; ``b_f`` + bias."""
    i, j, f, o = np.split(kernel.T, 4)
    bi, bj, bf, bo = np.split(bias, 4)
    return np.concatenate([i, f, j, o]), np.concatenate([bi, bf + forget_bias, bj, bo])


def from_tensorflow(config: GridRNNConfig, variables: Mapping[str, np.ndarray]) -> TensorFlowGrid:
    """The gradproof grid of a GridRNNCell with the given variables (keys: module docstring).

    Examples
    --------
    >>> from numeric.gridlstm.tensorflow_cells import gridrnn_config
    >>> config = gridrnn_config("Grid1BasicRNNCell", 2)
    >>> tf = from_tensorflow(config, {"project_m_0": np.eye(2), "kernel_0": np.eye(2),
    ...                               "bias_0": np.zeros(2)})
    >>> output, state = tf.call(np.array([1.0, 0.0]), (np.zeros(2),))
    >>> np.round(output[0], 4)
    array([0.7616, 0.    ])
    """
    c = config
    first = c.input_dims[0] if c.input_dims else None
    k = 0
    if first is not None:
        if f"project_m_{first}" not in variables:
            raise GradproofInputError(
                f"no variable 'project_m_{first}'; expected shape (input size, {c.num_units})"
            )
        k = np.shape(variables[f"project_m_{first}"])[0]
    expected = tensorflow_variable_shapes(c, k)
    optional = {f"project_c_{first}"} if first is not None and c.lstm else set()
    arrays = {}
    for key, shape in expected.items():
        if key not in variables:
            raise GradproofInputError(f"no variable {key!r}; expected shape {shape}")
        arrays[key] = real_array(variables[key], f"variable {key!r}")
        if arrays[key].shape != shape:
            raise GradproofInputError(
                f"variable {key!r} has shape {arrays[key].shape}, expected {shape}"
            )
    extra = sorted(set(variables) - set(expected) - optional)
    if extra:
        raise GradproofInputError(
            f"unexpected variable {extra[0]!r}; expected {', '.join(expected)}"
        )
    grid = _grid(c)
    out = {}
    if first is not None:
        out["input_projection"] = arrays[f"project_m_{first}"].T
        if f"project_c_{first}" in expected:
            out["memory_projection"] = arrays[f"project_c_{first}"].T
    for i in range(c.num_dims):
        suffix = "" if c.tied else f"_{i}"
        name = grid.array_name(str(i))
        if i not in c.recurrent_dims:
            out[f"weight_{name}"] = arrays[f"weights{suffix}"].T
            out[f"bias_{name}"] = arrays[f"biases{suffix}"]
        elif c.lstm:
            rows = _gate_rows(arrays[f"kernel{suffix}"], arrays[f"bias{suffix}"], c.forget_bias)
            out[f"weight_{name}"], out[f"bias_{name}"] = rows
            if c.use_peepholes:
                diag = [arrays[f"w_{gate}_diag{suffix}"] for gate in "ifo"]
                out[f"peephole_{name}"] = np.concatenate(diag)
        else:
            out[f"weight_{name}"] = arrays[f"kernel{suffix}"].T
            out[f"bias_{name}"] = arrays[f"bias{suffix}"]
    return TensorFlowGrid(c, grid, GridWeights(c.num_units, k, 1, True, out))
