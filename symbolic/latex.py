"""Rendering derivations: a LaTeX ``align*`` block or document, Markdown, plain text.

:func:`render` turns a :class:`~symbolic.derivation.Derivation` into a LaTeX
``align*`` block (or, with :func:`document`, a standalone document that
``pdflatex`` compiles), Markdown with ``$$`` blocks for notebooks, or plain
text for terminals; expressions are printed by :mod:`symbolic.printers`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sympy as sp

from .derivation import Derivation
from .printers import latex, text

__all__ = ["PREAMBLE", "UNVERIFIED", "document", "render", "tex_text"]

#: Packages a standalone document needs.
PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[margin=1.8cm]{geometry}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{booktabs}
\allowdisplaybreaks
% Notes carry unbreakable inline math; let TeX stretch lines rather than overflow.
\setlength{\emergencystretch}{3em}
% A math bullet: the text bullet would pull in a bitmap (Type 3) font at 11pt.
\renewcommand{\labelitemi}{$\bullet$}
"""


_REL_LATEX = {"=": "=", "<=": r"\le", "<": "<", ":=": r"\mathrel{:=}", "=>": r"\;\Longrightarrow\;"}
_REL_TEXT = {"=": "=", "<=": "<=", "<": "<", ":=": ":=", "=>": "==>"}
_TEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "^": r"\^{}",
    "~": r"\~{}",
    "\\": r"\textbackslash{}",
}


def tex_text(words: str) -> str:
    """Escape prose for LaTeX, keeping ``$...$`` math spans as they are."""
    parts = re.split(r"(\$[^$]*\$)", words)
    out = []
    for part in parts:
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(part)
        else:
            out.append("".join(_TEX_SPECIAL.get(c, c) for c in part))
    return "".join(out)


_PLAIN_PATTERNS = (
    (r"\\t?frac\{([^}]*)\}\{([^}]*)\}", r"\1/(\2)"),
    (r"\\t?frac(\d)(\d)", r" \1/\2"),
    (r"\\operatorname\{([^}]*)\}", r"\1"),
    (r"\\[,;!]", " "),
    (r"\^\\top", "^T"),
    (r"_\{(\w+)\}", r"_\1"),
)
_PLAIN = {
    r"\odot": "⊙",
    r"\lVert": "||",
    r"\rVert": "||",
    r"\cdot": ".",
    r"\times": "x",
    r"\mathbb{R}": "R",
    r"\partial ": "d",
    r"\partial": "d",
    r"\le": "<=",
    r"\tfrac": "",
    r"\operatorname": "",
    r"\max": "max",
    r"\gamma": "gamma",
    r"\sigma": "sigma",
    r"\lambda": "lambda",
    r"\rho": "rho",
}


def _plain(words: str) -> str:
    """Prose for terminals: inline math with its commands spelled out."""
    words = words.replace("$", "")
    for pattern, plain in _PLAIN_PATTERNS:
        words = re.sub(pattern, plain, words)
    for command, plain in sorted(_PLAIN.items(), key=lambda kv: -len(kv[0])):
        words = words.replace(command, plain)
    words = re.sub(r"_\{(\w+)\}", r"_\1", words)
    return re.sub(r"\\([a-zA-Z]+)", r"\1", words)


#: The mark of a checkable step rendered without verification.
UNVERIFIED = "not verified: run numeric.verify.verify and pass its marks"

#: Longest right-hand side (in LaTeX source characters) kept on one line.
LINE_BUDGET = 260


def _split_sum(expr, bold: bool) -> str:
    """LaTeX of ``expr``; a long matrix sum is broken after each term, aligned."""
    whole = latex(expr, bold)
    if len(whole) <= LINE_BUDGET or not isinstance(expr, sp.MatAdd):
        return whole
    terms = [latex(term, bold) for term in expr.args]
    rest = "".join(
        r" \\" + "\n" + (rf"&\quad - {t[1:].lstrip()}" if t.startswith("-") else rf"&\quad + {t}")
        for t in terms[1:]
    )
    return terms[0] + rest


