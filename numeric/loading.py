"""Reading arrays from files, validated once, at the door.

Weight files are ``.npz`` archives (or, where PyTorch is installed,
``.pt``/``.pth`` ``state_dict`` files, read by :mod:`numeric.torch_files`); inputs and initial states are
``.npy`` arrays.  One policy holds for every format:

- only regular files are opened: a directory, named pipe or device is
  refused before it is read, so nothing blocks or streams forever;
- nothing is ever unpickled: ``.npy`` headers are parsed as literals and
  ``torch.load`` runs with ``weights_only=True``, which loads tensors and
  plain containers only;
- an ``.npy`` header's declared size is checked against the bytes stored
  and against the memory available *before* anything is allocated;
- the dtypes accepted are real floating-point and integer types, cast to
  float64 only where the cast is exact enough (:func:`real_array`).

Every problem raises :class:`~numeric.errors.GradproofInputError` with one
line naming the file or key and what to do.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
import zlib
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from .budget import Cost, check_cost, describe_bytes
from .errors import GradproofInputError

__all__ = ["load_inputs", "load_npz", "load_state0", "load_state_dict", "real_array"]

_SAVEZ = "numpy.savez(path, **{k: v.detach().numpy() for k, v in module.state_dict().items()})"
_WEIGHTS = "weights file"
_WEIGHTS_HINT = "write weights with numpy.savez (or torch.save to a .pt file)"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive with members, an empty one
_PICKLE = b"\x80"  # the PROTO opcode that starts every pickle of protocol 2 or later
# zipfile raises NotImplementedError for an unknown compression, RuntimeError for encryption.
_READ_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)


def _refuse_dtype(kind: str, name: str, what: str) -> None:
    """Refuse any dtype but real floating point and integers, by NumPy kind code."""
    if kind in "fiu":
        return
    if kind == "c":
        raise GradproofInputError(
            f"{what} has complex dtype {name}, expected real numbers; save real-valued weights"
        )
    if kind == "b":
        raise GradproofInputError(
            f"{what} has dtype bool, expected real numbers; a boolean array is a mask or a flag, "
            "not weights: if it holds 0/1 weights, save them as floats"
        )
    raise GradproofInputError(
        f"{what} has dtype {name}, expected real numbers (floating point or integer); "
        "save the weights as floats"
    )


def real_array(value: object, what: str) -> np.ndarray:
    """``value`` as a float64 array, refused unless real, finite and exactly representable.

    Accepted are real floating-point and integer dtypes.  Integers are
    exact values, so they must be exact in float64: magnitudes up to
    ``2**53``.  Floating-point values already carry rounding, so float64's
    rounding of a wider type (``longdouble``) is accepted, but not a value
    that would overflow to inf or underflow to zero or a subnormal.
    Refused: complex numbers (the cells are real; dropping the imaginary
    part would change the weights silently), booleans (a bool array in a
    weight file is a mask or a flag, and reading ``True`` as ``1.0`` would
    hide a wrong key; PyTorch and NumPy files alike), dates, durations,
    strings, bytes, structured and object arrays.

    Examples
    --------
    >>> real_array(np.arange(3, dtype=np.int8), "key 'b'")
    array([0., 1., 2.])
    >>> real_array(np.array([2**60]), "key 'b'")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: key 'b' holds an integer beyond 2**53 in magnitude (first at index (0,): 1152921504606846976), which float64 cannot hold exactly; save the weights as floats
    """
    arr = np.asarray(value)
    _refuse_dtype(arr.dtype.kind, str(arr.dtype), what)
    finite = np.isfinite(arr)
    if not finite.all():
        raise GradproofInputError(
            f"{what} contains NaN or inf (first at index {_first(~finite)}); "
            "fix or regenerate the data"
        )
    with np.errstate(all="ignore"):  # an overflowing cast is refused below, not warned about
        out = arr.astype(np.float64)
        if arr.dtype.kind in "iu":
            lost = (arr > 2**53) | (arr < -(2**53))
            problem = "an integer beyond 2**53 in magnitude"
            effect = "which float64 cannot hold exactly; save the weights as floats"
        elif arr.dtype.itemsize > 8:  # longdouble: rounding to float64 is fine, overflow is not
            lost = np.abs(out.astype(arr.dtype) - arr) > np.abs(arr) * np.finfo(np.float64).eps
            problem = "a value beyond float64's range"
            effect = "which would become inf or lose its digits; rescale or save as float64"
        else:
            return out
    if lost.any():
        index = _first(lost)
        raise GradproofInputError(
            f"{what} holds {problem} (first at index {index}: {arr[index]!s}), {effect}"
        )
    return out


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


_KINDS = {
    "npy": "an .npy array",
    "npz": "an .npz archive",
    "torch": "a torch.save file",
    "pickle": "a Python pickle (gradproof never unpickles: that can run code)",
    "zip": "a zip archive of other files than arrays",
}


def _open(
    path: str | os.PathLike, what: str, hint: str, wanted: tuple[str, ...]
) -> tuple[str, BinaryIO]:
    """The regular file at ``path``, opened, if its content is one of the ``wanted`` kinds.

    The file type is checked before opening: opening a named pipe blocks
    and a device such as ``/dev/zero`` never ends.  The content's kind is
    read off its first bytes and, for a zip archive, its member names.
    """
    name = os.fspath(path)
    try:
        mode = os.stat(name).st_mode
        if stat.S_ISREG(mode):
            with open(name, "rb") as fp:
                kind = _kind(fp)
            fp = open(name, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except _READ_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc).split("\n")[0] or type(exc).__name__
        raise GradproofInputError(f"cannot read {what} {name!r}: {reason}; {hint}") from None
    if not stat.S_ISREG(mode):
        kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"))
        kinds += ((stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))
        found = next((k for test, k in kinds if test(mode)), "not a regular file")
        raise GradproofInputError(f"{what} {name!r} is {found}, not a file; {hint}")
    if kind not in wanted:
        fp.close()
        if kind is None:
            raise GradproofInputError(f"{what} {name!r} is not {_KINDS[wanted[0]]}; {hint}")
        suffix = {"npz": ".npz", "torch": ".pt"}.get(kind)
        fix = f"give it a name ending in {suffix}" if suffix and what == _WEIGHTS else hint
        raise GradproofInputError(
            f"{what} {name!r} is {_KINDS[kind]}, not {_KINDS[wanted[0]]}; {fix}"
        )
    return name, fp


def _kind(fp: BinaryIO) -> str | None:
    """What the open file holds: a key of ``_KINDS``, or ``None`` if none of them."""
    head = fp.read(len(npy_format.MAGIC_PREFIX))
    if head.startswith(npy_format.MAGIC_PREFIX):
        return "npy"
    if head.startswith(_PICKLE):
        return "pickle"
    if not head.startswith(_ZIP):
        return None
    with zipfile.ZipFile(fp) as archive:
        members = [m.filename for m in archive.infolist() if not m.is_dir()]
    if any(m == "data.pkl" or m.endswith("/data.pkl") for m in members):
        return "torch"
    return "npz" if all(m.endswith(".npy") for m in members) else "zip"


def _npy_header(fp: BinaryIO, stored: int, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype of the ``.npy`` array at ``fp``, checked against ``stored``.

    ``stored`` is the length of the whole ``.npy`` stream: the data after
    the header must be exactly as long as the shape and dtype declare.
    """
    readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
    try:
        shape, fortran, dtype = readers[npy_format.read_magic(fp)](fp)
    except (ValueError, KeyError, SyntaxError, *_READ_ERRORS):
        # NumPy's own message may advise allow_pickle=True; never pass that on.
        raise GradproofInputError(
            f"{what} has a damaged or unsupported .npy header; save it again with numpy"
        ) from None
    _refuse_dtype(dtype.kind, str(dtype), what)
    if any(n < 0 for n in shape):
        raise GradproofInputError(f"{what} has an invalid .npy header; save it again with numpy")
    declared, held = math.prod(shape) * dtype.itemsize, max(stored - fp.tell(), 0)
    if declared != held:
        raise GradproofInputError(
            f"{what} declares shape {shape} of {dtype} ({describe_bytes(declared)}) but stores "
            f"{describe_bytes(held)}; the file is truncated or damaged, save it again"
        )
    return shape, fortran, dtype


