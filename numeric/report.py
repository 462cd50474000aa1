"""``gradproof report``: the verified derivations and measured figures as one document.

Everything is built in a scratch folder beside the output folder and moved
into place only when complete, once every target is known to take its file,
so a failure leaves no half-written files; files get the umask's permissions.
The PDF is compiled with ``latexmk`` (or ``pdflatex``) when one is on PATH,
with ``SOURCE_DATE_EPOCH`` fixed so that the same inputs give the same bytes.

The work is shared out over the machine's cores: while this process derives,
verifies and renders the sections in order (each derivation verified once),
the figures are measured and drawn by worker processes, one task per section
(so a cell two figures share is compiled once).  A worker is a fresh Python
process with one BLAS thread: the figures multiply many small matrices, where
BLAS threads only contend for the cores.  A figure depends on nothing but its
seed, so where it is drawn changes no byte; the document is assembled in
order.  On a single core, and for figure functions that cannot be sent to
another process (a local function), figures are drawn here, in order.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symbolic.activations import activation
from symbolic.answers import answer
from symbolic.derivation import Derivation
from symbolic.gridlstm.diagram import block_tikz
from symbolic.latex import PREAMBLE, render, tex_text
from symbolic.lstm.peephole import peephole_carousel_derivation
from symbolic.references import bibtex, cite
from symbolic.registry import family
from symbolic.regularizer import regularizer_derivation
from symbolic.rnn import elman_rnn

from .bounds import log10_bound
from .case_study import case_study_opening, plot_trained_flow
from .errors import GradproofInputError
from .figure_workers import figure_workers
from .flow import gradient_flow
from .gridlstm.figures import peephole_opening, plot_grid_peepholes
from .outputs import written_folder
from .plots import FIGURE_WIDTH, LABEL_PT, SMALL_PT, plot_sweep, save_figure, style_axes
from .sweep import crossing, decay_rates
from .verify import verify

__all__ = [
    "SECTIONS",
    "Section",
    "plot_gated",
    "plot_grid_depth",
    "plot_rnn_flow",
    "plot_rnn_sweep",
    "report_tex",
    "write_report",
]

#: Seed of every random quantity in the report.
SEED = 0


@dataclass(frozen=True)
class Section:
    """One part of the report: derivations to verify and figures to draw.

    ``figures`` maps a file name to a function that draws it and returns
    its caption; a module-level function, so that a worker process can run
    it (any other is run in the building process).
    """

    title: str
    derivations: Callable[[], Sequence[Derivation]]
    figures: tuple[tuple[str, Callable[[Path], str]], ...] = ()
    opening: Callable[[], str] | None = None


def plot_rnn_flow(path: Path, hidden: int = 32, steps: int = 60) -> str:
    """Measured ``||dh_T/dh_{T-k}||_2`` against the bound, tanh RNN, three scales.

    ``sigma_max(W)`` is set below, at and above ``1/gamma``; returns the caption.
    """
    from matplotlib.figure import Figure

    gamma = float(activation("tanh").gamma)
    rng = np.random.default_rng(SEED)
    # An orthogonal W has every singular value equal to sigma_max, so in the
    # near-linear regime (small inputs) the measured norm can follow the bound.
    base, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    U = 0.05 * rng.standard_normal((hidden, 4))
    inputs = rng.standard_normal((steps, 4))
    k = np.arange(1, steps + 1)
    fig = Figure(figsize=(FIGURE_WIDTH, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for i, gs in enumerate((0.8, 1.0, 1.25)):
        W = gs / gamma * base
        params = {"W": W, "U": U, "b": np.zeros(hidden)}
        flow = gradient_flow(elman_rnn("tanh"), params, inputs)
        label = rf"$\gamma\sigma_{{\max}}(W) = {gs:g}$"
        ax.plot(k, flow.log10_norm, color=f"C{i}", label=f"measured, {label}")
        ax.plot(k, log10_bound(gs, steps), "--", color=f"C{i}", linewidth=1)
    ax.set_xlabel(r"$k$ (steps back from $T$)", fontsize=LABEL_PT)
    ax.set_ylabel(r"$\log_{10} \|\partial h_T / \partial h_{T-k}\|_2$", fontsize=LABEL_PT)
    style_axes(ax, integer_x=True)
    ax.grid(alpha=0.3)
    ax.legend(
        title="dashed: bound $(\\gamma\\sigma_{\\max})^k$",
        fontsize=SMALL_PT,
        title_fontsize=SMALL_PT,
    )
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
        f"$\\log_{{10}}$ per step, mean of {seeds} random draws of the weights and inputs per scale, orthogonal $W$ scaled to "
        "$\\sigma_{\\max}$, small inputs) against $\\gamma\\,\\sigma_{\\max}(W)$, with the rate the "
        "bound allows, $\\log_{10}(\\gamma\\,\\sigma_{\\max})$, which crosses zero at 1. "
        f"The measured mean rate {where} in this range: below 1 vanishing is guaranteed, above it "
        "the biases and saturation keep $\\tanh' < 1$, so the gradient may still vanish."
    )


def plot_gated(path: Path) -> str:
    """Measured flow of the tanh RNN, the LSTMs and the GRU on matched weights.

    :func:`numeric.gated_flow.plot_gated_flow` at its defaults; returns the caption.
    """
    from .gated_flow import plot_gated_flow  # matplotlib: where the figure is drawn

    return plot_gated_flow(path)


def plot_grid_depth(path: Path, hidden: int = 16, layers: int = 8, steps: int = 20) -> str:
    """Gradient flow over the (t, l) grid: Grid LSTM, stacked LSTM, stacked tanh RNN."""
    from .gridlstm.figures import COMPARED, compare_depth_flow, plot_depth_flow

    maps = compare_depth_flow(hidden, 4, layers, steps, scale=1.0, seed=SEED)
    plot_depth_flow(path, maps, f"hidden {hidden}, {layers} layers, T = {steps}, weight scale 1")
    slopes = "; ".join(f"{COMPARED[name]}: {m.depth_decay}" for name, m in maps.items())
    return (
        "Heat maps of $\\log_{10}\\|\\partial h^{D}_{T,L} / \\partial h^{D}_{t,l}\\|_2$ over the "
        "grid of time steps $t$ and layers $l$ for the 2D Grid LSTM, a stacked LSTM and a stacked "
        f"tanh RNN of the same width ({hidden}) and depth ({layers}), random weights at matched "
        "scale. At the last step, against the layer index (a decade is a factor of 10; "
        f"'decays' means smaller further down from the output): {slopes}."
    )


def _block_figure() -> str:
    return (
        "\\begin{figure}[htbp]\n\\centering\n"
        + block_tikz()
        + "\n\\caption{One block of the 2D Grid LSTM (Kalchbrenner, Danihelka and Graves 2016, "
        "Sec. 3). Both LSTMs read the shared hidden vector $H$; the time LSTM carries its memory "
        "$m^{T}$ along time, the depth LSTM its memory $m^{D}$ up the layers, each through its "
        "own forget gate.}\n\\label{fig:grid-block}\n\\end{figure}\n"
    )


#: The report's sections, in order.
SECTIONS: list[Section] = [
    Section(
        "Why the gradients of a naive RNN vanish",
        lambda: answer("q1")[:1] + family("rnn").derive(activation="tanh"),
        (("rnn_flow.pdf", plot_rnn_flow), ("rnn_sweep.pdf", plot_rnn_sweep)),
    ),
    Section(
        "Why gated cells help: LSTM and GRU",
        lambda: family("lstm").derive(variant="pytorch") + family("gru").derive(variant="pytorch"),
        (("gated_flow.pdf", plot_gated),),
        lambda: (
            "Gated cells carry part of the state through an elementwise product with a gate "
            "instead of through a weight matrix and a squashing function: the LSTM "
            "(Hochreiter and Schmidhuber 1997) with the forget gate of Gers, Schmidhuber and "
            "Cummins 2000, and the GRU (Cho et al. 2014). The derivations below show each block "
            "of their step Jacobians and what the gates change in the chain.\n"
        ),
    ),
    Section(
        "The 2D Grid LSTM along time and depth",
        lambda: (
            answer("q2")[:1]
            + family("gridlstm").derive(variant="paper")
            + family("gridlstm").derive(variant="stacked")[:2]
        ),
        (("grid_depth.pdf", plot_grid_depth),),
        _block_figure,
    ),
    Section(
        "What peepholes change along time and depth",
        lambda: [peephole_carousel_derivation()],
        (("grid_peepholes.pdf", plot_grid_peepholes),),
        peephole_opening,
    ),
    Section(
        "Trained networks on a long-range task",
        lambda: [regularizer_derivation(elman_rnn("tanh"))],
        (("trained_flow.pdf", plot_trained_flow),),
        case_study_opening,
    ),
]


def _figure_tex(name: str, caption: str) -> str:
    return (
        "\\begin{figure}[htbp]\n\\centering\n"
        f"\\includegraphics[width=0.8\\linewidth]{{{name}}}\n"
        f"\\caption{{{caption}}}\n\\end{{figure}}\n"
    )


@dataclass(frozen=True)
class TitleBlock:
    """The report's title, author and date, and its paper size (``a4`` or ``letter``).

    The date is empty unless given, so that builds stay byte-identical.
    """

    title: str = "Vanishing and exploding gradients in recurrent networks, checked"
    author: str = "Derivations and measurements by gradproof"
    date: str = ""
    paper: str = "a4"

    def preamble(self) -> str:
        """The document's preamble, title block included (``\\begin{document}`` excluded)."""
        head = PREAMBLE.replace(
            "\\documentclass[11pt]{article}", f"\\documentclass[11pt,{self.paper}paper]{{article}}"
        )
        return (
            head
            + "\\usepackage{tikz}\n"
            + "\\ifdefined\\pdftrailerid\\pdftrailerid{}\\fi\n"
            + f"\\title{{{tex_text(self.title)}}}\n\\author{{{tex_text(self.author)}}}\n"
            + f"\\date{{{tex_text(self.date)}}}\n"
        )


