"""Long display rows broken where TeX would: width estimates and break points.

:func:`math_width` estimates the width of LaTeX math in points (10pt,
display style) from a table of command widths; :func:`rhs_rows` breaks a
right-hand side into rows no wider than a limit, before the terms of a sum
or a relation, else between factors, preferring breaks outside brackets.
A bracket split across rows is closed with ``\\right.`` and reopened with
``\\left.`` and a ``\\vphantom``, so both halves keep one size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["LHS_WIDTH", "ROW_WIDTH", "math_width", "rhs_rows", "widest_unbreakable"]

#: Widest display row, in points of a 10pt font (see :func:`math_width`).  A
#: default ``article`` sets 345pt of text at 10pt, 360pt at 11pt and 390pt at
#: 12pt, at least 325pt in units of its own font size; the rest is room for the
#: equation number and for the estimate's error.
ROW_WIDTH = 300.0

#: Widest left-hand side kept in the left column; a wider one starts its own
#: row, so that one long left-hand side does not narrow every right-hand side.
LHS_WIDTH = 105.0

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


def widest_unbreakable(tex: str) -> float:
    """The width of the widest piece of ``tex`` that no row break can split, in points.

    Examples
    --------
    >>> widest_unbreakable("a + b") == max(math_width("a"), math_width("+ b"))
    True
    """
    return max(math_width(a.tex) for a in _atoms(tex))
