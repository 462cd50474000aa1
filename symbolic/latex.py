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
from dataclasses import dataclass, field

from .derivation import Derivation
from .printers import latex, text

__all__ = [
    "MARKDOWN_BLOCK",
    "PREAMBLE",
    "ROW_WIDTH",
    "UNVERIFIED",
    "document",
    "equation_label",
    "math_width",
    "render",
    "rhs_rows",
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

#: Widest display row, in points of a 10pt font (see :func:`math_width`).  A
#: default ``article`` sets 345pt of text at 10pt, 360pt at 11pt and 390pt at
#: 12pt, at least 325pt in units of its own font size; the rest is room for the
#: equation number and for the estimate's error.
ROW_WIDTH = 300.0

#: Widest left-hand side kept in the left column; a wider one starts its own
#: row, so that one long left-hand side does not narrow every right-hand side.
LHS_WIDTH = 105.0

#: Longest ``$$`` block of Markdown, in characters.  MathJax 3 gives up on a
#: formula once expanding a macro takes its buffer past 5,120 characters
#: (``maxBuffer``), so a derivation is shown as several blocks far below that.
MARKDOWN_BLOCK = 2000

#: Longest line of a justification in Markdown, in characters: MathJax does not
#: wrap text inside a formula, so a long one is set as several rows.
MARKDOWN_TEXT = 80

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|[{}_^&]|\s+|.", re.S)
#: Widths in points (10pt, display style, spacing included) of the commands
#: the printers and derivations use; another command counts as one symbol.
_COMMAND_WIDTH = {
    "\\" + name: float(width)
    for name, width in (
        entry.split(":")
        for entry in """
            tanh:19.5 sigma:5.7 gamma:5.2 lambda:5.8 rho:5.2 epsilon:4.1 partial:5.7
            odot:12.5 cdot:7.8 times:12.5 top:7.8 cdots:13.3 ldots:13.3 le:13.4 ge:13.4
            to:15.6 infty:10 Longrightarrow:19 lVert:5 rVert:5 quad:10 qquad:20 notag:0
            max:17 min:15 sup:15 lim:15 limsup:32 prod:14 sum:14
            ,:1.7 ;:2.8 !:-1.7 \\:0
        """.split()
    )
}
_COMMAND_WIDTH[r"\ "] = 3.3
#: Operators whose sub- and superscripts sit below and above them in a display.
_LIMITS = frozenset({r"\max", r"\min", r"\sup", r"\lim", r"\limsup", r"\prod", r"\sum"})
#: Commands taking one argument, with the factor their argument's width takes.
_ARGUMENT_SCALE = {
    r"\operatorname": 1.0,
    r"\mathbf": 1.15,
    r"\mathrm": 1.0,
    r"\mathit": 1.0,
    r"\text": 1.0,
    r"\textit": 1.0,
    r"\mathbb": 1.4,
    r"\mathrel": 1.0,
    r"\vphantom": 0.0,
}
_SCRIPT = 0.72  # a sub- or superscript's size


def math_width(tex: str) -> float:
    """Estimated width in points of display math ``tex`` in a 10pt font.

    A reading of the source, not typesetting: every letter, operator and
    command has a typical width, scripts are smaller, a fraction is as wide as
    its wider part.  For the rows the printers produce it is within about 15%
    of TeX's own width (82.9pt for the first example below), which is what
    line breaking needs.

    Examples
    --------
    >>> round(math_width(r"\\operatorname{diag}\\left(\\tanh'\\left(a_{t}\\right)\\right) W"))
    83
    >>> math_width(r"\\frac{\\partial h_{t}}{\\partial h_{t-1}}") < math_width(r"\\partial h_{t} \\partial h_{t-1}")
    True
    """
    tokens = _TOKEN.findall(tex)
    return _width_until(tokens, 0, (), text=False)[0]


def _width_until(
    tokens: list[str], i: int, stops: tuple[str, ...], text: bool
) -> tuple[float, int]:
    """Width of ``tokens[i:]`` up to the first of ``stops``; the index of that stop."""
    total = 0.0
    while i < len(tokens) and tokens[i] not in stops:
        if tokens[i].isspace():
            total, i = total + (3.3 if text else 0.0), i + 1
            continue
        limits = tokens[i] in _LIMITS
        width, i = _width_one(tokens, i, text)
        scripts = 0.0
        while i < len(tokens) and tokens[i] in ("_", "^"):
            script, i = _width_argument(tokens, i + 1, text)
            scripts = max(scripts, _SCRIPT * script)
        total += max(width, scripts) if limits else width + scripts
    return total, i


def _width_argument(tokens: list[str], i: int, text: bool) -> tuple[float, int]:
    """Width of one argument (a braced group or a single token); the index after it."""
    while i < len(tokens) and tokens[i].isspace():
        i += 1
    if i < len(tokens) and tokens[i] == "{":
        width, i = _width_until(tokens, i + 1, ("}",), text)
        return width, i + 1
    return _width_one(tokens, i, text) if i < len(tokens) else (0.0, i)


def _width_one(tokens: list[str], i: int, text: bool) -> tuple[float, int]:
    """Width of the symbol, group or command at ``tokens[i]``; the index after it."""
    token = tokens[i]
    if token == "{":
        return _width_argument(tokens, i, text)
    if token in (r"\frac", r"\tfrac", r"\dfrac"):
        top, i = _width_argument(tokens, i + 1, text)
        bottom, i = _width_argument(tokens, i, text)
        return (max(top, bottom) + 2.4) * (_SCRIPT if token == r"\tfrac" else 1.0), i
    if token in (r"\left", r"\right"):
        return (1.2 if tokens[i + 1] == "." else 4.5), i + 2
    if token == r"\begin":
        return _width_environment(tokens, i, text)
    if token in _ARGUMENT_SCALE:
        inner, i = _width_argument(tokens, i + 1, text or token.startswith(r"\text"))
        return inner * _ARGUMENT_SCALE[token] + (3.4 if token == r"\operatorname" else 0.0), i
    if token.startswith("\\"):
        return _COMMAND_WIDTH.get(token, 6.0), i + 1
    if token.isdigit():
        return 5.0, i + 1
    if token.isalpha():
        return (7.5 if token.isupper() else 5.5) if not text else 5.0, i + 1
    widths = {"+": 12.5, "-": 12.5, "=": 13.4, "<": 13.4, ">": 13.4, ",": 4.5, "'": 2.8}
    return (3.9 if token in "()[]|/" else widths.get(token, 5.0)), i + 1


def _width_environment(tokens: list[str], i: int, text: bool) -> tuple[float, int]:
    """Width of ``\\begin{...}...\\end{...}``: its widest row of cells; the index after it."""
    _, i = _width_argument(tokens, i + 1, text)  # the environment's name
    rows, row = [], []
    while i < len(tokens):
        cell, i = _width_until(tokens, i, ("&", r"\\", r"\end"), text)
        row.append(cell)
        if i >= len(tokens) or tokens[i] == r"\end":
            break
        if tokens[i] == r"\\":
            rows.append(row)
            row = []
        i += 1
    rows.append(row)
    _, i = _width_argument(tokens, i + 1, text)  # \end's name
    return max(sum(r) + 12.0 * (len(r) - 1) for r in rows) + 8.0, i


@dataclass
class _Atom:
    """A stretch of a formula never broken, and how good a place to break before it is.

    ``tex`` carries its operator and the spaces after it (``"+ W h "``); ``level``
    is 0 where no break may come, otherwise lower for a better break (before
    a sum's term or a relation, then between factors, each worse inside more
    brackets); ``opens`` holds a height (a fraction, or "") for every
    ``\\left`` bracket the atom opens and leaves open, ``closes`` counts the
    brackets of earlier atoms it closes.
    """

    tex: str = ""
    level: int = 0
    opens: list[str] = field(default_factory=list)
    closes: int = 0


_RELATIONS = frozenset({"=", "<", ">", r"\le", r"\ge", r"\ne", r"\approx", r"\Longrightarrow"})
_PRODUCTS = frozenset({r"\odot", r"\times", r"\cdot", r"\cdots"})
_SPACES = frozenset({r"\,", r"\;", r"\:", r"\ ", r"\quad", r"\qquad"})
_OPEN = frozenset({"(", "[", r"\bigl", r"\Bigl", r"\biggl", r"\Biggl"})
_CLOSE = frozenset({")", "]", r"\bigr", r"\Bigr", r"\biggr", r"\Biggr"})
#: Commands followed by the delimiter they size.
_DELIMITED = frozenset({r"\left", r"\right"}) | {t for t in _OPEN | _CLOSE if t.startswith("\\")}
#: Tokens after which the next factor belongs to them: no break.
_TAKES_NEXT = _RELATIONS | _PRODUCTS | _OPEN | {"+", "-", ",", r"\left"} | _LIMITS


def _first_fraction(tex: str) -> str:
    """The first ``\\frac{...}{...}`` in ``tex``, or "" if it has none.

    Examples
    --------
    >>> _first_fraction(r"W + \\frac{\\partial h_{t}}{\\partial c_{t}} V")
    '\\\\frac{\\\\partial h_{t}}{\\\\partial c_{t}}'
    """
    start = tex.find(r"\frac{")
    if start < 0:
        return ""
    end, depth = start + len(r"\frac"), 0
    for _ in range(2):
        while True:
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            end += 1
            if depth == 0:
                break
    return tex[start:end]


def _bracket_height(tokens: list[str], i: int) -> str:
    """The first fraction between the ``\\left`` at ``tokens[i]`` and its ``\\right``."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += {r"\left": 1, r"\right": -1}.get(tokens[j], 0)
        if depth == 0:
            return _first_fraction("".join(tokens[i + 2 : j]))
    return ""


def _atoms(tex: str) -> list[_Atom]:
    """Math ``tex`` cut where a row may break: before a sum's terms and relations, between factors.

    Never inside braces (arguments, scripts, fractions) or an environment;
    a break inside brackets is allowed but worse than outside them.
    Concatenated, the atoms give ``tex`` back.

    Examples
    --------
    >>> [(a.tex, a.level) for a in _atoms(r"A \\left(B + C\\right) - \\frac{x + y}{2}")]
    [('A ', 0), ('\\\\left(B ', 2), ('+ C\\\\right) ', 3), ('- \\\\frac{x + y}{2}', 1)]
    """
    tokens = _TOKEN.findall(tex)
    atoms = [_Atom()]
    braces, brackets = 0, []  # brackets open: True for \left, False for a plain one
    prev, spaced, pending = None, False, None  # pending: "script" or "delimiter" to come
    for i, token in enumerate(tokens):
        if braces == 0 and (token.isspace() or token in _SPACES):
            atoms[-1].tex += token
            spaced = prev is not None
            continue
        if braces == 0 and pending is None and prev is not None:
            level = _break_level(token, prev, spaced)
            if level:
                atoms.append(_Atom(level=level + 2 * len(brackets)))
        spaced = False
        atom = atoms[-1]
        atom.tex += token
        if braces or token in ("{", r"\begin"):
            braces += {"{": 1, r"\begin": 1, "}": -1, r"\end": -1}.get(token, 0)
            if braces == 0:
                prev, pending = (prev, None) if pending == "script" else ("}", None)
        elif pending:
            pending = None
        elif token in ("_", "^"):
            pending = "script"
        else:
            if token == r"\left":
                brackets.append(True)
                atom.opens.append(_bracket_height(tokens, i))
            elif token == r"\right" and brackets:
                brackets.pop()
                if atom.opens:
                    atom.opens.pop()
                else:
                    atom.closes += 1
            elif token in _OPEN:
                brackets.append(False)
            elif token in _CLOSE and brackets and not brackets[-1]:
                brackets.pop()
            if token in _DELIMITED:
                pending = "delimiter"
            prev = token
    return atoms


def _break_level(token: str, prev: str, spaced: bool) -> int:
    """1 for a break before a term or relation, 2 between factors, 0 for none (outside brackets)."""
    if token in ("+", "-") and prev not in _TAKES_NEXT:
        return 1
    if token in _RELATIONS or token == r"\mathrel":
        return 1
    if token in _PRODUCTS:
        return 2
    if spaced and prev not in _TAKES_NEXT and token not in _CLOSE | {r"\right", "_", "^", "'", ","}:
        return 2
    return 0


def _joined(atoms: Sequence[_Atom]) -> str:
    return "".join(a.tex for a in atoms).strip()


#: How far a continuation row is indented, by the level of its break: its command, its width.
_INDENTS = {1: (r"\quad", 10.0), 2: (r"\qquad", 20.0), 3: (r"\qquad\quad", 30.0)}


def _indent(level: int) -> tuple[str, float]:
    return _INDENTS[min(max(level, 1), 3)]


def _break(atoms: list[_Atom], first: float, rest: float) -> list[list[_Atom]]:
    """Atoms set in rows: ``first`` points for the first row, ``rest`` less its indent for the others.

    The rows minimise, as TeX's paragraphs do, a sum of costs: one per row,
    the square of the room a row leaves empty (not the last row's), a worse
    break's penalty (a deeper level), and a heavy one for a row too wide.
    """
    breaks = [j for j in range(1, len(atoms)) if atoms[j].level] + [len(atoms)]
    best: dict[int, tuple[float, int]] = {0: (0.0, 0)}
    for j in breaks:
        options = []
        for i, (cost, _) in best.items():
            budget = first if i == 0 else rest - _indent(atoms[i].level)[1]
            width = math_width(_joined(atoms[i:j]))
            cost += 1.0 + (3.0 * (atoms[i].level - 1) ** 2 if i else 0.0)
            if width > budget:
                cost += 1000.0 + width / budget
            elif j < len(atoms):
                cost += 2.0 * ((budget - width) / budget) ** 2
            options.append((cost, i))
        best[j] = min(options)
    rows, j = [], len(atoms)
    while j:
        i = best[j][1]
        rows.insert(0, atoms[i:j])
        j = i
    return rows


def _phantom(height: str) -> str:
    return rf"\vphantom{{{height}}}" if height else ""


def rhs_rows(tex: str, first: float, rest: float) -> list[str]:
    """Math ``tex`` as rows to align: the first as it is, the others indented.

    One row if ``tex`` fits in ``first`` points (:func:`math_width`);
    otherwise broken before the terms of a sum or a relation, else between
    factors, preferably outside brackets: the first row within ``first``
    points and the others, indented the more the deeper their break, within
    ``rest`` where the breaks allow.  A bracket broken across rows is closed
    with ``\\right.`` and reopened with ``\\left.``, with a phantom of its
    tallest part so that both halves have the same size.

    Examples
    --------
    >>> tex = r"W \\left(U + \\frac{\\partial h}{\\partial c} V\\right)"
    >>> rhs_rows(tex, 60, 60) == [tex]
    True
    >>> for row in rhs_rows(tex, 50, 70):
    ...     print(row)
    W \\left(U \\vphantom{\\frac{\\partial h}{\\partial c}}\\right.
    \\qquad\\quad \\left.\\vphantom{\\frac{\\partial h}{\\partial c}} {} + \\frac{\\partial h}{\\partial c} V\\right)
    """
    if math_width(tex) <= first:
        return [tex]
    out, carried = [], []
    for row in _break(_atoms(tex), first, rest):
        head = "".join(rf"\left.{_phantom(h)} " for h in carried)
        body = _joined(row)
        if carried and body[0] in "+-":
            head += "{} "  # keeps the sign binary after the reopened bracket
        for atom in row:
            carried = carried[: len(carried) - atom.closes] + atom.opens
        tail = "".join(rf" {_phantom(h)}\right." for h in reversed(carried))
        indent = f"{_indent(row[0].level)[0]} " if out else ""
        out.append(indent + head + body + tail)
    return out


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
    atom_w = [max(math_width(a.tex) for a in _atoms(t)) for t in rhs]

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
