"""PyTorch ``state_dict`` files (``torch.save``), read without unpickling anything but tensors.

:func:`load_torch` is what :func:`numeric.loading.load_state_dict` calls for
a ``.pt``/``.pth`` name; it follows the same policy as every loader there
(regular files only, memory checked before allocating, real dtypes cast to
float64 by :func:`numeric.loading.real_array`), with PyTorch's own tensor
kinds: sparse tensors are made dense; nested, meta and quantized tensors,
and anything but a flat mapping of names to tensors, are refused in one line.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import TYPE_CHECKING

import numpy as np

from .errors import GradproofInputError
from .loading import _SAVEZ, _WEIGHTS, _check_memory, _open, _refuse_dtype, real_array

if TYPE_CHECKING:
    import torch

__all__ = ["load_torch"]

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _torch_failure(name: str, exc: Exception, notes: list[str]) -> GradproofInputError:
    """One line for a failed ``torch.load``: what the file holds and what to save instead."""
    text = _ANSI.sub("", str(exc))
    found = re.findall(r"GLOBAL ([\w.]+)", text)
    if "TorchScript" in text:
        return GradproofInputError(
            f"{_WEIGHTS} {name!r} is a TorchScript archive (torch.jit.save), not a state_dict; "
            "save module.state_dict() with torch.save instead"
        )
    if found and found[0].startswith("torch.nn."):
        return GradproofInputError(
            f"{_WEIGHTS} {name!r} holds a pickled module ({found[0]}), not a state_dict; "
            "save module.state_dict() instead"
        )
    if found:
        return GradproofInputError(
            f"{_WEIGHTS} {name!r} holds pickled Python objects ({found[0]}), which gradproof "
            "never loads (unpickling can run code); save a state_dict of tensors only"
        )
    # Keep the cause; drop torch's advice to retry with weights_only=False.
    detail = text.split("WeightsUnpickler error:")[-1].splitlines()
    reason = next((x.strip() for x in detail if x.strip() and "weights_only" not in x), "")
    protocol = re.search(r"pickle protocol (\d+)", " ".join(notes))
    fix = "save module.state_dict() with torch.save"
    if protocol:
        fix = f"it was pickled with protocol {protocol[1]}: {fix} and its default protocol"
    return GradproofInputError(
        f"cannot read {_WEIGHTS} {name!r} as a state_dict: {reason[:200] or type(exc).__name__}; "
        + fix
    )


def _refuse_kind(tensor: object, what: str) -> None:
    """Refuse, before any value is read, what is no array of real numbers.

    The counterpart of an ``.npz``'s headers, checked for every key before
    any value is (so both formats answer the same file alike): not a tensor;
    nested (ragged) tensors, which are no array; meta tensors, which have a
    shape but no values; quantized tensors, whose float values depend on a
    scale and zero point the cells do not model; boolean and complex dtypes.
    """
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise GradproofInputError(
            f"{what} is a {type(tensor).__name__}, not a tensor; save module.state_dict() only"
        )
    refusals = (
        (tensor.is_nested, "is a nested (ragged) tensor, not an array; save a regular tensor"),
        (tensor.is_meta, "is a meta tensor, with a shape but no values; save real weights"),
        (tensor.is_quantized, "is quantized; save tensor.dequantize() instead"),
    )
    for refused, why in refusals:
        if refused:
            raise GradproofInputError(f"{what} {why}")
    if tensor.dtype == torch.bool:
        _refuse_dtype("b", "bool", what)
    if tensor.is_complex():
        _refuse_dtype("c", str(tensor.dtype).removeprefix("torch."), what)


def _tensor_array(tensor: torch.Tensor, what: str) -> np.ndarray:
    """A tensor that :func:`_refuse_kind` let through, as a float64 array under
    :func:`real_array`'s policy.

    Sparse tensors are the same matrix in another storage, so they are made
    dense; requires-grad and non-contiguous tensors convert as they are, and
    tensors saved on another device were loaded to the CPU.
    """
    import torch

    _check_memory(what, {"": (tuple(tensor.shape), tensor.element_size())})
    if tensor.layout != torch.strided:
        tensor = tensor.to_dense()
    name = str(tensor.dtype).removeprefix("torch.")
    if tensor.is_floating_point() and tensor.dtype not in (torch.float16, torch.float32):
        tensor = tensor.to(torch.float64)  # bfloat16 and float8 types: narrower, so exact
    try:
        arr = tensor.numpy(force=True)
    except (TypeError, RuntimeError):  # a dtype NumPy has no counterpart for
        _refuse_dtype("?", name, what)
    return real_array(arr, what)


def load_torch(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch ``state_dict`` saved with ``torch.save``, tensors only.

    ``torch.load(..., weights_only=True)`` refuses anything but tensors and
    plain containers, so no arbitrary object is ever unpickled; the result
    must then be a flat mapping of names to tensors, each converted by
    :func:`real_array`'s policy (sparse tensors made dense).  PyTorch's
    warnings while loading (an unusual pickle protocol, deprecations) are
    not shown: a file that loads is checked like any other, and one that
    does not ends in one line.

    Examples
    --------
    >>> import pytest, tempfile, pathlib
    >>> torch = pytest.importorskip("torch")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"weight_hh": torch.eye(2, dtype=torch.int8).to_sparse()}, path)
    >>> load_torch(path)["weight_hh"]
    array([[1., 0.],
           [0., 1.]])
    """
    try:
        import torch
    except ImportError:
        raise GradproofInputError(
            f"reading {os.fspath(path)!r} needs PyTorch, which is not installed; "
            f"convert it to .npz where torch is: {_SAVEZ}"
        ) from None
    from torch.sparse import check_sparse_tensor_invariants as check_sparse

    hint = "save module.state_dict() with torch.save"
    name, fp = _open(path, _WEIGHTS, hint, ("torch", "pickle"))  # a pickle: torch's old format
    with fp:
        # Invariant checks: a crafted sparse tensor with indices out of range is refused
        # here, instead of writing out of bounds when made dense.
        with warnings.catch_warnings(record=True) as caught, check_sparse():
            warnings.simplefilter("always")
            try:
                state = torch.load(fp, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises UnpicklingError, RuntimeError, OSError, ...
                raise _torch_failure(name, exc, [str(w.message) for w in caught]) from None
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise GradproofInputError(
            f"{_WEIGHTS} {name!r} holds a {type(state).__name__}, not a state_dict of named "
            "tensors; save module.state_dict()"
        )
    named = {k: f"{_WEIGHTS} key {k!r}" for k in state}
    for key, tensor in state.items():  # every key's kind and dtype first, as an .npz's headers
        _refuse_kind(tensor, named[key])
    return {k: _tensor_array(v, named[k]) for k, v in state.items()}
