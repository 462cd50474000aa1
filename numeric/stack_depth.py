"""The gradient of a stacked network's top output over depth and time.

For a :class:`numeric.stack.StackedCell` with layers' own step Jacobians
``A^{(l)}_t`` and input Jacobians ``B^{(l)}_t``, the derivative of the top
output at the last step with respect to layer ``l``'s state at ``t``,
through every path after it, ``G^{(l)}_t = dh^{(L-1)}_T/ds^{(l)}_t``, obeys
the adjoint recursion::

    G^{(l)}_t = G^{(l)}_{t+1} A^{(l)}_{t+1} + G^{(l+1)}_t B^{(l+1)}_t P_h,

``P_h`` picking the hidden vector out of the state; at ``t = T`` only the
second term is left, so ``dh^{(L-1)}_T/dh^{(l)}_T`` is the product of the
input Jacobians of the layers above ``l`` (:func:`log10_norm_depth`), and
:func:`time_depth_map` gives ``log10 ||dh^{(L-1)}_T/dh^{(l)}_t||_2`` over
the whole (t, l) grid, the stacked network's counterpart of the Grid LSTM's
map (:mod:`numeric.gridlstm.flows`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import GradproofInputError
from .flow import _forward_step, _validated
from .lyapunov import default_chunk
from .stack import StackedCell

__all__ = ["StackDepth", "depth_slope", "log10_norm_depth", "time_depth_map"]


def _checked(
    stack: StackedCell, inputs: np.ndarray, s0: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    inputs, s0 = _validated(stack, inputs, s0)
    if inputs.shape[1] != stack.input_size:
        raise GradproofInputError(
            f"inputs have shape {inputs.shape}, expected (T, {stack.input_size}) with T >= 1"
        )
    return inputs, s0


def _states(stack: StackedCell, inputs: np.ndarray, s0: np.ndarray | None) -> np.ndarray:
    """``s_0, s_1, ..., s_T`` as a ``(T + 1, N)`` array, inputs and states checked."""
    inputs, s0 = _checked(stack, inputs, s0)
    states = np.empty((len(inputs) + 1, stack.state_size))
    states[0] = s0
    for t, x in enumerate(inputs, start=1):
        states[t] = _forward_step(stack, states[t - 1], x, None, t)
    return states


def _log10_norms(blocks: np.ndarray) -> np.ndarray:
    """``log10 ||.||_2`` of a stack of matrices, ``-inf`` for a zero one."""
    sigma = np.linalg.svd(blocks, compute_uv=False)[..., 0]
    with np.errstate(divide="ignore"):
        return np.log10(sigma)


def log10_norm_depth(
    stack: StackedCell, inputs: np.ndarray, s0: np.ndarray | None = None
) -> np.ndarray:
    """``log10 ||dh^{(L-1)}_T/dh^{(l)}_T||_2`` for ``l = 0..L-1``, through the last step.

    The top output against each layer's hidden vector at the same step
    ``T``: the product of the input Jacobians of the layers above ``l``;
    entry ``L-1`` is 0 (the identity).

    Examples
    --------
    A 3-layer tanh stack at the origin: each layer above passes its input on
    through ``U = 0.5 I``, so entry ``l`` is ``(2 - l) log10 0.5``.

    >>> from numeric.stack import torch_stack
    >>> state = {f"{w}_l{l}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh")
    ...          for l in range(3)}
    >>> log10_norm_depth(torch_stack(state, "rnn"), np.zeros((4, 2))).round(6)
    array([-0.60206, -0.30103,  0.     ])
    """
    inputs, s = _checked(stack, inputs, s0)
    for t, x in enumerate(inputs[:-1], start=1):  # only s_{T-1} is kept: O(N) memory
        s = _forward_step(stack, s, x, None, t)
    _, _, through_input = stack.layer_jacobians(s, inputs[-1])
    L, top = stack.depth, stack.hidden_sizes[-1]
    logs = np.zeros(L)
    G = np.eye(top)  # dh^{(L-1)}_T / dh^{(l)}_T, going down
    for j in reversed(range(L - 1)):
        G = G @ through_input[j + 1][: stack.hidden_sizes[j + 1]]
        logs[j] = _log10_norms(G)
    return logs


def depth_slope(log10_norm_depth: np.ndarray) -> float:
    """Least-squares slope of ``log10_norm_depth`` against the layer ``l``, per layer.

    Positive when the gradient shrinks going down, away from the output
    (whose own entry is 0); ``-inf`` once it reaches exactly zero, 0 for
    one layer.

    Examples
    --------
    >>> depth_slope(np.array([-0.6, -0.3, 0.0])), depth_slope(np.array([-np.inf, 0.0]))
    (0.3, -inf)
    """
    logs = np.asarray(log10_norm_depth, dtype=float)
    if np.any(logs == -np.inf):
        return -math.inf
    levels = np.arange(len(logs), dtype=float)
    levels -= levels.mean()
    return float(levels @ (logs - logs.mean()) / (levels @ levels)) if len(logs) > 1 else 0.0


@dataclass(frozen=True)
class StackDepth:
    """Gradient of the top output over the (t, l) grid of a stacked network.

    Attributes
    ----------
    log10_norm : ndarray, shape (T, L)
        Entry ``[t-1, l]`` is ``log10 ||dh^{(L-1)}_T/dh^{(l)}_t||_2``: the
        top output at the last step against layer ``l``'s hidden vector at
        ``t``, through every path after it (``-inf`` once exactly zero).
    """

    log10_norm: np.ndarray

    @property
    def log10_norm_depth(self) -> np.ndarray:
        """Row ``t = T``: :func:`log10_norm_depth`."""
        return self.log10_norm[-1]

    @property
    def depth_slope(self) -> float:
        """:func:`depth_slope` of :attr:`log10_norm_depth`."""
        return depth_slope(self.log10_norm_depth)

    @property
    def depth_decay(self) -> str:
        """:attr:`depth_slope` in words, as for the Grid LSTM's map."""
        from .gridlstm.flows import depth_decay_phrase

        return depth_decay_phrase(self.depth_slope)