#: Papers ``--paper`` accepts.
PAPERS = ("a4", "letter")


def _numbered(rendered: str) -> str:
    """A derivation as a numbered subsection of the report, citations linked to the list."""
    return cite(rendered.replace("\\section*{\\raggedright ", "\\subsection{", 1))


def report_tex(
    folder: Path,
    progress: Callable[[str], None] = lambda line: None,
    title: TitleBlock = TitleBlock(),
) -> str:
    """Verify every derivation, draw every figure into ``folder``, return the LaTeX.

    ``progress`` receives one line per derivation and figure, as work starts.
    Every derivation is verified once, here, section after section, while
    worker processes draw the figures; then the figures no worker has
    started are drawn here, and the rest collected.  Sections
    and derivations are numbered, equations labelled, and citations in words
    point into ``refs.bib`` (:func:`symbolic.references.bibtex`).
    """
    parts = [
        "Every displayed step below was checked by the computer when this report was built: "
        "\\emph{exact} marks a symbolic identity checked against SymPy's elementwise Jacobian at "
        "small concrete sizes, \\emph{numeric} a check of the compiled expressions at random points "
        "(central differences along random directions, or the inequality at sampled weights).\n"
    ]
    with figure_workers(folder, [s.figures for s in SECTIONS], progress) as drawing:
        sections, captions = [], {}
        for i, section in enumerate(SECTIONS):
            rendered = [f"\\section{{{tex_text(section.title)}}}\n"]
            if section.opening is not None:
                rendered.append(section.opening())
            for derivation in section.derivations():
                progress(f"verifying: {derivation.title}")
                result = verify(derivation, seed=SEED)
                if not result.passed:
                    raise RuntimeError(f"{derivation.title}: {'; '.join(result.failures())}")
                rendered.append(_numbered(render(derivation, "latex", marks=result.marks)))
            sections.append(rendered)
            if i not in drawing:
                captions[i] = []
                for name, draw in section.figures:
                    progress(f"measuring: {name}")
                    captions[i].append(draw(folder / name))
        for i in reversed(list(drawing)):  # the workers started from the first
            captions[i] = drawing[i]()
    for i, (section, rendered) in enumerate(zip(SECTIONS, sections, strict=True)):
        parts += rendered
        parts += [
            _figure_tex(name, caption)
            for (name, _), caption in zip(section.figures, captions[i], strict=True)
        ]
    return (
        title.preamble()
        + "\\begin{document}\n\\maketitle\n\n"
        + cite("\n".join(parts))
        + "\n\\bibliographystyle{plain}\n\\bibliography{refs}\n\\end{document}\n"
    )


