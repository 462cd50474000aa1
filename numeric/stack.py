"""A stacked recurrent network as one step model: PyTorch's multi-layer RNN, LSTM and GRU.

With ``L`` layers, layer ``l`` reads at time ``t`` the *new* hidden vector of
the layer below, ``x^{(l)}_t = h^{(l-1)}_t`` (layer 0 reads ``x_t``), as
``torch.nn.RNN``, ``LSTM`` and ``GRU`` with ``num_layers = L`` do (dropout,
which acts only in training, is left out).  The state carried along time is
``s_t = [s^{(0)}_t; ...; s^{(L-1)}_t]``, bottom first, each layer's full
state (``[h; c]`` for the LSTM), so :func:`numeric.flow.gradient_flow`
measures ``ds_T/ds_{T-k}`` over the whole stack.

Step Jacobian.  With ``A^{(l)}_t = ds^{(l)}_t/ds^{(l)}_{t-1}`` (the layer's
own step Jacobian) and ``B^{(l)}_t = ds^{(l)}_t/dx^{(l)}_t`` (its input
Jacobian), the chain rule through the same time step gives, bottom up::

    ds^{(l)}_t/ds_{t-1} = B^{(l)}_t dh^{(l-1)}_t/ds_{t-1} + [0 ... A^{(l)}_t ... 0],

so ``ds_t/ds_{t-1}`` is block lower triangular, its diagonal blocks the
layers' own step Jacobians.  The gradient over depth is in
:mod:`numeric.stack_depth`.

Bounds.  A cell's step bound ``||A^{(l)}_t||_2 <= B_l`` speaks of the
diagonal blocks only; :func:`layer_lyapunov_exponents` gives each layer's
exponents of its own ``A^{(l)}_1, A^{(l)}_2, ...`` along the stack's run,
for which ``lambda_1 <= ln B_l`` holds at every horizon
(:func:`numeric.lyapunov.check_lyapunov_bound`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from symbolic.jacobians import derivative
from symbolic.registry import family

from .compile import CompiledCell, compile_cell
from .errors import GradproofInputError
from .lyapunov import ForwardQR, default_chunk, forward_states
from .matrix_code import lambdify_matrix
from .weights import cell_sizes, torch_weights

__all__ = [
    "StackedCell",
    "layer_indices",
    "layer_lyapunov_exponents",
    "step_and_input_jacobian",
    "torch_stack",
]


@lru_cache(maxsize=64)
def _input_function(cc: CompiledCell):
    cell = cc.cell
    defs = cell.definitions
    blocks = [
        derivative(new, x, defs) for new in cell.new_state_symbols for x in cell.input_symbols
    ]
    return lambdify_matrix(
        [*cell.state_symbols, *cell.input_symbols, *cell.params],
        [*cell.new_state_symbols, *blocks],
        defs,
        sizes=cell.with_sizes(**dict(cc.sizes)),
    )


def _assemble(blocks, batch: tuple, rows: Sequence[int], cols: Sequence[int]) -> np.ndarray:
    """Blocks listed row by row as one ``(..., sum(rows), sum(cols))`` array."""
    r, c = np.cumsum([0, *rows]), np.cumsum([0, *cols])
    out = np.zeros(batch + (r[-1], c[-1]))
    for index, block in enumerate(blocks):
        i, j = divmod(index, len(cols))
        out[..., r[i] : r[i + 1], c[j] : c[j + 1]] = block
    return out


def step_and_input_jacobian(
    cc: CompiledCell, s: np.ndarray, x: np.ndarray, params: Mapping[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The new full state and its input Jacobian ``ds_t/dx_t`` at ``(s, x)``.

    Parameters
    ----------
    cc : CompiledCell
        A compiled cell with at least one input.
    s : ndarray, shape (..., N)
        Full previous state.
    x : ndarray, shape (..., input_size)
        Input, the cell's input vectors concatenated.
    params : mapping of str to ndarray
        The cell's parameters.

    Returns
    -------
    state : ndarray, shape (..., N)
    jacobian : ndarray, shape (..., N, input_size)
        Numerator layout, from the cell's equations by the same chain rule
        as the step Jacobian.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cc = compile_cell(elman_rnn("tanh"), n=2, m=1)
    >>> params = {"W": np.eye(2), "U": np.array([[2.0], [3.0]]), "b": np.zeros(2)}
    >>> state, B = step_and_input_jacobian(cc, np.zeros(2), np.zeros(1), params)
    >>> state, B
    (array([0., 0.]), array([[2.],
           [3.]]))
    """
    s, x = np.asarray(s, dtype=float), np.asarray(x, dtype=float)
    if not cc.input_sizes or x.shape[-1:] != (cc.input_size,):
        raise ValueError(f"x has shape {x.shape}, expected (..., {cc.input_size}) with inputs")
    states = np.split(s, np.cumsum(cc.state_sizes)[:-1], axis=-1)
    inputs = np.split(x, np.cumsum(cc.input_sizes)[:-1], axis=-1)
    out = _input_function(cc)(*states, *inputs, *(params[name] for name in cc.param_names))
    k = len(cc.state_sizes)
    batch = np.broadcast_shapes(s.shape[:-1], x.shape[:-1])
    state = np.concatenate([np.broadcast_to(v, batch + v.shape[-1:]) for v in out[:k]], axis=-1)
    return state, _assemble(out[k:], batch, cc.state_sizes, cc.input_sizes)


