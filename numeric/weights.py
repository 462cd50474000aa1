"""Parameters and inputs from files or seeds, validated once, at the door.

Weight files are ``.npz`` archives with PyTorch ``state_dict`` names, as
written by::

    numpy.savez(path, **{k: v.detach().numpy() for k, v in module.state_dict().items()})

PyTorch stacks the ``G`` gates of a recurrent layer along the rows:
``weight_ih (G*H, in)``, ``weight_hh (G*H, H)``, ``bias_ih (G*H,)``,
``bias_hh (G*H,)``; multi-layer modules suffix ``_l{k}``.  A
:class:`TorchLayout` says, for one cell, the gate order and which gate
slices (summed) make each symbolic parameter, so a new cell is one entry of
:data:`TORCH_LAYOUTS`.  For example, the LSTM (gates ``i, f, g, o``) whose
cell names its parameters ``W_i, U_i, b_i, ...`` would add::

    "lstm": TorchLayout(
        gates=("i", "f", "g", "o"),
        params={
            f"{kind}_{g}": terms
            for g in "ifgo"
            for kind, terms in (
                ("W", (("weight_hh", g),)),
                ("U", (("weight_ih", g),)),
                ("b", (("bias_ih", g), ("bias_hh", g))),
            )
        },
    )

and the GRU keeps ``b_hn`` apart from ``b_in`` because ``r`` multiplies
``W_hn h + b_hn``: ``"b_in": (("bias_ih", "n"),), "b_hn": (("bias_hh", "n"),)``.

Every problem raises :class:`~numeric.errors.GradproofInputError` with one
line naming the key, the expected and the actual shape, and what to do.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from symbolic.cells import Cell

from .errors import GradproofInputError

__all__ = [
    "INITS",
    "TORCH_LAYOUTS",
    "TorchLayout",
    "TorchWeights",
    "cell_sizes",
    "load_inputs",
    "load_npz",
    "load_state_dict",
    "load_torch",
    "load_state0",
    "random_inputs",
    "random_state_dict",
    "torch_weights",
]

_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class TorchLayout:
    """How one cell's parameters sit in a PyTorch ``state_dict``.

    Parameters
    ----------
    gates : tuple of str
        Gate names in PyTorch's stacking order (``G = len(gates)``).
    params : dict
        Symbolic parameter name -> the ``(tensor, gate)`` slices whose sum it
        is, ``tensor`` one of ``weight_ih, weight_hh, bias_ih, bias_hh``.
    """

    gates: tuple[str, ...]
    params: dict[str, tuple[tuple[str, str], ...]] = field(hash=False)

    def __post_init__(self) -> None:
        for name, terms in self.params.items():
            for tensor, gate in terms:
                if tensor not in _TENSORS or gate not in self.gates:
                    raise ValueError(
                        f"layout term {(tensor, gate)} of {name!r} is not a gate slice"
                    )


#: PyTorch layouts by cell name (``Cell.name``).
TORCH_LAYOUTS: dict[str, TorchLayout] = {
    "rnn": TorchLayout(
        gates=("h",),
        params={
            "W": (("weight_hh", "h"),),
            "U": (("weight_ih", "h"),),
            "b": (("bias_ih", "h"), ("bias_hh", "h")),
        },
    ),
    # The LSTM without forget gate reuses this layout; its f rows go unused.
    "lstm": TorchLayout(
        gates=("i", "f", "g", "o"),
        params={
            **{f"W_{{i{g}}}": (("weight_ih", g),) for g in "ifgo"},
            **{f"W_{{h{g}}}": (("weight_hh", g),) for g in "ifgo"},
            **{f"b_{{{g}}}": (("bias_ih", g), ("bias_hh", g)) for g in "ifgo"},
        },
    ),
    # r multiplies W_hn h + b_hn, so the n biases stay apart.
    "gru": TorchLayout(
        gates=("r", "z", "n"),
        params={
            **{f"W_{{i{g}}}": (("weight_ih", g),) for g in "rzn"},
            **{f"W_{{h{g}}}": (("weight_hh", g),) for g in "rzn"},
            "b_{r}": (("bias_ih", "r"), ("bias_hh", "r")),
            "b_{z}": (("bias_ih", "z"), ("bias_hh", "z")),
            "b_{in}": (("bias_ih", "n"),),
            "b_{hn}": (("bias_hh", "n"),),
        },
    ),
}


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


def _layout(cell_name: str) -> TorchLayout:
    if cell_name not in TORCH_LAYOUTS:
        known = ", ".join(sorted(TORCH_LAYOUTS))
        raise GradproofInputError(
            f"no PyTorch weight layout for cell {cell_name!r}; known cells: {known}"
        )
    return TORCH_LAYOUTS[cell_name]


def _real_array(value: object, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise GradproofInputError(f"{what} has dtype {arr.dtype}, expected real numbers")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise GradproofInputError(
            f"{what} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
            "fix or regenerate the data"
        )
    return arr


def _load(path: str | os.PathLike, what: str, hint: str):
    try:
        return np.load(os.fspath(path), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GradproofInputError(
            f"cannot read {what} {os.fspath(path)!r}: {reason}; {hint}"
        ) from exc


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file as float64, checked finite.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> np.savez(path, weight_hh=np.eye(2))
    >>> load_npz(path)["weight_hh"].dtype
    dtype('float64')
    """
    hint = "pass a .npz written by numpy.savez from a module's state_dict"
    archive = _load(path, "weights file", hint)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise GradproofInputError(f"weights file {os.fspath(path)!r} is a single array; {hint}")
    with archive:
        try:
            arrays = {k: archive[k] for k in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GradproofInputError(
                f"cannot read weights file {os.fspath(path)!r}: {exc}; {hint}"
            ) from exc
    return {k: _real_array(v, f"weights file key {k!r}") for k, v in arrays.items()}


_SAVEZ = "numpy.savez(path, **{k: v.detach().numpy() for k, v in module.state_dict().items()})"


def load_torch(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch ``state_dict`` saved with ``torch.save``, tensors only.

    ``torch.load(..., weights_only=True)`` refuses anything but tensors and
    plain containers, so no arbitrary object is ever unpickled; the result
    must then be a flat mapping of names to tensors.
    """
    try:
        import torch
    except ImportError:
        raise GradproofInputError(
            f"reading {os.fspath(path)!r} needs PyTorch, which is not installed; "
            f"convert it to .npz where torch is: {_SAVEZ}"
        ) from None
    try:
        state = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, OSError, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GradproofInputError(
            f"cannot read {os.fspath(path)!r} as a state_dict of tensors: {reason}"
        ) from exc
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise GradproofInputError(
            f"{os.fspath(path)!r} is not a state_dict of tensors; save module.state_dict()"
        )
    return {
        k: _real_array(v.detach().to(torch.float64).numpy(), f"weights file key {k!r}")
        for k, v in state.items()
    }


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read weights by extension: ``.pt``/``.pth`` with PyTorch, anything else as ``.npz``."""
    if os.fspath(path).lower().endswith((".pt", ".pth")):
        return load_torch(path)
    return load_npz(path)


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
    state: Mapping[str, np.ndarray], key: str, expected: tuple[int | None, ...], dims: str
) -> np.ndarray:
    """``state[key]`` checked against ``expected`` (``None`` matches any positive size)."""
    if key not in state:
        known = ", ".join(sorted(state)) or "none"
        raise GradproofInputError(
            f"the weights have no key {key!r} (keys: {known}); "
            "export the module's full state_dict, and check --layer"
        )
    arr = _real_array(state[key], f"key {key!r}")
    fits = arr.ndim == len(expected) and all(
        actual == size if size is not None else actual >= 1
        for actual, size in zip(arr.shape, expected, strict=True)
    )
    if not fits:
        shown = "(" + ", ".join("in" if e is None else str(e) for e in expected)
        shown += ",)" if len(expected) == 1 else ")"
        raise GradproofInputError(
            f"key {key!r} has shape {arr.shape}, expected {dims} = {shown}; "
            "check the cell type and --layer"
        )
    return arr


def torch_weights(
    state: Mapping[str, np.ndarray], cell_name: str = "rnn", layer: int | None = None
) -> TorchWeights:
    """Map a PyTorch ``state_dict`` (as arrays) to a cell's symbolic parameters.

    Parameters
    ----------
    state : mapping of str to ndarray
        PyTorch names and arrays, e.g. from :func:`load_npz`.
    cell_name : str
        Key of :data:`TORCH_LAYOUTS`.
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
    layout = _layout(cell_name)
    _check_layer_names(state, layer)
    G = len(layout.gates)
    hh_key = _key("weight_hh", layer)
    hh_shape = np.shape(state[hh_key]) if hh_key in state else ()
    # H is read off the column count; the row count is then checked against G*H.
    H = hh_shape[1] if len(hh_shape) == 2 and hh_shape[1] >= 1 else None
    dims = f"(G*H, H) with G={G}"
    tensors = {"weight_hh": _tensor(state, hh_key, (None if H is None else G * H, H), dims)}
    tensors["weight_ih"] = _tensor(
        state, _key("weight_ih", layer), (G * H, None), f"(G*H, in) with G={G}, H={H}"
    )
    M = tensors["weight_ih"].shape[1]
    bias_keys = [_key(t, layer) for t in ("bias_ih", "bias_hh")]
    for tensor, key in zip(("bias_ih", "bias_hh"), bias_keys, strict=True):
        if not any(k in state for k in bias_keys):
            tensors[tensor] = np.zeros(G * H)
        else:
            tensors[tensor] = _tensor(state, key, (G * H,), f"(G*H,) with G={G}, H={H}")
    rows = {gate: slice(i * H, (i + 1) * H) for i, gate in enumerate(layout.gates)}
    params = {
        name: sum(tensors[tensor][rows[gate]] for tensor, gate in terms)
        for name, terms in layout.params.items()
    }
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
    cell_name: str,
    hidden: int,
    input_size: int,
    scale: float,
    seed: int,
    init: str = "gaussian",
) -> dict[str, np.ndarray]:
    """Random PyTorch-named weights with ``sigma_max(weight_hh) == scale``.

    ``weight_hh`` is Gaussian (``init="gaussian"``) or has orthonormal
    columns (``init="orthogonal"``: every singular value equal, so the
    bound is tight in the linear regime), then is rescaled by its exact
    largest singular value; ``weight_ih`` has entries ``N(0, 1/in)``,
    biases ``N(0, 1/H)``.

    Examples
    --------
    >>> state = random_state_dict("rnn", hidden=4, input_size=2, scale=0.9, seed=0)
    >>> sorted(state), round(float(np.linalg.norm(state["weight_hh"], 2)), 12)
    (['bias_hh', 'bias_ih', 'weight_hh', 'weight_ih'], 0.9)
    >>> W = random_state_dict("rnn", 3, 1, 2.0, seed=0, init="orthogonal")["weight_hh"]
    >>> np.linalg.svd(W, compute_uv=False).round(12)
    array([2., 2., 2.])
    """
    G = len(_layout(cell_name).gates)
    H = _positive(hidden, "--hidden")
    M = _positive(input_size, "--input")
    if not (np.isfinite(scale) and scale > 0):
        raise GradproofInputError(f"--scale must be a positive number, got {scale}")
    if init not in INITS:
        raise GradproofInputError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    rng = _rng(seed, 0)
    hh = rng.standard_normal((G * H, H))
    if init == "orthogonal":
        Q, R = np.linalg.qr(hh)
        # Sign fix: makes Q Haar-distributed rather than biased by QR's convention.
        hh = Q * np.where(np.diag(R) < 0, -1.0, 1.0)
    hh *= scale / np.linalg.norm(hh, 2)
    return {
        "weight_ih": rng.standard_normal((G * H, M)) / np.sqrt(M),
        "weight_hh": hh,
        "bias_ih": rng.standard_normal(G * H) / np.sqrt(H),
        "bias_hh": rng.standard_normal(G * H) / np.sqrt(H),
    }


def _load_npy(path: str | os.PathLike, what: str, hint: str) -> np.ndarray:
    arr = _load(path, what, hint)
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise GradproofInputError(f"{what} {os.fspath(path)!r} is an .npz archive; {hint}")
    return _real_array(arr, f"{what} {os.fspath(path)!r}")


def load_inputs(path: str | os.PathLike, input_size: int) -> np.ndarray:
    """Inputs ``x_1..x_T`` from an ``.npy`` file of shape ``(T, in)``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> np.save(path, np.zeros((5, 3)))
    >>> load_inputs(path, 3).shape
    (5, 3)
    """
    hint = "save an array of shape (T, in) with numpy.save"
    xs = _load_npy(path, "inputs file", hint)
    if xs.ndim != 2 or xs.shape[1] != input_size or xs.shape[0] < 1:
        raise GradproofInputError(
            f"inputs file {os.fspath(path)!r} has shape {xs.shape}, expected (T, in) = "
            f"(T, {input_size}) with T >= 1; {hint}"
        )
    return xs


def random_inputs(steps: int, input_size: int, seed: int) -> np.ndarray:
    """Standard normal inputs of shape ``(steps, input_size)``.

    Examples
    --------
    >>> random_inputs(3, 2, seed=0).shape
    (3, 2)
    """
    T = _positive(steps, "--steps")
    return _rng(seed, 1).standard_normal((T, _positive(input_size, "--input")))


def load_state0(path: str | os.PathLike | None, size: int) -> np.ndarray:
    """The initial full state ``s_0`` from an ``.npy`` of shape ``(N,)``, else zeros.

    Examples
    --------
    >>> load_state0(None, 3)
    array([0., 0., 0.])
    """
    if path is None:
        return np.zeros(size)
    hint = f"save a vector of shape ({size},) with numpy.save"
    s0 = _load_npy(path, "initial state file", hint)
    if s0.shape != (size,):
        raise GradproofInputError(
            f"initial state file {os.fspath(path)!r} has shape {s0.shape}, "
            f"expected (N,) = ({size},); {hint}"
        )
    return s0


def cell_sizes(cell: Cell, params: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Size symbols of ``cell`` read off ``params``, every shape checked.

    Matrices are 2-D, column vectors (biases) 1-D.

    Examples
    --------
    >>> from symbolic.cells import elman_rnn
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
        dims = (p.shape[0],) if p.shape[1] == 1 else tuple(p.shape)
        shape = np.shape(params[p.name])
        if len(shape) != len(dims):
            raise GradproofInputError(
                f"parameter {p.name!r} has shape {shape}, expected {len(dims)}-D {dims}"
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