def _latex_command() -> list[str] | None:
    if shutil.which("latexmk"):
        return ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-quiet"]
    if shutil.which("pdflatex"):
        return ["pdflatex", "-interaction=nonstopmode", "-halt-on-error"]
    return None


def _compile_pdf(folder: Path, command: list[str]) -> None:
    """latexmk runs pdflatex and bibtex as often as needed; bare pdflatex needs bibtex between."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")
    if command[0] == "latexmk":
        runs = [[*command, "report.tex"]]
    else:
        bib = [["bibtex", "report"]] if shutil.which("bibtex") else []
        runs = [[*command, "report.tex"], *bib, [*command, "report.tex"], [*command, "report.tex"]]
    for run in runs:
        done = subprocess.run(run, cwd=folder, env=env, capture_output=True, text=True)
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
    out: str | os.PathLike = "report",
    progress: Callable[[str], None] = lambda line: None,
    title: TitleBlock = TitleBlock(),
) -> list[str]:
    """Build the report into folder ``out``; return the lines to tell the user.

    Everything is built in a scratch folder and renamed into ``out`` only
    when complete (:func:`numeric.outputs.written_folder`), so a failure
    leaves ``out`` as it was; files get the umask's permissions.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "r"
    >>> lines = write_report(out)  # doctest: +SKIP
    """
    out = Path(out)
    command = _latex_command()
    products = ["report.tex", "refs.bib", *(n for s in SECTIONS for n, _ in s.figures)]
    if command is not None:
        products.append("report.pdf")
    if out.exists() and not out.is_dir():
        raise GradproofInputError(f"--out {out} is a file, not a folder; choose another path")
    with written_folder(out, products, "report file") as folder:
        (folder / "report.tex").write_text(report_tex(folder, progress, title))
        (folder / "refs.bib").write_text(bibtex())
        if command is not None:
            progress(f"compiling: report.pdf with {command[0]}")
            _compile_pdf(folder, command)
    lines = [f"wrote {out / name}" for name in products]
    if command is None:
        lines.append(
            "no LaTeX engine (latexmk or pdflatex) on PATH: install TeX Live for report.pdf"
        )
    return lines
