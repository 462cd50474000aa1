"""TensorFlow's GridRNNCell classes (TF 1.x ``tf.contrib.grid_rnn``) and their variables.

:func:`gridrnn_config` reads the configuration a ``GridRNNCell`` class or
its constructor builds, as TensorFlow does: dimension lists sorted, every
class but ``GridRNNCell`` with the input, the output and the priority in
dimension 0, made non-recurrent by a ``non_recurrent_fn``.  It refuses what
a Grid LSTM block cannot describe (GRU dimensions) and what gradproof's grids
do not take (several input dimensions).  :func:`tensorflow_variable_shapes`
lists the variables :func:`numeric.gridlstm.tensorflow_grid.from_tensorflow`
reads.

Variables, by key (TensorFlow's variable in brackets; ``i`` a dimension,
``k`` the input size):

* ``project_m_{i}``, ``project_c_{i}`` ``(k, units)`` [``project_m_{i}``,
  ``project_c_{i}``];
* recurrent dimension ``i``: ``kernel_{i}`` ``(N units, 4 units)`` (LSTM) or
  ``(N units, units)`` (BasicRNN), ``bias_{i}``, and with peepholes
  ``w_i_diag_{i}``, ``w_f_diag_{i}``, ``w_o_diag_{i}`` ``(units,)``
  [``recurrent/cell_{i}/<cell>/kernel``, ...];
* non-recurrent dimension ``i``: ``weights_{i}`` ``(N units, units)``,
  ``biases_{i}`` [``non_recurrent/cell_{i}/fully_connected/weights``, ...];
* ``tied``: the same keys without ``_{i}`` [``recurrent/<cell>/kernel``, ...].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from symbolic.activations import ACTIVATIONS

from ..errors import GradproofInputError

__all__ = [
    "GRIDRNN_CLASSES",
    "INNER_CELLS",
    "GridRNNConfig",
    "gridrnn_config",
    "tensorflow_variable_shapes",
]

#: Inner cells the mapping takes, and whether each has a memory.
INNER_CELLS = {"LSTMCell": True, "BasicLSTMCell": True, "BasicRNNCell": False}


@dataclass(frozen=True)
class GridRNNConfig:
    """The arguments of ``GridRNNCell``; ``cell`` names the inner cell ``cell_fn`` builds.

    ``non_recurrent_fn`` is an activation name (``"relu"``, TensorFlow's
    default, ``"tanh"``, ``"sigmoid"``, ``"identity"``).  Built by
    :func:`gridrnn_config`, which validates it.
    """

    num_units: int
    num_dims: int = 1
    input_dims: tuple[int, ...] = ()
    output_dims: tuple[int, ...] = ()
    priority_dims: tuple[int, ...] = ()
    non_recurrent_dims: tuple[int, ...] = ()
    tied: bool = False
    cell: str = "LSTMCell"
    non_recurrent_fn: str = "relu"
    use_peepholes: bool = False
    forget_bias: float = 1.0

    @property
    def recurrent_dims(self) -> tuple[int, ...]:
        """The dimensions in TensorFlow's state, in order."""
        return tuple(i for i in range(self.num_dims) if i not in self.non_recurrent_dims)

    @property
    def lstm(self) -> bool:
        """Whether the recurrent dimensions are LSTMs (carry a memory)."""
        return INNER_CELLS[self.cell]


_TAKES = ("tied", "non_recurrent_fn", "use_peepholes", "forget_bias")
#: TensorFlow's GridRNNCell classes: the arguments each fixes, and those it takes.
GRIDRNN_CLASSES: dict[str, tuple[dict, tuple[str, ...]]] = {
    "Grid1BasicRNNCell": ({"num_dims": 1, "cell": "BasicRNNCell"}, ()),
    "Grid2BasicRNNCell": ({"num_dims": 2, "cell": "BasicRNNCell"}, _TAKES[:2]),
    "Grid1BasicLSTMCell": ({"num_dims": 1, "cell": "BasicLSTMCell"}, _TAKES[3:]),
    "Grid2BasicLSTMCell": ({"num_dims": 2, "cell": "BasicLSTMCell"}, _TAKES[:2] + _TAKES[3:]),
    "Grid1LSTMCell": ({"num_dims": 1, "cell": "LSTMCell"}, _TAKES[2:]),
    "Grid2LSTMCell": ({"num_dims": 2, "cell": "LSTMCell"}, _TAKES),
    "Grid3LSTMCell": ({"num_dims": 3, "cell": "LSTMCell"}, _TAKES),
    "GridRNNCell": ({}, tuple(f.name for f in fields(GridRNNConfig))[1:]),
}


def _dims(value: int | Sequence[int] | None) -> tuple[int, ...]:
    """TensorFlow's reading of a dimension list: None, one index or several, sorted."""
    if value is None:
        return ()
    return tuple(sorted(set([value] if isinstance(value, int) else value)))


