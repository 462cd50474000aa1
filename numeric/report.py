"""``gradproof report``: the verified derivations and measured figures as one document.

Everything is built in a scratch folder beside the output folder and moved
into place only when complete, so a failure leaves no half-written files.
The PDF is compiled with ``latexmk`` (or ``pdflatex``) when one is on PATH,
with ``SOURCE_DATE_EPOCH`` fixed so that the same inputs give the same bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from symbolic.activations import activation
from symbolic.derivation import Derivation
from symbolic.latex import document, render, tex_text
from symbolic.registry import family
from symbolic.rnn import elman_rnn

from .bounds import log10_bound
from .errors import GradproofInputError
from .flow import gradient_flow
from .gated_flow import plot_gated_flow
from .gridlstm.figures import compare_depth_flow, plot_depth_flow
from .plots import plot_sweep, save_figure
from .sweep import crossing, decay_rates
from .verify import verify

__all__ = ["Section", "SECTIONS", "write_report", "plot_rnn_flow"]

#: Seed of every random quantity in the report.
SEED = 0


@dataclass(frozen=True)
class Section:
    """One part of the report: derivations to verify and figures to draw.

    ``figures`` maps a file name to a function that draws it and returns
    its caption.
    """

    title: str
    derivations: Callable[[], Sequence[Derivation]]
    figures: tuple[tuple[str, Callable[[Path], str]], ...] = ()


def plot_rnn_flow(path: Path, hidden: int = 32, steps: int = 60) -> str:
    """Measured ``||dh_T/dh_{T-k}||_2`` against the bound, tanh RNN, three scales.

    ``sigma_max(W)`` is set below, at and above ``1/gamma``; returns the caption.
    """
    gamma = float(activation("tanh").gamma)
    rng = np.random.default_rng(SEED)
    # An orthogonal W has every singular value equal to sigma_max, so in the
    # near-linear regime (small inputs) the measured norm can follow the bound.
    base, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    U = 0.05 * rng.standard_normal((hidden, 4))
    inputs = rng.standard_normal((steps, 4))
    k = np.arange(1, steps + 1)
    fig = Figure(figsize=(6.2, 3.9), layout="constrained")
    ax = fig.add_subplot()
    for i, gs in enumerate((0.8, 1.0, 1.25)):
        W = gs / gamma * base
        params = {"W": W, "U": U, "b": np.zeros(hidden)}
        flow = gradient_flow(elman_rnn("tanh"), params, inputs)
        label = rf"$\gamma\sigma_{{\max}}(W) = {gs:g}$"
        ax.plot(k, flow.log10_norm, color=f"C{i}", label=f"measured, {label}")
        ax.plot(k, log10_bound(gs, steps), "--", color=f"C{i}", linewidth=1)
    ax.set_xlabel(r"$k$ (steps back from $T$)")
    ax.set_ylabel(r"$\log_{10} \|\partial h_T / \partial h_{T-k}\|_2$")
    ax.grid(alpha=0.3)
    ax.legend(title="dashed: bound $(\\gamma\\sigma_{\\max})^k$", fontsize=8, title_fontsize=8)
    save_figure(fig, path)
    return (
        f"Measured spectral norm of $\\partial h_T/\\partial h_{{T-k}}$ (solid) for a tanh RNN "
        f"with {hidden} units, $W$ a scaled random orthogonal matrix and small input weights, over "
        f"$T = {steps}$ steps of standard-normal input, against the bound "
        "$(\\gamma\\,\\sigma_{\\max}(W))^k$ (dashed), with $\\sigma_{\\max}(W)$ below, at and above "
        "$1/\\gamma$. Below $1/\\gamma$ the gradient vanishes as the bound forces; above it the "
        "bound permits growth, and the measured norm grows only until the units saturate."
    )


def plot_rnn_sweep(path: Path, hidden: int = 32, steps: int = 200, seeds: int = 3) -> str:
    """Measured decay rate against ``gamma sigma_max`` for a tanh RNN; returns the caption."""
    gamma = float(activation("tanh").gamma)
    scales = np.linspace(0.5, 1.5, 11) / gamma
    rates = decay_rates(
        elman_rnn("tanh"),
        "rnn",
        scales,
        steps=steps,
        seeds=seeds,
        hidden=hidden,
        input_size=4,
        init="orthogonal",
    )
    plot_sweep(path, gamma * scales, rates, f"tanh RNN, {hidden} units, T = {steps}")
    measured = crossing(gamma * scales, rates.mean(axis=1))
    where = "does not cross zero" if measured is None else f"crosses zero at ${measured:.2f}$"
    return (
        "Decay rate of $\\|\\partial h_T/\\partial h_{T-k}\\|_2$ (least-squares slope of its "
        f"$\\log_{{10}}$ per step, {seeds} seeds per scale, orthogonal $W$ scaled to "
        "$\\sigma_{\\max}$, small inputs) against $\\gamma\\,\\sigma_{\\max}(W)$, with the rate the "
        "bound allows, $\\log_{10}(\\gamma\\,\\sigma_{\\max})$, which crosses zero at 1. "
        f"The measured mean rate {where} in this range: below 1 vanishing is guaranteed, above it "
        "the biases and saturation keep $\\tanh' < 1$, so the gradient may still vanish."
    )


def plot_grid_depth(path: Path, hidden: int = 16, layers: int = 8, steps: int = 20) -> str:
    """Gradient flow over the (t, l) grid: Grid LSTM, stacked LSTM, stacked tanh RNN."""
    maps = compare_depth_flow(hidden, 4, layers, steps, scale=1.0, seed=SEED)
    plot_depth_flow(path, maps, f"hidden {hidden}, {layers} layers, T = {steps}, weight scale 1")
    slopes = ", ".join(f"{name} {m.depth_slope:.3f}" for name, m in maps.items())
    return (
        "Heat maps of $\\log_{10}\\|\\partial h^{D}_{T,L} / \\partial h^{D}_{t,l}\\|_2$ over the "
        "grid of time steps $t$ and layers $l$ for the 2D Grid LSTM, a stacked LSTM and a stacked "
        f"tanh RNN of the same width ({hidden}) and depth ({layers}), random weights at matched "
        "scale. Depth-wise decay at the last step, in decades per layer (slope of "
        f"$\\log_{{10}}\\|\\partial h^D_{{T,L}}/\\partial h^D_{{T,l}}\\|_2$): {slopes}."
    )


#: The report's sections, in order.
SECTIONS: list[Section] = [
    Section(
        "Q1: the vanishing gradient of a naive RNN",
        lambda: family("rnn").derive(activation="tanh"),
        (("rnn_flow.pdf", plot_rnn_flow), ("rnn_sweep.pdf", plot_rnn_sweep)),
    ),
    Section(
        "Why gated cells help: LSTM and GRU",
        lambda: family("lstm").derive(variant="pytorch") + family("gru").derive(variant="pytorch"),
        (("gated_flow.pdf", plot_gated_flow),),
    ),
    Section(
        "Q2: the 2D Grid LSTM along time and depth",
        lambda: (
            family("gridlstm").derive(variant="paper")
            + family("gridlstm").derive(variant="seed")[:2]
        ),
        (("grid_depth.pdf", plot_grid_depth),),
    ),
]


def _figure_tex(name: str, caption: str) -> str:
    return (
        "\\begin{figure}[htbp]\n\\centering\n"
        f"\\includegraphics[width=0.8\\linewidth]{{{name}}}\n"
        f"\\caption{{{caption}}}\n\\end{{figure}}\n"
    )


def report_tex(folder: Path, progress: Callable[[str], None] = lambda line: None) -> str:
    """Verify every derivation, draw every figure into ``folder``, return the LaTeX.

    ``progress`` receives one line per derivation and figure, as work starts.
    """
    parts = [
        "Every displayed step below was checked by the computer when this report was built: "
        "\\emph{exact} marks a symbolic identity checked against SymPy's elementwise Jacobian at "
        "small concrete sizes, \\emph{numeric} a check of the compiled expressions at random points "
        "(central differences along random directions, or the inequality at sampled weights).\n"
    ]
    for section in SECTIONS:
        parts.append(f"\\part*{{{tex_text(section.title)}}}\n")
        for derivation in section.derivations():
            progress(f"verifying: {derivation.title}")
            result = verify(derivation, seed=SEED)
            if not result.passed:
                raise RuntimeError(f"{derivation.title}: {'; '.join(result.failures())}")
            parts.append(render(derivation, "latex", marks=result.marks))
        for name, draw in section.figures:
            progress(f"measuring: {name}")
            parts.append(_figure_tex(name, draw(folder / name)))
    return document("\n".join(parts), "gradproof: gradients in recurrent networks, checked")


def _latex_command() -> list[str] | None:
    if shutil.which("latexmk"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    return None


def _compile_pdf(folder: Path, command: list[str]) -> None:
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    runs = 1 if command[0] == "latexmk" else 2
    for _ in range(runs):
        done = subprocess.run(
            [*command, "report.tex"], cwd=folder, env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            log = (
                (folder / "report.log").read_text(errors="replace")
                if (folder / "report.log").exists()
                else done.stdout
            )
            first = next(
                (line for line in log.splitlines() if line.startswith("!")), "see report.log"
            )
            raise RuntimeError(f"{command[0]} failed on report.tex: {first}")


def write_report(
    out: str | os.PathLike = "report", progress: Callable[[str], None] = lambda line: None
) -> list[str]:
    """Build the report into folder ``out``; return the lines to tell the user.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r"
    >>> lines = write_report(out)  # doctest: +SKIP
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GradproofInputError(f"--out {out} is a file, not a folder; choose another path")
    parent = out.resolve().parent
    if not os.access(parent if parent.exists() else Path.cwd(), os.W_OK):
        raise GradproofInputError(f"cannot write into {parent}; choose a writable --out")
    parent.mkdir(parents=True, exist_ok=True)
    command = _latex_command()
    with tempfile.TemporaryDirectory(prefix=".gradproof-", dir=parent) as scratch:
        folder = Path(scratch)
        (folder / "report.tex").write_text(report_tex(folder, progress))
        products = ["report.tex", *(n for s in SECTIONS for n, _ in s.figures)]
        if command is not None:
            progress(f"compiling: report.pdf with {command[0]}")
            _compile_pdf(folder, command)
            products.append("report.pdf")
        out.mkdir(exist_ok=True)
        for name in products:
            os.replace(folder / name, out / name)
    lines = [f"wrote {out / name}" for name in products]
    if command is None:
        lines.append(
            "no LaTeX engine (latexmk or pdflatex) on PATH: install TeX Live for report.pdf"
        )
    return lines
