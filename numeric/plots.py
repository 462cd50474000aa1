"""Figures for the flow and the sweep, written atomically and reproducibly.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never
through ``pyplot``, so no global state or display is involved.  Files carry
no timestamp (PDF ``CreationDate``, SVG ``Date``) and SVG ids use a fixed
salt, so the same data always gives the same bytes.  A file is written to a
temporary name beside the target and moved into place, so a failed run
leaves nothing behind.

matplotlib is imported by the functions that draw, not with this module:
:func:`check_plot_path` runs before any work, in commands that may not draw.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .errors import GradproofInputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["PLOT_FORMATS", "check_plot_path", "plot_flow", "plot_sweep", "save_figure"]

#: Output formats by file extension, with the metadata that removes timestamps.
PLOT_FORMATS = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Producer": None},
    "svg": {"Date": None},
}


def check_plot_path(path: str | os.PathLike) -> str:
    """The format of ``path`` from its extension, or a one-line error.

    Called before any work, so a typo in the name does not cost a long run.

    Examples
    --------
    >>> check_plot_path("flow.PDF")
    'pdf'
    """
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise GradproofInputError(
            f"cannot plot to {os.fspath(path)!r}: use a .png, .pdf or .svg file name"
        )
    return ext


def save_figure(fig: Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` to ``path`` atomically, without timestamps.

    Examples
    --------
    >>> import pathlib
    >>> from matplotlib.figure import Figure
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "empty.png"
    >>> save_figure(Figure(), path)
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fmt = check_plot_path(path)
    path = os.fspath(path)
    FigureCanvasAgg(fig)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=".gradproof-", suffix=f".{fmt}", dir=os.path.dirname(path) or "."
        )
    except OSError as exc:
        raise GradproofInputError(
            f"cannot write plot {path!r}: {exc.strerror}; choose a writable path"
        ) from exc
    try:
        with os.fdopen(fd, "wb") as out, matplotlib.rc_context({"svg.hashsalt": "gradproof"}):
            fig.savefig(out, format=fmt, metadata=PLOT_FORMATS[fmt])
        os.replace(tmp, path)
    except OSError as exc:
        raise GradproofInputError(
            f"cannot write plot {path!r}: {exc.strerror}; choose a writable path"
        ) from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def plot_flow(
    path: str | os.PathLike,
    log10_norm: Sequence[float],
    log10_bound: Sequence[float] | None,
    title: str,
) -> None:
    """``log10 ||ds_T/ds_{T-k}||_2`` against k, with the bound if one applies.

    Examples
    --------
    >>> import pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "flow.svg"
    >>> plot_flow(path, [-0.1, -0.25], [-0.05, -0.1], "example")
    >>> b"<svg" in path.read_bytes()
    True
    """
    from matplotlib.figure import Figure

    k = np.arange(1, len(log10_norm) + 1)
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(
        k, np.asarray(log10_norm, dtype=float), label=r"measured $\log_{10}\|ds_T/ds_{T-k}\|_2$"
    )
    if log10_bound is not None:
        ax.plot(
            k,
            np.asarray(log10_bound, dtype=float),
            "--",
            label=r"bound $k\,\log_{10}(\gamma\,\sigma_{\max}(W_{hh}))$",
        )
    ax.set_xlabel("k (steps back from T)")
    ax.set_ylabel(r"$\log_{10}$ spectral norm")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def plot_sweep(
    path: str | os.PathLike,
    gamma_sigma_max: Sequence[float],
    rates: np.ndarray,
    title: str,
) -> None:
    """Measured decay rate against ``gamma sigma_max``, one dot per seed.

    ``rates`` is ``(scales, seeds)`` in decades per step.  The bound's rate
    ``log10(gamma sigma_max)`` and the line ``gamma sigma_max = 1`` show
    where vanishing stops being guaranteed.

    Examples
    --------
    >>> import pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "sweep.pdf"
    >>> plot_sweep(path, [0.5, 1.5], np.array([[-0.4, -0.35], [0.1, 0.12]]), "example")
    >>> path.read_bytes()[:5]
    b'%PDF-'
    """
    from matplotlib.figure import Figure

    x = np.asarray(gamma_sigma_max, dtype=float)
    rates = np.asarray(rates, dtype=float)
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for column in rates.T:
        ax.plot(x, column, "o", color="C0", alpha=0.35, markersize=4)
    ax.plot(x, rates.mean(axis=1), "-", color="C0", label="measured decay rate (mean over seeds)")
    ax.plot(
        x, np.log10(x), "--", color="C1", label=r"bound rate $\log_{10}(\gamma\,\sigma_{\max})$"
    )
    ax.axvline(1.0, color="0.4", linewidth=1, label=r"$\gamma\,\sigma_{\max} = 1$")
    ax.axhline(0.0, color="0.7", linewidth=0.8)
    ax.set_xlabel(r"$\gamma\,\sigma_{\max}(W_{hh})$")
    ax.set_ylabel(r"decay rate ($\log_{10}$ per step)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)
