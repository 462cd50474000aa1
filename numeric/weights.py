"""A cell's parameters from a weight file's arrays, or drawn at random.

Two layouts, declared by the cell's family (:mod:`symbolic.registry`):

- PyTorch's: a ``state_dict`` with ``weight_ih (G*H, in)``,
  ``weight_hh (G*H, H)``, ``bias_ih (G*H,)``, ``bias_hh (G*H,)``, the ``G``
  gates stacked along the rows, multi-layer modules suffixing ``_l{k}``;
  the family's :class:`~symbolic.registry.TorchLayout` says which gate
  slices (summed) make each symbolic parameter (:func:`torch_weights`);
- plain: the file's keys are the cell's parameter names exactly, a scalar
  as a 0-d array (:func:`named_params`).

Sizes are read off the arrays (:func:`cell_sizes`).  Every problem raises
:class:`~numeric.errors.GradproofInputError` with one line naming the key,
the expected and the actual shape, and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symbolic.cells import Cell
from symbolic.registry import TorchLayout, family

from .errors import GradproofInputError
from .loading import real_array

__all__ = [
    "INITS",
    "TorchWeights",
    "cell_sizes",
    "named_params",
    "param_shapes",
    "random_inputs",
    "random_params",
    "random_state_dict",
    "torch_weights",
]


def _layout(family_name: str) -> TorchLayout:
    try:
        layout = family(family_name).layout
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None
    if layout is None:
        raise GradproofInputError(
            f"cell {family_name!r} has no PyTorch weight layout; its weight files are keyed "
            "by parameter names"
        )
    return layout


@dataclass(frozen=True)
class TorchWeights:
    """One layer's weights, mapped to a cell's symbolic parameters.

    ``weight_hh`` is PyTorch's stacked recurrent matrix ``(G*H, H)``, kept
    for the bound, which is stated for ``sigma_max(W_hh)``.
    """

    params: dict[str, np.ndarray]
    hidden: int
    input_size: int
    weight_hh: np.ndarray


def _key(tensor: str, layer: int | None) -> str:
    return tensor if layer is None else f"{tensor}_l{layer}"


def _check_layer_names(state: Mapping[str, np.ndarray], layer: int | None) -> None:
    layered = sorted(k for k in state if k.startswith("weight_hh_l"))
    if layer is None and "weight_hh" not in state and layered:
        raise GradproofInputError(
            f"the weights have multi-layer names ({', '.join(layered)}); choose one with --layer K"
        )
    if layer is not None and layer < 0:
        raise GradproofInputError(f"--layer must be >= 0, got {layer}")
    if layer is not None and _key("weight_hh", layer) not in state and "weight_hh" in state:
        raise GradproofInputError(
            "the weights have single-layer names (weight_hh, ...); drop --layer"
        )


def _tensor(
    state: Mapping[str, np.ndarray], key: str, expected: tuple[int | None, ...], wanted: str
) -> np.ndarray:
    """``state[key]`` checked against ``expected`` (``None`` matches any positive size);
    ``wanted`` says in words what was expected."""
    if key not in state:
        known = ", ".join(sorted(state)) or "none"
        raise GradproofInputError(
            f"the weights have no key {key!r} (keys: {known}); "
            "export the module's full state_dict, and check --layer"
        )
    arr = real_array(state[key], f"key {key!r}")
    fits = arr.ndim == len(expected) and all(
        actual == size if size is not None else actual >= 1
        for actual, size in zip(arr.shape, expected, strict=True)
    )
    if not fits:
        raise GradproofInputError(
            f"key {key!r} has shape {arr.shape}, expected {wanted}; check the cell type and --layer"
        )
    return arr


def torch_weights(
    state: Mapping[str, np.ndarray],
    family_name: str = "rnn",
    layer: int | None = None,
    cell: Cell | None = None,
) -> TorchWeights:
    """Map a PyTorch ``state_dict`` (as arrays) to a cell's symbolic parameters.

    Parameters
    ----------
    state : mapping of str to ndarray
        PyTorch names and arrays, e.g. from :func:`load_npz`.
    family_name : str
        A registered cell family with a PyTorch layout (``"rnn"``, ``"lstm"``, ``"gru"``).
    layer : int, optional
        Layer ``K`` of a multi-layer module (names suffixed ``_lK``); ``None``
        for a cell's unsuffixed names.  A module built with ``bias=False``
        has no bias keys; its biases are zero.

    Examples
    --------
    >>> state = {"weight_ih_l0": np.ones((2, 3)), "weight_hh_l0": 2 * np.eye(2),
    ...          "bias_ih_l0": np.ones(2), "bias_hh_l0": np.ones(2)}
    >>> tw = torch_weights(state, "rnn", layer=0)
    >>> tw.hidden, tw.input_size, tw.params["b"]
    (2, 3, array([2., 2.]))
    """
    layout = _layout(family_name)
    _check_layer_names(state, layer)
    G = len(layout.gates)
    hh_key = _key("weight_hh", layer)
    hh_shape = np.shape(state[hh_key]) if hh_key in state else ()
    # H is read off the column count; the row count is then checked against G*H.
    H = hh_shape[1] if len(hh_shape) == 2 and hh_shape[1] >= 1 else None
    gh = "H" if G == 1 else f"{G}H"
    stacked = "" if G == 1 else f"; {G} gates stacked by rows"
    if H is None:  # then weight_hh cannot fit: say what would
        hh = f"a matrix ({gh}, H) with hidden size H >= 1" + stacked.replace(";", ",")
    else:
        hh = f"({gh}, H) = ({G * H}, {H}) for hidden size H = {H} (its column count{stacked})"
    for_h = f"for hidden size H = {H}"
    tensors = {"weight_hh": _tensor(state, hh_key, (None if H is None else G * H, H), hh)}
    tensors["weight_ih"] = _tensor(
        state,
        _key("weight_ih", layer),
        (G * H, None),
        f"({gh}, in) = ({G * H}, in) {for_h}, with input size in >= 1",
    )
    M = tensors["weight_ih"].shape[1]
    bias_keys = [_key(t, layer) for t in ("bias_ih", "bias_hh")]
    for tensor, key in zip(("bias_ih", "bias_hh"), bias_keys, strict=True):
        if not any(k in state for k in bias_keys):
            tensors[tensor] = np.zeros(G * H)
        else:
            tensors[tensor] = _tensor(state, key, (G * H,), f"({gh},) = ({G * H},) {for_h}")
    rows = {gate: slice(i * H, (i + 1) * H) for i, gate in enumerate(layout.gates)}
    params = {
        name: sum(tensors[tensor][rows[gate]] for tensor, gate in terms)
        for name, terms in layout.params.items()
    }
    wanted = set() if cell is None else {p.name for p in cell.params}
    for name, key in layout.vectors.items():  # per-unit vectors, e.g. peephole weights
        if name in wanted:
            params[name] = _tensor(state, _key(key, layer), (H,), f"(H,) = ({H},) {for_h}")
    return TorchWeights(params, H, M, tensors["weight_hh"])


def _positive(value: int, flag: str) -> int:
    if int(value) != value or value < 1:
        raise GradproofInputError(f"{flag} must be a positive integer, got {value}")
    return int(value)


def _rng(seed: int, stream: int) -> np.random.Generator:
    if int(seed) != seed or seed < 0:
        raise GradproofInputError(f"--seed must be a non-negative integer, got {seed}")
    # Separate streams: the inputs drawn for a seed do not depend on the
    # network's size, so changing --hidden keeps the same input sequence.
    return np.random.default_rng([int(seed), stream])


#: Ways to draw the random recurrent matrix before it is rescaled.
INITS = ("gaussian", "orthogonal")


def random_state_dict(
    family_name: str,
    hidden: int,
    input_size: int,
    scale: float,
    seed: int,
    init: str = "gaussian",
    layers: int = 1,
) -> dict[str, np.ndarray]:
    """Random PyTorch-named weights with ``sigma_max(weight_hh) == scale``.

    ``weight_hh`` is Gaussian (``init="gaussian"``) or has orthonormal
    columns (``init="orthogonal"``: every singular value equal, so the
    bound is tight in the linear regime), then is rescaled by its exact
    largest singular value; ``weight_ih`` has entries ``N(0, 1/in)``,
    biases ``N(0, 1/H)``.  With ``layers > 1``, a multi-layer module's
    names (``weight_hh_l0``, ...): layer ``k >= 1`` reads the ``H`` outputs
    of layer ``k-1``; the layers are drawn bottom first from one stream, so
    layer 0 is the one-layer draw of the same seed.

    Examples
    --------
    >>> state = random_state_dict("rnn", hidden=4, input_size=2, scale=0.9, seed=0)
    >>> sorted(state), round(float(np.linalg.norm(state["weight_hh"], 2)), 12)
    (['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih'], 0.9)
    >>> W = random_state_dict("rnn", 3, 1, 2.0, seed=0, init="orthogonal")["weight_hh"]
    >>> np.linalg.svd(W, compute_uv=False).round(12)
    array([2., 2., 2.])
    >>> stack = random_state_dict("gru", 4, 2, 0.9, seed=0, layers=2)
    >>> stack["weight_ih_l1"].shape, bool(np.all(stack["weight_hh_l0"] == random_state_dict(
    ...     "gru", 4, 2, 0.9, seed=0)["weight_hh"]))
    ((12, 4), True)
    """
    layout = _layout(family_name)
    H = _positive(hidden, "--hidden")
    M = _positive(input_size, "--input")
    L = _positive(layers, "--layers")
    if not (np.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    if init not in INITS:
        raise GradproofInputError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    rng = _rng(seed, 0)
    if L == 1:
        return _random_layer(rng, layout, H, M, scale, init)
    state = {}
    for layer in range(L):
        drawn = _random_layer(rng, layout, H, M if layer == 0 else H, scale, init)
        state.update({_key(key, layer): value for key, value in drawn.items()})
    return state


def _random_layer(
    rng: np.random.Generator, layout: TorchLayout, H: int, M: int, scale: float, init: str
) -> dict[str, np.ndarray]:
    """One layer of :func:`random_state_dict`, unsuffixed names."""
    G = len(layout.gates)
    hh = rng.standard_normal((G * H, H))
    if init == "orthogonal":
        Q, R = np.linalg.qr(hh)
        # Sign fix: makes Q Haar-distributed rather than biased by QR's convention.
        hh = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    hh /= np.linalg.norm(hh, 2)
    hh *= scale  # in two steps: scale / sigma_max overflows for scale near 1.8e308
    state = {
        "weight_ih": rng.standard_normal((G * H, M)) / np.sqrt(M),
        "weight_hh": hh,
        "bias_ih": rng.standard_normal(G * H) / np.sqrt(H),
        "bias_hh": rng.standard_normal(G * H) / np.sqrt(H),
    }
    for key in layout.vectors.values():  # drawn last, so the tensors above never change
        state[key] = rng.standard_normal(H) / np.sqrt(H)
    return state


def random_inputs(steps: int, input_size: int, seed: int) -> np.ndarray:
    """Standard normal inputs of shape ``(steps, input_size)``; ``input_size`` may be 0.

    Examples
    --------
    >>> random_inputs(3, 2, seed=0).shape
    (3, 2)
    >>> random_inputs(3, 0, seed=0).shape
    (3, 0)
    """
    T = _positive(steps, "--steps")
    if int(input_size) != input_size or input_size < 0:
        raise GradproofInputError(f"--input must be a non-negative integer, got {input_size}")
    return _rng(seed, 1).standard_normal((T, int(input_size)))


def _expected(p: sp.MatrixSymbol | sp.Symbol) -> tuple:
    """The array shape a parameter needs, in size symbols: 2-D, 1-D (a vector) or 0-d."""
    if isinstance(p, sp.Symbol):
        return ()
    return (p.shape[0],) if p.shape[1] == 1 else tuple(p.shape)


def param_shapes(cell: Cell) -> dict[str, tuple]:
    """Each parameter's array shape in size symbols: what a weight file must hold.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> param_shapes(elman_rnn())
    {'W': (n, n), 'U': (n, m), 'b': (n,)}
    """
    return {p.name: _expected(p) for p in cell.params}


def cell_sizes(cell: Cell, params: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Size symbols of ``cell`` read off ``params``, every shape checked.

    Matrices are 2-D, column vectors (biases) 1-D, scalars 0-d.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> cell_sizes(elman_rnn(), {"W": np.eye(3), "U": np.ones((3, 2)), "b": np.zeros(3)})
    {'n': 3, 'm': 2}
    """
    sizes: dict[sp.Symbol, int] = {}
    shapes = {}
    for p in cell.params:
        if p.name not in params:
            raise GradproofInputError(
                f"parameter {p.name!r} of cell {cell.name!r} is missing; "
                f"pass all of {', '.join(q.name for q in cell.params)}"
            )
        dims = _expected(p)
        shape = np.shape(params[p.name])
        if len(shape) != len(dims):
            what = "a scalar (0-d)" if not dims else f"{len(dims)}-D {dims}"
            raise GradproofInputError(f"parameter {p.name!r} has shape {shape}, expected {what}")
        if 0 in shape:
            raise GradproofInputError(
                f"parameter {p.name!r} has shape {shape}, which holds no numbers; "
                "every size must be >= 1"
            )
        shapes[p.name] = (dims, shape)
        for d, actual in zip(dims, shape, strict=True):
            if isinstance(d, sp.Symbol):
                sizes.setdefault(d, actual)
    for name, (dims, shape) in shapes.items():
        expected = tuple(int(sp.sympify(d).xreplace(sizes)) for d in dims)
        if expected != shape:
            raise GradproofInputError(
                f"parameter {name!r} has shape {shape}, expected {dims} = {expected}"
            )
    return {str(d): v for d, v in sizes.items()}