@dataclass(frozen=True, eq=False)
class StackedCell:
    """``L`` compiled cells stacked, with their parameters: a step model along time.

    ``step`` and ``jacobian`` take the stacked state ``(..., N)`` and the
    bottom input ``(..., input_size)``; their ``params`` argument is ignored
    (each layer's parameters are held here), so the engine runs it as
    ``gradient_flow(stack, {}, inputs)``.  A layer's hidden vector is its
    first state vector (``h``).

    Attributes
    ----------
    layers : tuple of CompiledCell
        Bottom first.
    params : tuple of mapping
        Each layer's parameters by symbolic name.
    """

    layers: tuple[CompiledCell, ...]
    params: tuple[Mapping[str, np.ndarray], ...]

    def __post_init__(self) -> None:
        if not self.layers or len(self.layers) != len(self.params):
            raise GradproofInputError("a stack needs one parameter set for each of >= 1 layers")
        for j in range(1, len(self.layers)):
            below, reads = self.hidden_sizes[j - 1], self.layers[j].input_size
            if reads != below:
                raise GradproofInputError(
                    f"layer {j} reads {reads} inputs but layer {j - 1} has a hidden vector of "
                    f"size {below}; a bidirectional or projected (proj_size) module is not a "
                    "plain stack: measure one --layer at a time"
                )

    @property
    def depth(self) -> int:
        """Number of layers ``L``."""
        return len(self.layers)

    @cached_property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Size of each layer's hidden vector, bottom first."""
        return tuple(cc.state_sizes[0] for cc in self.layers)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """Where each layer's state starts in the stacked state, and ``N`` last."""
        return tuple(int(v) for v in np.cumsum([0, *(cc.state_size for cc in self.layers)]))

    @property
    def state_size(self) -> int:
        """Size ``N`` of the stacked state."""
        return self.offsets[-1]

    @property
    def input_size(self) -> int:
        """Size of the bottom input ``x_t``."""
        return self.layers[0].input_size

    def layer_state(self, j: int) -> slice:
        """Layer ``j``'s full state within the stacked state."""
        return slice(self.offsets[j], self.offsets[j + 1])

    def layer_hidden(self, j: int) -> slice:
        """Layer ``j``'s hidden vector within the stacked state."""
        return slice(self.offsets[j], self.offsets[j] + self.hidden_sizes[j])

    def step(self, s: np.ndarray, x: np.ndarray, params: object = None) -> np.ndarray:
        """The stacked state at ``t`` from the stacked state ``s`` at ``t-1`` and input ``x``."""
        s = np.asarray(s, dtype=float)
        new = []
        for j, (cc, p) in enumerate(zip(self.layers, self.params, strict=True)):
            new.append(cc.step(s[..., self.layer_state(j)], x, p))
            x = new[-1][..., : self.hidden_sizes[j]]
        return np.concatenate(new, axis=-1)

    def layer_jacobians(
        self, s: np.ndarray, x: np.ndarray
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Each layer's new state, own step Jacobian ``A^{(l)}`` and input Jacobian ``B^{(l)}``.

        Batched like :meth:`step`; lists bottom first.
        """
        s = np.asarray(s, dtype=float)
        states, own, through_input = [], [], []
        for j, (cc, p) in enumerate(zip(self.layers, self.params, strict=True)):
            s_j = s[..., self.layer_state(j)]
            state, B = step_and_input_jacobian(cc, s_j, x, p)
            states.append(state)
            own.append(cc.jacobian(s_j, x, p))
            through_input.append(B)
            x = state[..., : self.hidden_sizes[j]]
        return states, own, through_input

    def jacobian(self, s: np.ndarray, x: np.ndarray, params: object = None) -> np.ndarray:
        """``ds_t/ds_{t-1}`` over the stacked state, ``(..., N, N)``, numerator layout."""
        _, own, through_input = self.layer_jacobians(s, x)
        batch = own[0].shape[:-2]
        J = np.zeros(batch + (self.state_size, self.state_size))
        for j in range(self.depth):
            rows, start = self.layer_state(j), self.offsets[j]
            if j:
                # Through the input: the new hidden vector of the layer below.
                below = J[..., self.layer_hidden(j - 1), :start]
                J[..., rows, :start] = through_input[j] @ below
            J[..., rows, rows] = own[j]
        return J


def layer_indices(state: Mapping[str, np.ndarray]) -> list[int | None]:
    """The layers of a module's ``state_dict``: ``[0, ..., L-1]``, or ``[None]`` for unsuffixed names.

    Examples
    --------
    >>> layer_indices({"weight_hh_l1": 0, "weight_hh_l0": 0, "bias_hh_l0": 0})
    [0, 1]
    >>> layer_indices({"weight_hh": 0})
    [None]
    >>> layer_indices({"weight_hh_l1": 0})
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: the weights have layers 1 but not 0; export the module's full state_dict
    """
    found = sorted(
        int(m.group(1)) for key in state if (m := re.fullmatch(r"weight_hh_l(\d+)", key))
    )
    if not found:
        return [None]
    if found != list(range(len(found))):
        missing = sorted(set(range(max(found) + 1)) - set(found))
        raise GradproofInputError(
            f"the weights have layers {', '.join(map(str, found))} but not "
            f"{', '.join(map(str, missing))}; export the module's full state_dict"
        )
    return list(found)


def torch_stack(
    state: Mapping[str, np.ndarray], family_name: str, **options: str | None
) -> StackedCell:
    """The stacked network of a multi-layer PyTorch module's ``state_dict``.

    Parameters
    ----------
    state : mapping of str to ndarray
        The module's names (``weight_ih_l0``, ``weight_hh_l0``, ...,
        ``weight_hh_l{L-1}``), without a module prefix; unsuffixed names
        make a one-layer stack.  ``_reverse`` keys are not read.
    family_name : str
        ``"rnn"``, ``"lstm"`` or ``"gru"`` (a family with a PyTorch layout).
    **options
        The family's options (``activation="relu"`` for ``nn.RNN(...,
        nonlinearity="relu")``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> state = {"weight_ih_l0": rng.standard_normal((6, 3)), "weight_hh_l0": np.eye(6, 2),
    ...          "weight_ih_l1": np.eye(6, 2), "weight_hh_l1": np.eye(6, 2)}
    >>> stack = torch_stack(state, "gru")
    >>> stack.depth, stack.state_size, stack.input_size
    (2, 4, 3)
    """
    try:
        cell = family(family_name).cell(**options)
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None
    layers, params = [], []
    for j in layer_indices(state):
        tw = torch_weights(state, family_name, layer=j, cell=cell)
        layers.append(compile_cell(cell, **cell_sizes(cell, tw.params)))
        params.append(tw.params)
    return StackedCell(tuple(layers), tuple(params))


def layer_lyapunov_exponents(
    stack: StackedCell,
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    count: int | None = None,
    chunk: int | None = None,
) -> list[np.ndarray]:
    """Each layer's Lyapunov exponents of its own step Jacobians ``A^{(l)}_t`` along the run.

    The QR method (:class:`numeric.lyapunov.ForwardQR`) on the diagonal
    blocks of the stacked step Jacobians, every layer in one forward pass,
    bottom first; ``count`` exponents per layer (at most the layer's state
    size; all by default).

    Examples
    --------
    Two tanh layers at the origin with ``weight_hh`` ``0.9 I`` and ``0.5 I``:

    >>> state = {"weight_ih_l0": np.eye(2), "weight_hh_l0": 0.9 * np.eye(2),
    ...          "weight_ih_l1": np.eye(2), "weight_hh_l1": 0.5 * np.eye(2)}
    >>> stack = torch_stack(state, "rnn")
    >>> [e.round(6) for e in layer_lyapunov_exponents(stack, np.zeros((10, 2)))]
    [array([-0.105361, -0.105361]), array([-0.693147, -0.693147])]
    """
    chunk = chunk or default_chunk(stack.state_size)
    qrs = [
        ForwardQR(cc.state_size, None if count is None else min(count, cc.state_size))
        for cc in stack.layers
    ]
    for states, xs in forward_states(stack, {}, inputs, s0, chunk=chunk):
        with np.errstate(over="ignore", invalid="ignore"):
            _, own, _ = stack.layer_jacobians(states, xs)
        for qr, A in zip(qrs, own, strict=True):
            qr.push(A)
        del own
    return [qr.exponents() for qr in qrs]
