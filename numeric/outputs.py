"""Files and JSON the command line writes: whole or not at all, with the umask's permissions.

A file is written under a scratch name in the folder it goes to (so on the
same file system) and renamed onto its name with ``os.replace``, atomic on
POSIX, only when it is complete: on an error the scratch file is removed and
a file already there is left as it was.  The scratch file is created as
``open(path, "w")`` creates a file, so it gets the permissions the umask
leaves of ``0o666`` (``tempfile.mkstemp`` would give ``0o600``).

:func:`check_output` refuses, before any work, a path where no file can be
written: a folder, a missing folder, a folder without write permission, a
device.  :func:`json_line` writes JSON without ``NaN`` or ``Infinity``,
which strict parsers refuse: a non-finite number becomes ``null``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from .errors import GradproofInputError

__all__ = [
    "check_folder",
    "check_output",
    "json_line",
    "put_in_place",
    "scratch_file",
    "written",
    "written_folder",
]

#: Start of every scratch name: hidden, and recognisable as this program's.
SCRATCH_PREFIX = ".gradproof-"


def scratch_file(folder: str | os.PathLike) -> Path:
    """A new empty file in ``folder`` with a fresh hidden name, made as ``open`` makes files.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = scratch_file(folder)
    >>> path.name.startswith(".gradproof-"), path.stat().st_size
    (True, 0)
    >>> old = os.umask(0o027)
    >>> oct(scratch_file(folder).stat().st_mode & 0o777)
    '0o640'
    >>> _ = os.umask(old)
    """
    while True:
        path = Path(folder, SCRATCH_PREFIX + secrets.token_hex(8))
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # 2**64 names: only by a very long chance
            continue
        return path


def _refusal(what: str, path: str | os.PathLike, reason: str) -> GradproofInputError:
    return GradproofInputError(f"cannot write {what} {os.fspath(path)!r}: {reason}")


def _check_target(target: Path, what: str, given: str | os.PathLike) -> None:
    """Refuse a target that is a folder or not a regular file (a device, a pipe)."""
    try:
        mode = target.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # a missing folder: said by the caller
        return
    except OSError as exc:
        raise _refusal(what, given, f"{exc.strerror}; choose another path") from None
    if stat.S_ISDIR(mode):
        raise _refusal(what, given, "it is a folder; give a file name")
    if not stat.S_ISREG(mode):
        raise _refusal(what, given, "it is not a regular file; choose another path")


def check_output(path: str | os.PathLike, what: str = "file") -> Path:
    """Refuse, before any work, a path where a file cannot be written; return its real path.

    A symbolic link is followed (its target is written, as ``open`` would).
    The folder must exist and take a new file (a scratch file is made and
    removed to know it); a file there is fine: it will be replaced.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_output(folder / "plot.png", "plot").name
    'plot.png'
    >>> check_output(folder, "plot")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cannot write plot '...': it is a folder; give a file name
    >>> check_output(folder / "missing" / "plot.png", "plot")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cannot write plot '...': folder '...missing' does not exist; create it or choose another path
    """
    target = Path(os.path.realpath(path))
    _check_target(target, what, path)
    if not target.parent.is_dir():
        folder = os.fspath(Path(path).parent)
        if target.parent.exists():
            raise _refusal(what, path, f"{folder!r} is a file, not a folder; choose another path")
        raise _refusal(
            what, path, f"folder {folder!r} does not exist; create it or choose another path"
        )
    try:
        scratch_file(target.parent).unlink()
    except OSError as exc:
        raise _refusal(what, path, f"{exc.strerror}; choose a writable path") from None
    return target


@contextlib.contextmanager
def written(path: str | os.PathLike, what: str = "file") -> Iterator[Path]:
    """A scratch path to write ``path``'s contents to; it becomes ``path`` if the block succeeds.

    On an error in the block, or an ``OSError`` (a full disk), the scratch
    file is removed and ``path`` is as it was; an ``OSError`` is answered as
    a one-line :class:`~numeric.errors.GradproofInputError` naming ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with written(path) as scratch:
    ...     _ = scratch.write_text("whole")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('whole', ['out.txt'])
    >>> with written(path) as scratch:
    ...     _ = scratch.write_text("half")
    ...     raise RuntimeError("the drawing failed")
    Traceback (most recent call last):
    ...
    RuntimeError: the drawing failed
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('whole', ['out.txt'])
    """
    target = check_output(path, what)
    scratch = scratch_file(target.parent)
    try:
        yield scratch
        os.replace(scratch, target)
    except OSError as exc:
        raise _refusal(what, path, f"{exc.strerror or exc}; choose a writable path") from None
    finally:
        scratch.unlink(missing_ok=True)


def put_in_place(moves: Sequence[tuple[Path, Path]], what: str = "file") -> None:
    """Rename each ``(scratch, target)``, once every target is known to take its file.

    Every target is checked first (none is a folder or a device), so that a
    target in the way is refused before anything is moved.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> a, b = scratch_file(folder), scratch_file(folder)
    >>> (folder / "b.txt").mkdir()
    >>> put_in_place([(a, folder / "a.txt"), (b, folder / "b.txt")])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cannot write file '.../b.txt': it is a folder; give a file name
    >>> (folder / "a.txt").exists()
    False
    """
    for _, target in moves:
        _check_target(target, what, target)
    for scratch, target in moves:
        try:
            os.replace(scratch, target)
        except OSError as exc:
            raise _refusal(what, target, f"{exc.strerror or exc}") from None


def check_folder(out: str | os.PathLike, names: Sequence[str], what: str = "file") -> Path:
    """Refuse, before any work, a folder ``out`` that cannot take the files ``names``.

    ``out`` may be missing (it is made at the end); returns the folder a
    scratch folder goes in: ``out``, or the nearest folder above it that
    exists, so that the files are renamed into place on one file system.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_folder(folder / "a" / "b", ["f.txt"]) == folder
    True
    >>> (folder / "taken").write_text("")
    0
    >>> check_folder(folder / "taken" / "b", ["f.txt"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cannot write into '...taken/b': '...taken' is a file, not a folder; choose another path
    """
    out = Path(out)
    home = out
    while not home.exists() and home != home.parent:
        home = home.parent
    if not home.is_dir():
        raise GradproofInputError(
            f"cannot write into {os.fspath(out)!r}: {os.fspath(home)!r} is a file, not a "
            "folder; choose another path"
        )
    try:
        scratch_file(home).unlink()
    except OSError as exc:
        raise GradproofInputError(
            f"cannot write into {os.fspath(home)!r}: {exc.strerror}; choose a writable path"
        ) from None
    if home == out:
        for name in names:
            check_output(out / name, what)
    return home


@contextlib.contextmanager
def written_folder(
    out: str | os.PathLike, names: Sequence[str], what: str = "file"
) -> Iterator[Path]:
    """A scratch folder to make the files ``names`` in; they go into ``out`` if the block succeeds.

    Checked first (:func:`check_folder`); ``out`` and its missing parents
    are made only at the end.  Messages of errors in the block name ``out``,
    never the scratch folder, which is removed whatever happens.

    Examples
    --------
    >>> out = Path(tempfile.mkdtemp()) / "report"
    >>> with written_folder(out, ["a.txt"]) as folder:
    ...     _ = (folder / "a.txt").write_text("whole")
    ...     _ = (folder / "a.log").write_text("left behind")
    >>> sorted(p.name for p in out.iterdir())
    ['a.txt']
    """
    out = Path(out)
    home = check_folder(out, names, what)
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX, dir=home) as scratch:
        try:
            yield Path(scratch)
        except OSError as exc:  # a full disk
            raise GradproofInputError(
                f"cannot write into {os.fspath(out)!r}: {exc.strerror or exc}"
            ) from None
        except GradproofInputError as exc:  # a file of the block that could not be written
            raise GradproofInputError(str(exc).replace(scratch, os.fspath(out))) from None
        out.mkdir(parents=True, exist_ok=True)
        put_in_place([(Path(scratch, name), out / name) for name in names], what)


def _finite(value: object) -> object:
    """``value`` with every non-finite float (NaN, +-inf) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist"):  # a NumPy array or scalar
        return _finite(value.tolist())
    return value


def json_line(value: object) -> str:
    """``value`` as one line of strict JSON: non-finite numbers become ``null``.

    Examples
    --------
    >>> json_line({"sigma_max": float("inf"), "log10_norm": [-1.5, float("-inf")], "n": 3})
    '{"sigma_max": null, "log10_norm": [-1.5, null], "n": 3}'
    >>> import numpy as np
    >>> json_line({"bound": np.array([1.0, np.nan])})
    '{"bound": [1.0, null]}'
    """
    return json.dumps(_finite(value), allow_nan=False)
