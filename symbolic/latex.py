"""Rendering derivations: a LaTeX fragment or document, Markdown, plain text.

:func:`render` turns a :class:`~symbolic.derivation.Derivation` into a LaTeX
fragment (an ``align`` environment, one numbered and labelled equation per
step, that compiles with ``amsmath`` and ``amssymb`` alone and breaks across
pages between steps; with :func:`document`, a standalone document that
``pdflatex`` compiles), Markdown with ``$$`` blocks short enough for MathJax,
or plain text for terminals.  Long right-hand sides are broken into rows
(:func:`rhs_rows`) that fit the text width of a default ``article``, by an
estimate of their width (:func:`math_width`); expressions are printed by
:mod:`symbolic.printers`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .derivation import Derivation
from .linebreak import LHS_WIDTH, ROW_WIDTH, math_width, rhs_rows, widest_unbreakable
from .printers import latex, text

__all__ = [
    "MARKDOWN_BLOCK",
    "PREAMBLE",
    "UNVERIFIED",
    "document",
    "equation_label",
    "render",
    "tex_text",
]

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
#: Symbols of the plain-text printer (:func:`symbolic.printers.text`) and Greek
#: letters that prose may carry: pdflatex has no glyph for them outside math.
_TEX_SYMBOLS = {
    "⊙": r"$\odot$",
    "√": r"$\surd$",
    "∞": r"$\infty$",
    "≠": r"$\ne$",
    "≤": r"$\le$",
    "≥": r"$\ge$",
    "·": r"$\cdot$",
    "×": r"$\times$",
    "→": r"$\to$",
    "∂": r"$\partial$",
}
_GREEK = "alpha beta gamma delta epsilon theta lambda mu pi rho sigma phi omega"
_TEX_SYMBOLS.update(
    (letter, rf"$\{name}$") for letter, name in zip("αβγδεθλμπρσφω", _GREEK.split(), strict=True)
)


def tex_text(words: str) -> str:
    """Escape prose for LaTeX, keeping ``$...$`` math spans as they are.

    Math symbols written out in the prose (``⊙``, ``√``, Greek letters) are
    set as math, so that a document with no package for them compiles.

    Examples
    --------
    >>> print(tex_text("weight_ih, 100% of h' = tanh(g ⊙ m), and $x_t$"))
    weight\\_ih, 100\\% of h' = tanh(g $\\odot$ m), and $x_t$
    """
    parts = re.split(r"(\$[^$]*\$)", words)
    out = []
    for part in parts:
        if part.startswith("$") and part.endswith("$") and len(part) > 1:
            out.append(part)
        else:
            out.append("".join(_TEX_SPECIAL.get(c, _TEX_SYMBOLS.get(c, c)) for c in part))
    return "".join(out)


_PLAIN_PATTERNS = (
    (r"\\t?frac\{([^}]*)\}\{(\w+)\}", r"\1/\2"),
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
    r"\ldots": "...",
    r"\cdots": "...",
    r"\dots": "...",
    r"\ne": "≠",
    r"\infty": "∞",
    r"\to": "→",
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


#: Longest ``$$`` block of Markdown, in characters.  MathJax 3 gives up on a
#: formula once expanding a macro takes its buffer past 5,120 characters
#: (``maxBuffer``), so a derivation is shown as several blocks far below that.
MARKDOWN_BLOCK = 2000

#: Longest line of a justification in Markdown, in characters: MathJax does not
#: wrap text inside a formula, so a long one is set as several rows.
MARKDOWN_TEXT = 80

_SMALL_WORDS = frozenset({"a", "an", "and", "for", "in", "of", "the", "to"})


def equation_label(title: str, step: int) -> str:
    """The ``\\label`` of step ``step`` (counted from 1) of the derivation titled ``title``.

    The title's words without citations and small words: deterministic, and
    unique as long as titles are.

    Examples
    --------
    >>> equation_label("Norm bound for the Elman RNN (tanh) (Pascanu, Mikolov and Bengio 2013)", 3)
    'eq:norm-bound-elman-rnn-tanh-3'
    """
    title = re.sub(r"\([^()]*\d{4}\)", " ", title.replace("'", ""))
    words = [w for w in re.findall(r"[a-z0-9]+", title.lower()) if w not in _SMALL_WORDS]
    return "eq:" + "-".join([*words, str(step)])


def _layout(derivation: Derivation, bold: bool) -> list[list[str]]:
    """Every step's mathematics as ``&``-aligned rows that fit :data:`ROW_WIDTH`.

    A left-hand side stays in the left column if that column, as wide as the
    widest left-hand side kept there, leaves every row its room; otherwise,
    as does every implication's premise, it starts its own row on the right.
    """
    steps = derivation.steps
    lhs = [latex(s.lhs, bold) for s in steps]
    lhs_w = [math_width(t) for t in lhs]
    rhs = [latex(s.rhs, bold) for s in steps]
    atom_w = [widest_unbreakable(t) for t in rhs]

    def own_row(k: int, column: float) -> bool:
        return lhs_w[k] > column or steps[k].rel == "=>"

    def room(column: float) -> bool:
        """Whether a left column ``column`` wide leaves every row that can fit its room."""
        needs = [
            max(atom_w[k] + 30.0, lhs_w[k] if own_row(k, column) else 0.0)
            for k in range(len(steps))
        ]
        return all(column + need <= ROW_WIDTH for need in needs if need <= ROW_WIDTH)

    kept = [w for k, w in enumerate(lhs_w) if w <= LHS_WIDTH and steps[k].rel != "=>"]
    column = max(c for c in [0.0, *kept] if room(c) or c == 0.0)
    avail = ROW_WIDTH - column
    out = []
    for k, step in enumerate(steps):
        rel = _REL_LATEX[step.rel]
        if not own_row(k, column):
            first, *rows = rhs_rows(rhs[k], avail - math_width(rel), avail)
            out.append([f"{lhs[k]} &{rel} {first}", *(f"&{row}" for row in rows)])
        elif math_width(whole := f"{lhs[k]} {rel} {rhs[k]}") <= avail:
            out.append([f"&{whole}"])
        else:  # the left-hand side on its own row, the relation under it
            first, *rows = rhs_rows(rhs[k], avail - 10.0 - math_width(rel), avail - 10.0)
            out.append(
                [f"&{lhs[k]}", rf"&\quad {rel} {first}", *(rf"&\quad {row}" for row in rows)]
            )
    return out


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
        LaTeX (an ``align`` environment, one numbered and labelled equation
        per step (:func:`equation_label`), with the justifications; it
        compiles with the packages ``amsmath`` and ``amssymb`` alone and may
        break across pages between steps), Markdown with ``$$`` blocks short
        enough for MathJax (:data:`MARKDOWN_BLOCK`), or plain text for
        terminals.  Long right-hand sides are broken into rows that fit the
        text width of a default ``article`` (:data:`ROW_WIDTH`).
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
      sin(x)^2 + cos(x)^2 = 1    [Pythagoras]
    >>> print(render(Derivation("Identity", (step,)), "markdown"))
    ### Identity
    <BLANKLINE>
    $$
    \\begin{aligned}
    \\sin^{2}{\\left(x \\right)} + \\cos^{2}{\\left(x \\right)} &= 1 \\\\
    &\\qquad \\text{Pythagoras}
    \\end{aligned}
    $$
    <BLANKLINE>
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
    steps = []
    for step, mark, rows in zip(derivation.steps, marks, _layout(derivation, bold), strict=True):
        tick = r"\checkmark\ " if mark.startswith("checked") else ""
        check = rf"\enspace{tick}\textit{{{tex_text(mark)}}}" if mark else ""
        steps.append((rows, tex_text(step.reason), check))
    if fmt == "markdown":
        return _render_markdown(derivation, steps)
    tex = _render_latex(derivation, steps)
    return document(tex, derivation.title) if standalone else tex


def _render_markdown(derivation: Derivation, steps: list[tuple[list[str], str, str]]) -> str:
    # MathJax knows \text but not \parbox: a long justification is wrapped by
    # hand, one \text per row; \checkmark stays in math mode.
    units = []
    for rows, why, check in steps:
        lines = [rf"&\qquad \text{{{line}}}" for line in _wrap(why, MARKDOWN_TEXT)]
        units.append([*rows, *lines[:-1], lines[-1] + check])
    body = [f"### {derivation.title}", ""]
    if derivation.intro:
        body += [derivation.intro, ""]
    begin, end = "\\begin{aligned}\n", "\n\\end{aligned}"
    for block in _blocks(units, MARKDOWN_BLOCK - len(begin + end)):
        body += ["$$", begin + " \\\\\n".join(block) + end, "$$", ""]
    body += [f"- {note}" for note in derivation.notes]
    return "\n".join(body).rstrip() + "\n"


def _wrap(words: str, width: int) -> list[str]:
    """Prose in lines of about ``width`` characters, broken at spaces outside ``$...$``.

    Examples
    --------
    >>> _wrap("the norm $x + y$ of the weight matrix", 20)
    ['the norm $x + y$ of', 'the weight matrix']
    """
    pieces = re.findall(r"(?:\$[^$]*\$|[^\s$])+", words)
    lines = [""]
    for piece in pieces:
        if lines[-1] and len(lines[-1]) + 1 + len(piece) > width:
            lines.append(piece)
        else:
            lines[-1] = f"{lines[-1]} {piece}" if lines[-1] else piece
    return lines


def _blocks(units: list[list[str]], limit: int) -> list[list[str]]:
    """Rows packed into blocks of at most ``limit`` characters, each unit's rows together if they fit."""

    def size(rows: list[str]) -> int:
        return sum(len(row) + 4 for row in rows)

    blocks: list[list[str]] = []
    block: list[str] = []
    for rows in units:
        # A unit too long for any block is split between its rows.
        for part in [rows] if size(rows) <= limit else [[row] for row in rows]:
            if block and size(block) + size(part) > limit:
                blocks.append(block)
                block = []
            block += part
    return [*blocks, block] if block else blocks