def gridrnn_config(cls: str = "GridRNNCell", num_units: int = 1, **arguments) -> GridRNNConfig:
    """The configuration the class ``cls`` builds with these constructor arguments.

    Every class but ``GridRNNCell`` puts the input and the output in
    dimension 0, makes it the priority dimension and, given a
    ``non_recurrent_fn``, non-recurrent.

    Examples
    --------
    >>> config = gridrnn_config("Grid2LSTMCell", 4, non_recurrent_fn="relu", tied=True)
    >>> config.input_dims, config.priority_dims, config.non_recurrent_dims, config.recurrent_dims
    ((0,), (0,), (0,), (1,))
    >>> gridrnn_config("Grid2GRUCell", 4)
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: Grid2GRUCell is not a Grid LSTM: a GRU dimension's gates act on the last dimension's hidden vector; choose one of Grid1BasicRNNCell, Grid2BasicRNNCell, Grid1BasicLSTMCell, Grid2BasicLSTMCell, Grid1LSTMCell, Grid2LSTMCell, Grid3LSTMCell, GridRNNCell
    """
    classes = ", ".join(GRIDRNN_CLASSES)
    if "GRU" in cls:
        raise GradproofInputError(
            f"{cls} is not a Grid LSTM: a GRU dimension's gates act on the last dimension's "
            f"hidden vector; choose one of {classes}"
        )
    if cls not in GRIDRNN_CLASSES:
        raise GradproofInputError(f"unknown GridRNNCell class {cls!r}; choose one of {classes}")
    fixed, accepted = GRIDRNN_CLASSES[cls]
    unknown = sorted(set(arguments) - set(accepted))
    if unknown:
        raise GradproofInputError(
            f"{cls} takes no argument {unknown[0]!r}; it takes {', '.join(accepted) or 'none'}"
        )
    args = dict(arguments)
    if args.get("non_recurrent_fn", "") is None:
        del args["non_recurrent_fn"]
    if cls != "GridRNNCell":
        # Input, output and priority in dimension 0, non-recurrent given a function.
        nonrecurrent = 0 if "non_recurrent_fn" in args else None
        args.update(fixed, input_dims=0, output_dims=0, priority_dims=0)
        args["non_recurrent_dims"] = nonrecurrent
    for name in ("input_dims", "output_dims", "priority_dims", "non_recurrent_dims"):
        args[name] = _dims(args.get(name))
    config = GridRNNConfig(num_units, **args)
    _validate(config)
    return config


def _validate(c: GridRNNConfig) -> None:
    if isinstance(c.num_units, bool) or not isinstance(c.num_units, int) or c.num_units < 1:
        raise GradproofInputError(f"num_units must be a positive integer, got {c.num_units!r}")
    if not isinstance(c.num_dims, int) or c.num_dims < 1:
        raise GradproofInputError(f"num_dims must be >= 1, got {c.num_dims!r}")
    for name in ("input_dims", "output_dims", "priority_dims", "non_recurrent_dims"):
        if any(not 0 <= i < c.num_dims for i in getattr(c, name)):
            raise GradproofInputError(
                f"{name} must lie in [0, {c.num_dims}), got {getattr(c, name)}"
            )
    if c.cell not in INNER_CELLS:
        raise GradproofInputError(
            f"inner cell {c.cell!r} is not a Grid LSTM transform; choose one of "
            f"{', '.join(INNER_CELLS)}"
        )
    if c.non_recurrent_fn not in ACTIVATIONS:
        raise GradproofInputError(
            f"non_recurrent_fn {c.non_recurrent_fn!r} is unknown; choose one of "
            f"{', '.join(ACTIVATIONS)}"
        )
    if c.use_peepholes and c.cell != "LSTMCell":
        raise GradproofInputError(f"{c.cell} has no peepholes; use LSTMCell")
    if len(c.input_dims) > 1:
        raise GradproofInputError(
            f"input_dims {c.input_dims}: gradproof's grids take the input in one dimension"
        )
    stranded = [i for i in c.non_recurrent_dims if i not in c.input_dims]
    if stranded:
        raise GradproofInputError(
            f"dimension {stranded[0]} is neither recurrent nor an input dimension, so "
            "TensorFlow has no incoming vector for it; make it an input dimension"
        )


def tensorflow_variable_shapes(config: GridRNNConfig, input_size: int) -> dict[str, tuple]:
    """The variables :func:`from_tensorflow` takes, by key (see the module docstring).

    Examples
    --------
    >>> tensorflow_variable_shapes(gridrnn_config("Grid2LSTMCell", 3, tied=True), 2)
    {'project_m_0': (2, 3), 'project_c_0': (2, 3), 'kernel': (6, 12), 'bias': (12,)}
    """
    c, n = config, config.num_units
    shapes: dict[str, tuple] = {}
    for i in c.input_dims:
        shapes[f"project_m_{i}"] = (input_size, n)
        if c.lstm and i in c.recurrent_dims:
            shapes[f"project_c_{i}"] = (input_size, n)
    gates = 4 if c.lstm else 1
    for i in range(c.num_dims):
        suffix = "" if c.tied else f"_{i}"
        if i in c.recurrent_dims:
            shapes[f"kernel{suffix}"] = (c.num_dims * n, gates * n)
            shapes[f"bias{suffix}"] = (gates * n,)
            if c.use_peepholes:
                for gate in "ifo":
                    shapes[f"w_{gate}_diag{suffix}"] = (n,)
        else:
            shapes[f"weights{suffix}"] = (c.num_dims * n, n)
            shapes[f"biases{suffix}"] = (n,)
    return shapes
