"""PyTorch's own cells, run on a ``state_dict``, for parity with the compiled cells.

The compiled cells (:mod:`numeric.compile`) read their parameters through
:func:`numeric.weights.torch_weights`; the functions here run the matching
``torch.nn`` cell on the *same* ``state_dict`` in float64 and return NumPy
arrays over the full state (``[h; c]`` for the LSTM), so a test can compare
the two: forward states, and the step Jacobian against
``torch.autograd.functional.jacobian``.

PyTorch is imported lazily and is never required by the rest of gradproof.
Only the PyTorch forms have a counterpart: the Elman RNN with tanh or relu
(``nn.RNNCell``), ``lstm("pytorch")`` (``nn.LSTMCell``) and
``gru("pytorch")`` (``nn.GRUCell``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np

from symbolic.cells import Cell
from symbolic.registry import family

__all__ = ["torch_cell", "torch_jacobian", "torch_step"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "PyTorch parity needs torch (pip install torch); gradproof itself does not"
        ) from exc
    return torch


def _module_class(cell: Cell) -> tuple[str, dict[str, str]]:
    """Name of the ``torch.nn`` cell implementing ``cell``, and its keyword arguments.

    The cell's family declares it (:class:`symbolic.registry.TorchLayout`):
    the options that rebuild ``cell`` decide the module.
    """
    try:
        fam = family(cell.name)
    except ValueError:  # not a registered family: no PyTorch module declared
        fam = None
    layout = None if fam is None else fam.layout
    if layout is not None and layout.module is not None:
        for choice in itertools.product(*fam.options.values()):
            options = dict(zip(fam.options, choice, strict=True))
            if fam.build(**options) == cell:
                module = layout.module(**options)
                if module is not None:
                    return module
    raise ValueError(
        f"PyTorch has no cell for {cell.title!r}; parity exists for elman_rnn('tanh' or 'relu'), "
        "lstm('pytorch') and gru('pytorch')"
    )


def torch_cell(cell: Cell, state_dict: Mapping[str, Any]) -> Any:
    """The ``torch.nn`` cell for ``cell``, in float64, loaded with ``state_dict``.

    Parameters
    ----------
    cell : Cell
        A PyTorch-form cell (see the module docstring).
    state_dict : mapping of str to array or tensor
        Single-cell PyTorch names (``weight_ih``, ``weight_hh``, and
        optionally ``bias_ih``, ``bias_hh``).

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> state = {"weight_ih": np.ones((8, 3)), "weight_hh": np.eye(8, 2)}
    >>> from symbolic.lstm import lstm
    >>> type(torch_cell(lstm(), state)).__name__
    'LSTMCell'
    """
    torch = _torch()
    name, kwargs = _module_class(cell)
    tensors = {k: torch.as_tensor(np.asarray(v, dtype=np.float64)) for k, v in state_dict.items()}
    rows, hidden = tensors["weight_hh"].shape
    bias = "bias_ih" in tensors
    module = getattr(torch.nn, name)(
        tensors["weight_ih"].shape[1], hidden, bias=bias, dtype=torch.float64, **kwargs
    )
    module.load_state_dict(tensors)
    return module


def _full_state_map(cell: Cell, module: Any, x: Any) -> Any:
    """``s -> s'`` over the full state, for one unbatched state vector."""
    torch = _torch()
    if cell.name != "lstm":
        return lambda s: module(x, s)
    hidden = module.hidden_size

    def step(s):
        h, c = module(x, (s[:hidden], s[hidden:]))
        return torch.cat([h, c])

    return step


def _batched(cell, state_dict, s, x, evaluate) -> np.ndarray:
    torch = _torch()
    module = torch_cell(cell, state_dict)
    s, x = np.asarray(s, dtype=np.float64), np.asarray(x, dtype=np.float64)
    batch = np.broadcast_shapes(s.shape[:-1], x.shape[:-1])
    # Copies: torch refuses to wrap the read-only views broadcast_to returns.
    s = np.broadcast_to(s, batch + s.shape[-1:]).reshape(-1, s.shape[-1]).copy()
    x = np.broadcast_to(x, batch + x.shape[-1:]).reshape(-1, x.shape[-1]).copy()
    outs = []
    with torch.no_grad() if evaluate == "step" else torch.enable_grad():
        for si, xi in zip(s, x, strict=True):
            f = _full_state_map(cell, module, torch.as_tensor(xi))
            si = torch.as_tensor(si)
            out = f(si) if evaluate == "step" else torch.autograd.functional.jacobian(f, si)
            outs.append(out.detach().numpy())
    return np.stack(outs).reshape(batch + outs[0].shape)


def torch_step(
    cell: Cell, state_dict: Mapping[str, Any], s: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The new full state computed by PyTorch's cell, float64.

    Parameters
    ----------
    cell : Cell
        A PyTorch-form cell.
    state_dict : mapping
        The cell's PyTorch weights (see :func:`torch_cell`).
    s : ndarray, shape ``(..., N)``
        Full previous state (``[h; c]`` for the LSTM).
    x : ndarray, shape ``(..., m)``
        Input.

    Returns
    -------
    ndarray, shape ``(..., N)``

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> state = {"weight_ih": np.ones((2, 1)), "weight_hh": np.eye(2)}
    >>> from symbolic.rnn import elman_rnn
    >>> torch_step(elman_rnn("tanh"), state, np.zeros(2), np.array([0.5])).round(4)
    array([0.4621, 0.4621])
    """
    return _batched(cell, state_dict, s, x, "step")


def torch_jacobian(
    cell: Cell, state_dict: Mapping[str, Any], s: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """``ds_t/ds_{t-1}`` by ``torch.autograd.functional.jacobian``, shape ``(..., N, N)``.

    Numerator layout, over the full state, one autograd call per batch entry.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> state = {"weight_ih": np.ones((2, 1)), "weight_hh": np.eye(2)}
    >>> from symbolic.rnn import elman_rnn
    >>> torch_jacobian(elman_rnn("tanh"), state, np.zeros(2), np.array([0.0]))
    array([[1., 0.],
           [0., 1.]])
    """
    return _batched(cell, state_dict, s, x, "jacobian")