def _render_latex(derivation: Derivation, steps: list[tuple[list[str], str, str]]) -> str:
    labels = [equation_label(derivation.title, k) for k in range(1, len(steps) + 1)]
    rows = []
    for (lines, why, check), label in zip(steps, labels, strict=True):
        # One number per step, on the last row of its relation; the justification
        # goes on its own row under it, so that long right-hand sides keep the width.
        numbered = [line + r" \notag" for line in lines[:-1]] + [rf"{lines[-1]} \label{{{label}}}"]
        why = rf"\notag &\qquad \parbox[t]{{0.62\linewidth}}{{\raggedright\small {why}{check}}}"
        rows.append(" \\\\*\n".join([*numbered, why]))
    # Page breaks between steps, in this group only: the fragment needs no preamble setting.
    block = (
        "{\\allowdisplaybreaks\n\\begin{align}\n" + " \\\\[4pt]\n".join(rows) + "\n\\end{align}}"
    )
    body = [
        f"% Needs \\usepackage{{amsmath,amssymb}}. Step k of {len(steps)} is labelled "
        f"{labels[0][:-1]}k.",
        rf"\section*{{\raggedright {tex_text(derivation.title)}}}",
    ]
    if derivation.intro:
        body.append(tex_text(derivation.intro))
    body.append(block)
    if derivation.notes:
        items = "\n".join(rf"  \item {tex_text(n)}" for n in derivation.notes)
        body.append("\\begin{itemize}\n" + items + "\n\\end{itemize}")
    return "\n\n".join(body) + "\n"


def document(body: str, title: str, author: str = "") -> str:
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
        + f"\\title{{{tex_text(title)}}}\n\\author{{{tex_text(author)}}}\n\\date{{}}\n"
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
