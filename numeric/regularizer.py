"""Pascanu's regulariser and gradient-norm clipping in PyTorch, from the derived Jacobian.

Needs the optional ``torch`` extra (``pip install "gradproof[torch]"``);
importing this module does not import PyTorch.

:func:`omega` evaluates Pascanu, Mikolov and Bengio's (2013) regulariser

    Omega = sum_t ( ||(dE/ds_t) J_t||_2 / ||dE/ds_t||_2 - 1 )^2

for any cell gradproof can compile.  The row ``(dE/ds_t) J_t`` is the
closed-form vector-Jacobian product of :mod:`symbolic.regularizer`, derived
from the cell's step Jacobian ``J_t = ds_t/ds_{t-1}`` and checked exactly
there; here it is compiled to PyTorch (:func:`torch_function`): the
single-assignment code :func:`numeric.matrix_code.lambdify_matrix` prints runs
unchanged with PyTorch in the place of NumPy, so autograd records every
operation and ``Omega`` can be added to a training loss.  PyTorch's own
``autograd.grad`` of ``s_t`` by ``s_{t-1}`` is the independent check, in
the tests.

:func:`clip_grad_norm` is their Algorithm 1 exactly.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from symbolic.cells import Cell
from symbolic.derivation import Outcome
from symbolic.registry import family
from symbolic.regularizer import VectorJacobianClaim, adjoints, vector_jacobian_product

from .check import check_jacobian
from .compile import CompiledCell, compile_cell
from .matrix_code import lambdify_matrix
from .weights import cell_sizes, random_params

__all__ = [
    "check_vector_jacobian",
    "clip_grad_norm",
    "norm_ratios",
    "omega",
    "symbolic_params",
    "torch_function",
]


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError('the regulariser needs PyTorch: pip install "gradproof[torch]"') from exc
    return torch


#: NumPy functions the printed code may call that PyTorch has under the same
#: name and meaning, and those it has under another name.
_SAME = ("tanh", "exp", "log", "log1p", "expm1", "sqrt", "abs", "sign", "sin", "cos", "tan")
_SAME += ("sinh", "cosh", "swapaxes", "logical_and", "logical_or", "logical_not")
_RENAMED = {
    "arctan": "atan",
    "arcsinh": "asinh",
    "arctanh": "atanh",
    "less": "lt",
    "greater": "gt",
    "less_equal": "le",
    "greater_equal": "ge",
    "equal": "eq",  # not torch.equal, which compares whole tensors
    "not_equal": "ne",
}


class _TorchAsNumPy:
    """The ``numpy`` of printed code, in PyTorch: constants are made in ``dtype``."""

    pi, e, nan, inf = float(np.pi), float(np.e), float("nan"), float("inf")

    def __init__(self, torch: Any, dtype: Any):
        self.torch, self.dtype = torch, dtype

    def __getattr__(self, name: str) -> Any:
        if name in _SAME or name in _RENAMED:
            return getattr(self.torch, _RENAMED.get(name, name))
        raise AttributeError(f"numpy.{name} in a compiled cell has no PyTorch counterpart here")

    def _tensor(self, value: Any) -> Any:
        return self.torch.as_tensor(value, dtype=self.dtype)

    def eye(self, n: int) -> Any:
        return self.torch.eye(n, dtype=self.dtype)

    def ones(self, shape: tuple) -> Any:
        return self.torch.ones(shape, dtype=self.dtype)

    def zeros(self, shape: tuple) -> Any:
        return self.torch.zeros(shape, dtype=self.dtype)

    def full(self, shape: tuple, value: float, dtype: Any = None) -> Any:
        return self.torch.full(tuple(shape), float(value), dtype=self.dtype)

    def shape(self, a: Any) -> tuple:
        return tuple(a.shape)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.torch.maximum(self._tensor(a), self._tensor(b))

    def minimum(self, a: Any, b: Any) -> Any:
        return self.torch.minimum(self._tensor(a), self._tensor(b))

    def select(self, conditions: list, choices: list, default: float = 0.0) -> Any:
        out = self._tensor(default)
        for condition, choice in reversed(list(zip(conditions, choices, strict=True))):
            condition = self.torch.as_tensor(condition)
            out = self.torch.where(condition, self._tensor(choice), out)
        return out


def _namespace(torch: Any, dtype: Any) -> dict[str, Any]:
    """Everything the printed code calls (see ``numeric.compile``), in PyTorch."""

    def vcat(*parts):
        batch = torch.broadcast_shapes(*(p.shape[:-1] for p in parts))
        return torch.cat([p.expand(*batch, p.shape[-1]) for p in parts], dim=-1)

    def sigmoid_slope(v):
        s = torch.sigmoid(v)
        return s * (1 - s)

    return {
        "numpy": _TorchAsNumPy(torch, dtype),
        "functools": functools,
        "_sigmoid": torch.sigmoid,
        "_sigmoid_slope": sigmoid_slope,
        "_vcat": vcat,
        "_diag": lambda v: v[..., :, None] * torch.eye(v.shape[-1], dtype=v.dtype),
        "_matvec": lambda m, v: (m @ v[..., None])[..., 0],
    }


def torch_function(
    args: Sequence[sp.MatrixSymbol | sp.Symbol],
    exprs: Sequence[sp.MatrixExpr],
    definitions: Mapping[sp.MatrixSymbol, sp.MatrixExpr] | None = None,
    sizes: Mapping[sp.Symbol, int] | None = None,
    dtype: Any = None,
) -> Any:
    """:func:`numeric.matrix_code.lambdify_matrix` for PyTorch tensors, differentiable.

    Same arguments and layout (a leading batch axis; vectors ``(..., r)``);
    ``dtype`` (float64 by default) is that of the constants the code makes.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> from symbolic.activations import z
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    >>> f = torch_function([W, h], [(W * h).applyfunc(sp.Lambda(z, sp.tanh(z)))], sizes={n: 2})
    >>> W0 = torch.eye(2, dtype=torch.float64, requires_grad=True)
    >>> (out,) = f(W0, torch.tensor([0.5, 0.0], dtype=torch.float64))
    >>> out.sum().backward()
    >>> W0.grad.numpy().round(4)
    array([[0.3932, 0.    ],
           [0.5   , 0.    ]])
    """
    torch = _torch()
    source = _source(tuple(args), tuple(exprs), _frozen(definitions), _frozen(sizes))
    namespace = _namespace(torch, torch.float64 if dtype is None else dtype)
    exec(compile(source, "<gradproof-torch>", "exec"), namespace)  # noqa: S102 - printed from our own trees
    return namespace["_compiled"]


def _frozen(mapping: Mapping | None) -> tuple:
    return tuple((mapping or {}).items())


@functools.lru_cache(maxsize=64)
def _source(args: tuple, exprs: tuple, definitions: tuple, sizes: tuple) -> str:
    # lambdify_matrix keeps the source it printed as the function's docstring.
    return lambdify_matrix(args, exprs, dict(definitions), dict(sizes)).__doc__


@functools.lru_cache(maxsize=64)
def _vjp(cell: Cell, sizes: tuple[tuple[str, int], ...], dtype: Any) -> tuple[CompiledCell, Any]:
    """The compiled cell (for its sizes) and ``J_t^T v_t`` block by block, in PyTorch."""
    model = compile_cell(cell, **dict(sizes))
    args = [*cell.state_symbols, *cell.input_symbols, *cell.params, *adjoints(cell)]
    subs = cell.with_sizes(**dict(sizes))
    function = torch_function(
        args, vector_jacobian_product(cell), cell.definitions, subs, dtype=dtype
    )
    return model, function


def _split(torch: Any, tensor: Any, sizes: tuple[int, ...]) -> list:
    return list(torch.split(tensor, list(sizes), dim=-1)) if sizes else []


def norm_ratios(
    cell: Cell, params: Mapping[str, Any], states: Any, inputs: Any, errors: Any
) -> Any:
    """``||(dE/ds_t) J_t||_2 / ||dE/ds_t||_2`` for every step and sequence.

    Parameters
    ----------
    cell : Cell
        Any cell gradproof compiles.
    params : mapping of str to Tensor
        The cell's parameters by symbolic name (see :func:`symbolic_params`).
    states : Tensor, shape ``(T, ..., N)``
        Row ``t - 1`` is the full state ``s_{t-1}`` the step ``t`` starts from.
    inputs : Tensor, shape ``(T, ..., in)``
        Row ``t - 1`` is ``x_t``, every input of the cell concatenated.
    errors : Tensor, shape ``(T, ..., N)``
        Row ``t - 1`` is ``dE/ds_t``.  Rows that are exactly zero have no
        ratio; theirs is reported as 1.

    Returns
    -------
    Tensor, shape ``(T, ...)``

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": 0.5 * torch.eye(2), "U": torch.zeros(2, 1), "b": torch.zeros(2)}
    >>> norm_ratios(elman_rnn("tanh"), params, torch.zeros(3, 2), torch.zeros(3, 1),
    ...             torch.ones(3, 2))
    tensor([0.5000, 0.5000, 0.5000])
    """
    torch = _torch()
    sizes = tuple(sorted(cell_sizes(cell, params).items()))
    model, vjp = _vjp(cell, sizes, errors.dtype)
    # The ratio does not change when dE/ds_t is scaled: scale each row to a
    # largest entry of 1 first, so errors that have nearly vanished do not underflow.
    scale = errors.abs().amax(dim=-1, keepdim=True)
    valid = scale > 0
    w = torch.where(valid, errors / torch.where(valid, scale, 1.0), 1.0)
    blocks = vjp(
        *_split(torch, states, model.state_sizes),
        *_split(torch, inputs, model.input_sizes),
        *(params[name] for name in model.param_names),
        *_split(torch, w, model.state_sizes),
    )
    # Norms of norms, not a square root of squares: its gradient is 0, not NaN, at 0.
    norms = torch.broadcast_tensors(*(torch.linalg.vector_norm(b, dim=-1) for b in blocks))
    row = torch.linalg.vector_norm(torch.stack(norms), dim=0)
    ratios = row / torch.linalg.vector_norm(w, dim=-1)
    return torch.where(valid[..., 0], ratios, 1.0)


def omega(cell: Cell, params: Mapping[str, Any], states: Any, inputs: Any, errors: Any) -> Any:
    """Pascanu et al.'s regulariser: ``sum_t (ratio_t - 1)^2``, averaged over sequences.

    Arguments as for :func:`norm_ratios`.  Differentiable in ``params``,
    ``states`` and ``errors``; Pascanu et al. differentiate through the
    weights only, holding ``states`` and ``errors`` fixed: pass them
    detached to do the same.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": 0.5 * torch.eye(2), "U": torch.zeros(2, 1), "b": torch.zeros(2)}
    >>> omega(elman_rnn("tanh"), params, torch.zeros(3, 2), torch.zeros(3, 1), torch.ones(3, 2))
    tensor(0.7500)
    """
    ratios = norm_ratios(cell, params, states, inputs, errors)
    return ((ratios - 1) ** 2).sum(dim=0).mean()


def clip_grad_norm(parameters: Iterable[Any], threshold: float) -> Any:
    """Pascanu et al.'s Algorithm 1: if ``||g|| >= threshold``, ``g <- threshold g / ||g||``.

    ``g`` is every parameter's ``.grad`` as one vector, rescaled in place.
    ``torch.nn.utils.clip_grad_norm_`` differs: it scales by
    ``threshold / (||g|| + 1e-6)``, so its result falls short of
    ``threshold`` by about ``1e-6 / ||g||`` relative.

    Returns
    -------
    Tensor
        ``||g||_2`` before clipping.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> w = torch.zeros(2, requires_grad=True)
    >>> w.grad = torch.tensor([3.0, 4.0])
    >>> clip_grad_norm([w], 1.0), w.grad
    (tensor(5.), tensor([0.6000, 0.8000]))
    """
    torch = _torch()
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if total >= threshold:
        for g in grads:
            g.mul_(threshold / total)
    return total


def symbolic_params(
    tensors: Mapping[str, Any], family_name: str, layer: int | None = None
) -> dict[str, Any]:
    """A PyTorch module's parameters as the cell's symbolic parameters, differentiably.

    The gate slices of the family's PyTorch layout, summed where a
    parameter is the sum of two (``b = bias_ih + bias_hh``), as
    :func:`numeric.weights.torch_weights` does for arrays; missing biases
    (a module built with ``bias=False``) are zero.

    Examples
    --------
    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> gru = torch.nn.GRU(2, 3)
    >>> p = symbolic_params(dict(gru.named_parameters()), "gru", layer=0)
    >>> p["W_{hz}"].shape, p["b_{z}"].requires_grad
    (torch.Size([3, 3]), True)
    """
    layout = family(family_name).layout
    suffix = "" if layer is None else f"_l{layer}"
    weight_hh = tensors[f"weight_hh{suffix}"]
    H = weight_hh.shape[1]
    rows = {gate: slice(i * H, (i + 1) * H) for i, gate in enumerate(layout.gates)}
    params = {}
    for name, terms in layout.params.items():
        parts = [
            tensors[tensor + suffix][rows[gate]]
            for tensor, gate in terms
            if tensor.startswith("weight") or tensor + suffix in tensors
        ]
        params[name] = sum(parts[1:], parts[0]) if parts else weight_hh.new_zeros(H)
    return params


def check_vector_jacobian(claim: VectorJacobianClaim, seed: int = 0, size: int = 5) -> Outcome:
    """The numeric check of a :class:`VectorJacobianClaim`, NumPy only.

    The claimed ``sum_i (d new_i / d wrt)^T v_i`` is the gradient of the
    scalar ``sum_i v_i . new_i`` by ``wrt``: compared with central
    differences of that scalar along random directions, at random
    parameters, states, inputs and adjoints of size ``size``.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> from symbolic.regularizer import regularizer_derivation
    >>> claim = regularizer_derivation(elman_rnn("tanh"), sizes=(2,)).steps[2].claim
    >>> check_vector_jacobian(claim).passed
    True
    """
    cell = claim.cell
    sizes = {str(d): size for d in cell.dims}
    subs = cell.with_sizes(**sizes)
    rng = np.random.default_rng(seed)
    params = random_params(cell, sizes, scale=0.8, seed=seed)
    vectors = [*cell.state_symbols, *cell.input_symbols, *adjoints(cell)]
    values = {v: 0.5 * rng.standard_normal(int(v.shape[0].xreplace(subs))) for v in vectors}
    args = [*vectors, *cell.params]
    f = lambdify_matrix(args, [*cell.new_state_symbols, claim.expr], cell.definitions, sizes=subs)
    position = args.index(claim.wrt)
    fixed = [*values.values(), *(params[p.name] for p in cell.params)]
    n_new = len(cell.new_state_symbols)

    def call(x):
        return f(*fixed[:position], x, *fixed[position + 1 :])

    def scalar(x):
        news = call(x)[:n_new]
        return np.array(
            [sum(float(values[v] @ new) for v, new in zip(adjoints(cell), news, strict=True))]
        )

    result = check_jacobian(scalar, lambda x: call(x)[n_new][None, :], fixed[position], seed=seed)
    return Outcome("numeric", result.passed, f"size {size}: {result.detail}")
