"""Reading arrays from files, validated once, at the door.

Weight files are ``.npz`` archives (or, where PyTorch is installed,
``.pt``/``.pth`` ``state_dict`` files, unpickled with
``weights_only=True`` so that nothing but tensors is ever loaded); inputs
and initial states are ``.npy`` arrays.  Every array is cast to float64 and
checked finite; every problem raises
:class:`~numeric.errors.GradproofInputError` with one line naming the file,
the key and what to do.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .errors import GradproofInputError

__all__ = ["load_inputs", "load_npz", "load_state0", "load_state_dict", "load_torch", "real_array"]


def real_array(value: object, what: str) -> np.ndarray:
    """``value`` as a float64 array, refused unless real and finite."""
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
    return {k: real_array(v, f"weights file key {k!r}") for k, v in arrays.items()}


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
        k: real_array(v.detach().to(torch.float64).numpy(), f"weights file key {k!r}")
        for k, v in state.items()
    }


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read weights by extension: ``.pt``/``.pth`` with PyTorch, anything else as ``.npz``."""
    if os.fspath(path).lower().endswith((".pt", ".pth")):
        return load_torch(path)
    return load_npz(path)


def _load_npy(path: str | os.PathLike, what: str, hint: str) -> np.ndarray:
    arr = _load(path, what, hint)
    if not isinstance(arr, np.ndarray):
        arr.close()
        raise GradproofInputError(f"{what} {os.fspath(path)!r} is an .npz archive; {hint}")
    return real_array(arr, f"{what} {os.fspath(path)!r}")


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