def time_depth_map(
    stack: StackedCell,
    inputs: np.ndarray,
    s0: np.ndarray | None = None,
    *,
    chunk: int | None = None,
) -> StackDepth:
    """``log10 ||dh^{(L-1)}_T/dh^{(l)}_t||_2`` for every step ``t`` and layer ``l``.

    Forward, the ``T + 1`` stacked states are kept (``O(T N)`` numbers);
    backward, the layers' Jacobians are rebuilt ``chunk`` steps at a time
    and the adjoints ``G^{(l)}_t`` swept down and to the left, rescaled
    every step so long horizons stay in float64.

    Examples
    --------
    Two tanh layers at the origin, every weight ``0.5 I``: each path from
    ``(t, l)`` to the top output moves right or up by one, at a factor 0.5,
    so entry ``[t-1, l]`` is ``log10`` of the number of paths times
    ``0.5^{steps}``; from ``(T-2, 0)`` three paths of three steps, 3/8.

    >>> from numeric.stack import torch_stack
    >>> state = {f"{w}_l{l}": 0.5 * np.eye(2) for w in ("weight_ih", "weight_hh")
    ...          for l in range(2)}
    >>> depth = time_depth_map(torch_stack(state, "rnn"), np.zeros((3, 2)))
    >>> 10 ** depth.log10_norm
    array([[0.375, 0.25 ],
           [0.5  , 0.5  ],
           [0.5  , 1.   ]])
    >>> round(depth.depth_slope, 6)
    0.30103
    """
    states = _states(stack, inputs, s0)
    inputs = np.asarray(inputs, dtype=float)
    T, L, N = len(inputs), stack.depth, stack.state_size
    chunk = chunk or default_chunk(N)
    top = stack.hidden_sizes[-1]
    local = [slice(0, h) for h in stack.hidden_sizes]
    # right[l] = G^{(l)}_{t+1} A^{(l)}_{t+1}, in units of 10**scale.
    right = [np.zeros((top, cc.state_size)) for cc in stack.layers]
    scale, vanished = 0.0, False
    logs = np.full((T, L), -math.inf)
    for first in reversed(range(0, T, chunk)):
        last = min(first + chunk, T)
        _, own, through_input = stack.layer_jacobians(states[first:last], inputs[first:last])
        blocks = np.zeros((last - first, L, top, max(stack.hidden_sizes)))
        for i in reversed(range(last - first)):
            logs[first + i] = scale
            above = np.eye(top) if first + i == T - 1 else np.zeros((top, top))
            for j in reversed(range(L)):
                # G^{(j)}_t: through layer j's next step, and through the layer above now.
                G = right[j]
                G[:, local[j]] += above
                blocks[i, j, :, local[j]] = G[:, local[j]]
                if j:
                    above = G @ through_input[j][i]
                right[j] = G @ own[j][i]
            peak = max(float(np.max(np.abs(G))) for G in right)
            if peak == 0.0:
                vanished = True
                break
            for G in right:
                G /= peak
            scale += math.log10(peak)
        logs[first:last] += _log10_norms(blocks)
        del own, through_input, blocks
        if vanished:
            break
    return StackDepth(logs)