def _check_memory(what: str, arrays: dict[str, tuple[tuple[int, ...], int]]) -> None:
    """Refuse arrays (by key: shape, bytes per entry) whose bytes and float64 copy together
    exceed the memory available."""
    sizes = {key: math.prod(shape) * (itemsize + 8) for key, (shape, itemsize) in arrays.items()}
    largest = max(sizes, key=sizes.__getitem__)
    of = f"key {largest!r} of shape" if largest else "shape"
    check_cost(
        Cost(sum(sizes.values()), 0.0),
        f"loading {what} ({of} {arrays[largest][0]})",
        "use smaller arrays or a machine with more memory",
    )


def _npy_data(fp: BinaryIO, header: tuple[tuple[int, ...], bool, np.dtype]) -> np.ndarray:
    shape, fortran, dtype = header
    count = math.prod(shape)
    data = fp.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise EOFError("the file ended early")
    return np.frombuffer(data, dtype=dtype, count=count).reshape(
        shape, order="F" if fortran else "C"
    )


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read every array of an ``.npz`` file as float64, checked by :func:`real_array`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "w.npz"
    >>> np.savez(path, weight_hh=np.eye(2))
    >>> load_npz(path)["weight_hh"].dtype
    dtype('float64')
    """
    name, fp = _open(path, _WEIGHTS, _WEIGHTS_HINT, ("npz",))
    with fp:
        try:
            with zipfile.ZipFile(fp) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                headers = {}
                for member in members:
                    with archive.open(member) as stream:
                        what = f"{_WEIGHTS} key {member.filename[:-4]!r}"
                        headers[member.filename] = _npy_header(stream, member.file_size, what)
                _check_memory(
                    f"{_WEIGHTS} {name!r}",
                    {k[:-4]: (shape, dtype.itemsize) for k, (shape, _, dtype) in headers.items()},
                )
                arrays = {}
                for member in members:
                    with archive.open(member) as stream:
                        header = _npy_header(stream, member.file_size, member.filename)
                        arrays[member.filename[:-4]] = _npy_data(stream, header)
        except _READ_ERRORS as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise GradproofInputError(
                f"cannot read {_WEIGHTS} {name!r}: {reason}; {_WEIGHTS_HINT}"
            ) from None
    return {k: real_array(v, f"{_WEIGHTS} key {k!r}") for k, v in arrays.items()}


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read weights by extension: ``.pt``/``.pth`` with PyTorch, anything else as ``.npz``.

    Examples
    --------
    >>> load_state_dict("/")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: weights file '/' is a directory, not a file; write weights with numpy.savez (or torch.save to a .pt file)
    """
    if os.fspath(path).lower().endswith((".pt", ".pth")):
        from .torch_files import load_torch  # imports torch only when reading its files

        return load_torch(path)
    return load_npz(path)


def _load_npy(path: str | os.PathLike, label: str, hint: str) -> np.ndarray:
    name, fp = _open(path, label, hint, ("npy",))
    with fp:
        try:
            header = _npy_header(fp, os.fstat(fp.fileno()).st_size, f"{label} {name!r}")
            _check_memory(f"{label} {name!r}", {"": (header[0], header[2].itemsize)})
            arr = _npy_data(fp, header)
        except _READ_ERRORS as exc:
            raise GradproofInputError(f"cannot read {label} {name!r}: {exc}; {hint}") from None
    return real_array(arr, f"{label} {name!r}")


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