def named_params(state: Mapping[str, np.ndarray], cell: Cell) -> dict[str, np.ndarray]:
    """A weight file keyed by the cell's parameter names, exactly; shapes checked.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> named_params({"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)}, elman_rnn())["W"]
    array([[1., 0.],
           [0., 1.]])
    >>> named_params({"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2), "c": 1}, elman_rnn())
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: the weights have key 'c', which is not a parameter of cell 'rnn' (parameters: W, U, b); remove it
    """
    names = [p.name for p in cell.params]
    extra = sorted(set(state) - set(names))
    if extra:
        raise GradproofInputError(
            f"the weights have key {extra[0]!r}, which is not a parameter of cell "
            f"{cell.name!r} (parameters: {', '.join(names)}); remove it"
        )
    params = {name: real_array(state[name], f"key {name!r}") for name in names if name in state}
    cell_sizes(cell, params)  # refuses a missing key or a wrong shape
    return params


def random_params(
    cell: Cell, sizes: Mapping[str, int], scale: float = 1.0, seed: int = 0
) -> dict[str, np.ndarray]:
    """Random parameters for any cell: matrices with ``sigma_max = scale``,
    vectors with ``max_i |v_i| = scale``, scalars uniform in ``(0, scale)``.

    Every size symbol of the cell needs a value in ``sizes``.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> p = random_params(elman_rnn(), {"n": 3, "m": 2}, scale=0.5, seed=0)
    >>> round(float(np.linalg.norm(p["W"], 2)), 12), round(float(np.max(np.abs(p["b"]))), 12)
    (0.5, 0.5)
    """
    unknown = sorted(set(sizes) - {str(d) for d in cell.dims})
    if unknown:
        known = ", ".join(str(d) for d in cell.dims) or "none"
        raise GradproofInputError(f"cell {cell.name!r} has no size {unknown[0]!r} (sizes: {known})")
    missing = [str(d) for d in cell.dims if str(d) not in sizes]
    if missing:
        raise GradproofInputError(
            f"cell {cell.name!r} needs every size for random weights; pass "
            + " ".join(f"--size {d}=N" for d in missing)
        )
    subs = {d: _positive(sizes[str(d)], f"--size {d}") for d in cell.dims}
    if not (np.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    rng = _rng(seed, 0)
    out = {}
    for p in cell.params:
        shape = tuple(int(sp.sympify(d).xreplace(subs)) for d in _expected(p))
        if not shape:
            out[p.name] = np.asarray(scale * rng.uniform(0.0, 1.0))
            continue
        value = rng.standard_normal(shape)
        norm = np.linalg.norm(value, 2) if value.ndim == 2 else np.max(np.abs(value))
        out[p.name] = value * (scale / norm)
    return out