def render(
    derivation: Derivation,
    fmt: str = "latex",
    *,
    standalone: bool = False,
    bold: bool = False,
    marks: Sequence[str] | None = None,
) -> str:
    """Render a derivation.

    Parameters
    ----------
    derivation : Derivation
    fmt : {"latex", "markdown", "text"}
        LaTeX (an ``align*`` block with the justifications), Markdown with
        ``$$`` blocks for notebooks, or plain text for terminals.
    standalone : bool
        With ``fmt="latex"``, a complete document that ``pdflatex`` compiles.
    bold : bool
        Bold vectors and matrices.
    marks : sequence of str, optional
        One verification mark per step (e.g. ``"verified: exact, FD"``),
        printed beside the justification.

    Examples
    --------
    >>> import sympy as sp
    >>> from symbolic.derivation import Derivation, Step
    >>> x = sp.Symbol("x")
    >>> step = Step(sp.sin(x) ** 2 + sp.cos(x) ** 2, "=", 1, "Pythagoras")
    >>> print(render(Derivation("Identity", (step,)), "text"))
    Identity
    ========
    <BLANKLINE>
      sin(x)**2 + cos(x)**2 = 1    [Pythagoras]
    """
    if fmt not in ("latex", "markdown", "text"):
        raise ValueError(f"unknown format {fmt!r}; choose latex, markdown or text")
    if standalone and fmt != "latex":
        raise ValueError("--standalone only applies to the latex format")
    if marks is None:
        # Never print a checkable step unmarked, as if it had been checked.
        marks = [UNVERIFIED if step.claim is not None else "" for step in derivation.steps]
    marks = list(marks)
    if fmt == "text":
        return _render_text(derivation, marks)
    lines = []
    for step, mark in zip(derivation.steps, marks, strict=True):
        reason = tex_text(step.reason)
        tick = r"\checkmark\ " if mark.startswith("checked") else ""
        check = rf"\enspace{tick}\textit{{{tex_text(mark)}}}" if mark else ""
        lhs, rhs = latex(step.lhs, bold), _split_sum(step.rhs, bold)
        lines.append((rf"{lhs} &{_REL_LATEX[step.rel]} {rhs}", reason, check))
    # The justification goes on its own line under the step, so that long
    # right-hand sides keep the full width.
    if fmt == "markdown":
        # MathJax knows \text but not \parbox; keep \checkmark in math mode.
        rows = " \\\\\n".join(
            rf"{eq} \\" + "\n" + rf"&\qquad \text{{{why}}}{check}" for eq, why, check in lines
        )
        block = "\\begin{aligned}\n" + rows + "\n\\end{aligned}"
    else:
        rows = " \\\\[4pt]\n".join(
            rf"{eq} \\*"
            + "\n"
            + rf"&\qquad \parbox[t]{{0.62\linewidth}}{{\raggedright\small {why}{check}}}"
            for eq, why, check in lines
        )
        block = "\\begin{align*}\n" + rows + "\n\\end{align*}"
    notes = list(derivation.notes)
    if fmt == "markdown":
        body = [f"### {derivation.title}", ""]
        if derivation.intro:
            body += [derivation.intro, ""]
        body += ["$$", block, "$$", ""]
        body += [f"- {note}" for note in notes]
        return "\n".join(body).rstrip() + "\n"
    body = [rf"\section*{{{tex_text(derivation.title)}}}"]
    if derivation.intro:
        body.append(tex_text(derivation.intro))
    body.append(block)
    if notes:
        items = "\n".join(rf"  \item {tex_text(n)}" for n in notes)
        body.append("\\begin{itemize}\n" + items + "\n\\end{itemize}")
    tex = "\n\n".join(body) + "\n"
    return document(tex, derivation.title) if standalone else tex


def document(body: str, title: str) -> str:
    """Wrap LaTeX ``body`` into a complete document that ``pdflatex`` compiles.

    The PDF carries no trailer ID, so with ``SOURCE_DATE_EPOCH`` set the
    same source gives the same bytes.

    Examples
    --------
    >>> document("Hello.", "A title").splitlines()[0]
    '\\\\documentclass[11pt]{article}'
    """
    return (
        PREAMBLE
        + "\\ifdefined\\pdftrailerid\\pdftrailerid{}\\fi\n"
        + f"\\title{{{tex_text(title)}}}\n\\date{{}}\n"
        + "\\begin{document}\n\\maketitle\n\n"
        + body
        + "\n\\end{document}\n"
    )


def _render_text(derivation: Derivation, marks: Sequence[str]) -> str:
    out = [derivation.title, "=" * len(derivation.title), ""]
    if derivation.intro:
        out += [_plain(derivation.intro), ""]
    for step, mark in zip(derivation.steps, marks, strict=True):
        line = (
            f"  {text(step.lhs)} {_REL_TEXT[step.rel]} {text(step.rhs)}    [{_plain(step.reason)}]"
        )
        out.append(line + (f"  ({mark})" if mark else ""))
    if derivation.notes:
        out += [""] + [f"  * {_plain(note)}" for note in derivation.notes]
    return "\n".join(out)
