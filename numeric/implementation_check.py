"""Is a hand-written recurrent step the function a cell's equations describe?

:func:`assert_matches_cell` (public through :mod:`numeric.testing`) compares a
user's step, and optionally their hand-written Jacobian, with gradproof's
compiled cell and derived step Jacobian at seeded random points, and names
the state or block where they differ.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from symbolic.cells import Cell

from .compile import CompiledCell, compile_cell
from .weights import cell_sizes, named_params

__all__ = ["assert_matches_cell"]

#: Relative tolerance of a value or an exact Jacobian (yours by autograd or by hand).
RTOL = 1e-9
#: Relative tolerance of a Jacobian by central differences (truncation and rounding ~1e-10).
FD_RTOL = 1e-6
#: Step of the central differences used when ``step`` is a NumPy function.
FD_EPS = 1e-6


def _reference(cell: Cell | str) -> Cell:
    if isinstance(cell, Cell):
        return cell
    from symbolic.registry import family

    return family(cell).cell()


def _params_of(cell: Cell, params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``params`` keyed by the cell's parameter names, or in PyTorch's layout, as arrays."""
    arrays = {k: np.asarray(_numpy(v), dtype=float) for k, v in params.items()}
    names = {p.name for p in cell.params}
    if "weight_hh" in arrays and not names & set(arrays):
        from .weights import torch_weights

        return torch_weights(arrays, cell.name).params
    return named_params(arrays, cell)


def _numpy(value: Any) -> Any:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def _plain(symbol: Any) -> str:
    """``c_{t}`` as ``c_t``: a subscript of one character needs no braces."""
    return re.sub(r"_\{(\w)\}", r"_\1", str(symbol))


def _is_torch(step: Callable) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(step, torch.nn.Module)


class _User:
    """The user's step as a NumPy function of ``(s, x)``, with its Jacobian in ``s``."""

    def __init__(self, step: Callable, params: Mapping[str, Any], compiled: CompiledCell):
        # A NumPy step gets arrays, a PyTorch one float64 tensors, however params came.
        self.step = step
        self.params = {k: np.asarray(_numpy(v), dtype=float) for k, v in params.items()}
        self.torch = _is_torch(step) or _returns_tensors(step, self.params, compiled)
        if self.torch:
            import torch

            self.tensor = lambda v: torch.as_tensor(np.asarray(_numpy(v), dtype=float))
            self.params = {k: self.tensor(v) for k, v in self.params.items()}

    def _full(self, out: Any) -> Any:
        if not isinstance(out, (tuple, list)):
            return out
        if self.torch:
            import torch

            return torch.cat(list(out), dim=-1)
        return np.concatenate([np.asarray(o, dtype=float) for o in out], axis=-1)

    def __call__(self, s: np.ndarray, x: np.ndarray) -> np.ndarray:
        if not self.torch:
            return np.asarray(self._full(self.step(s, x, self.params)), dtype=float)
        import torch

        with torch.no_grad():
            return self._full(self.step(self.tensor(s), self.tensor(x), self.params)).numpy()

    def hand_jacobian(self, jacobian: Callable, s: np.ndarray, x: np.ndarray) -> np.ndarray:
        """The user's Jacobian, called with what their step takes: arrays, or tensors."""
        if self.torch:
            s, x = self.tensor(s), self.tensor(x)
        return np.asarray(_numpy(jacobian(s, x, self.params)), dtype=float)

    def jacobian(self, s: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, str]:
        if self.torch:
            from torch.autograd.functional import jacobian

            xt = self.tensor(x)
            J = jacobian(lambda v: self._full(self.step(v, xt, self.params)), self.tensor(s))
            return J.detach().numpy(), "yours by torch.autograd"
        N = s.shape[-1]
        J = np.empty((N, N))
        for j in range(N):
            e = np.zeros(N)
            e[j] = FD_EPS
            J[:, j] = (self(s + e, x) - self(s - e, x)) / (2 * FD_EPS)
        return J, "yours by central differences"


def _returns_tensors(step: Callable, params: Mapping[str, Any], compiled: CompiledCell) -> bool:
    """Whether ``step`` is a function of tensors: it fails on arrays, or returns tensors."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    try:
        out = step(np.zeros(compiled.state_size), np.zeros(compiled.input_size), params)
    except Exception:  # a function of tensors given arrays
        return True
    parts = out if isinstance(out, (tuple, list)) else (out,)
    return any(isinstance(o, torch.Tensor) for o in parts)


def _worst(
    mine: np.ndarray, ref: np.ndarray, rtol: float, where: list[tuple[str, slice, slice | None]]
) -> str | None:
    """A message for the worst entry outside ``rtol * max(1, max |ref|)``, or ``None``."""
    tol = rtol * max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    err = np.abs(mine - ref)
    err[~np.isfinite(mine)] = np.inf
    if np.all(err <= tol):
        return None
    idx = np.unravel_index(int(np.argmax(err)), err.shape)
    name, rows, cols = next(
        (n, r, c)
        for n, r, c in where
        if r.start <= idx[0] < r.stop and (c is None or c.start <= idx[1] < c.stop)
    )
    local = (idx[0] - rows.start,) + (() if cols is None else (idx[1] - cols.start,))
    entry = ", ".join(map(str, local))
    return (
        f"{name}[{entry}] is {float(mine[idx])!r}, the cell gives {float(ref[idx])!r} "
        f"(difference {err[idx]:.3g} > tolerance {tol:.3g})"
    )


def _blocks(compiled: CompiledCell) -> tuple[list, list]:
    cell = compiled.cell
    edges = np.concatenate([[0], np.cumsum(compiled.state_sizes)])
    spans = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]
    states = [
        (_plain(new), span, None) for new, span in zip(cell.new_state_symbols, spans, strict=True)
    ]
    blocks = [
        (f"d{_plain(new)}/d{_plain(old)}", rows, cols)
        for new, rows in zip(cell.new_state_symbols, spans, strict=True)
        for old, cols in zip(cell.state_symbols, spans, strict=True)
    ]
    return states, blocks


def assert_matches_cell(
    step: Callable,
    cell: Cell | str,
    params: Mapping[str, Any],
    *,
    jacobian: Callable | None = None,
    samples: int = 3,
    seed: int = 0,
    rtol: float = RTOL,
) -> None:
    """Assert that ``step`` is one step of ``cell``, and ``jacobian`` its step Jacobian.

    Parameters
    ----------
    step : callable
        ``step(s, x, params)``: your implementation of one recurrent step,
        the full state ``s`` (the cell's states concatenated, e.g. ``[h; c]``)
        and the input ``x`` in, the new full state out (or the new states as a
        tuple).  A PyTorch callable (a ``torch.nn.Module``, or a function that
        fails on or returns tensors) gets float64 tensors, and its Jacobian
        comes from ``torch.autograd``; a NumPy one is differentiated by central
        differences.
    cell : Cell or str
        The reference: a built-in name (``"rnn"``, ``"lstm"``, ``"gru"``, with
        their default options), a user's ``"file.py:function"``, or a
        :class:`~symbolic.cells.Cell` (e.g. ``gru("textbook")``).
    params : mapping
        Arrays (or tensors) keyed by the cell's parameter names, or, for the
        built-in cells, by PyTorch's ``state_dict`` names (``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``).  ``step`` receives them under
        the same names, as float64 arrays (a NumPy step) or tensors (a PyTorch one).
    jacobian : callable, optional
        ``jacobian(s, x, params)``: your hand-written ``ds_t/ds_{t-1}``,
        ``(N, N)`` in numerator layout, checked against the derived one; it
        gets what ``step`` gets (arrays, or tensors for a PyTorch step).
    samples : int
        How many random points ``(s, x)`` to compare at.
    seed : int
        Seed of the points.
    rtol : float
        Relative tolerance of values and exact Jacobians, against
        ``max(1, max |reference|)``; central differences get ``FD_RTOL``.

    Raises
    ------
    AssertionError
        Naming the state or block, the worst entry, both values and the tolerance.
    ValueError
        An unknown or missing parameter, or a parameter of the wrong shape.

    Examples
    --------
    >>> W, U, b = np.array([[0.5, -0.2], [0.1, 0.3]]), np.ones((2, 1)), np.zeros(2)
    >>> params = {"W": W, "U": U, "b": b}
    >>> tanh_rnn = lambda s, x, p: np.tanh(p["W"] @ s + p["U"] @ x + p["b"])
    >>> assert_matches_cell(tanh_rnn, "rnn", params)
    >>> forgot_tanh = lambda s, x, p: p["W"] @ s + p["U"] @ x + p["b"]
    >>> assert_matches_cell(forgot_tanh, "rnn", params)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: at sample 0: new state h_t[...] is ..., the cell gives ... (difference ... > tolerance ...)
    """
    reference = _reference(cell)
    arrays = _params_of(reference, params)
    compiled = compile_cell(reference, **cell_sizes(reference, arrays))
    user = _User(step, params, compiled)
    states, blocks = _blocks(compiled)
    rng = np.random.default_rng(seed)
    for k in range(samples):
        s = 0.5 * rng.standard_normal(compiled.state_size)
        x = rng.standard_normal(compiled.input_size)
        names = ", ".join(name for name, _, _ in states)
        _compare(
            f"at sample {k}: new state ",
            user(s, x),
            compiled.step(s, x, arrays),
            rtol,
            states,
            names,
        )
        J_ref = compiled.jacobian(s, x, arrays)
        J_user, how = user.jacobian(s, x)
        tol = rtol if user.torch else FD_RTOL
        _compare(f"at sample {k}: {how}: ", J_user, J_ref, tol, blocks, names)
        if jacobian is not None:
            J_hand = user.hand_jacobian(jacobian, s, x)
            _compare(f"at sample {k}: your jacobian: ", J_hand, J_ref, rtol, blocks, names)


def _compare(what: str, mine: np.ndarray, ref: np.ndarray, rtol: float, where: list, names: str):
    if np.shape(mine) != ref.shape:
        raise AssertionError(
            f"{what}has shape {np.shape(mine)}, expected {ref.shape} (the cell's state {names})"
        )
    if (msg := _worst(mine, ref, rtol, where)) is not None:
        raise AssertionError(what + msg)
