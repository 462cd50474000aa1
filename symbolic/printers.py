"""Printing matrix expressions the way a careful author writes them.

:func:`latex` gives ``\\operatorname{diag}``, ``\\odot``, ``^\\top``,
activations by name (``\\tanh``, ``\\sigma``) and their derivatives
(``\\tanh'``), time indices as subscripts, the norms of
:mod:`~symbolic.bounds` as ``\\sigma_{\\max}(A)`` and ``\\max_i |v_i|``,
optionally bold vectors and matrices; :func:`text` the same for terminals.
Brackets come from SymPy's precedence rules, never from string surgery.
SymPy internals (``DiagMatrix``, ``Lambda``, dummy names) never reach the
output: anything the printers do not know raises instead of leaking.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence_traditional
from sympy.printing.str import StrPrinter

from .activations import ACTIVATIONS, z
from .bounds import MaxAbs
from .derivation import Notation, Partial

__all__ = ["latex", "text"]


def _function_names(mode: str) -> dict[sp.Lambda, str]:
    names = {}
    for act in ACTIVATIONS.values():
        name = act.latex if mode == "latex" else act.name
        names[act.function] = name
        names[act.derivative] = name + "'"
    return names


_LATEX_NAMES = _function_names("latex")
_TEXT_NAMES = _function_names("text")


def _split_name(name: str) -> tuple[str, str]:
    """``'h_{t-1}'`` -> ``('h', '_{t-1}')``; ``'h^{T}_{t,l}'`` -> ``('h', '^{T}_{t,l}')``."""
    match = re.match(r"^([^_^]+)(.*)$", name)
    return (match.group(1), match.group(2)) if match else (name, "")


def _is_named(expr: ElementwiseApplyFunction) -> bool:
    """Whether an elementwise function prints by name (``\\tanh``) rather than as its formula."""
    return sp.Lambda(z, expr.function(z)) in _LATEX_NAMES


def _is_sum(expr) -> bool:
    """Whether ``expr`` prints as a sum: a MatAdd, or an unnamed elementwise ``1 - v^2``."""
    if isinstance(expr, sp.MatAdd):
        return True
    if isinstance(expr, ElementwiseApplyFunction):
        return not _is_named(expr) and expr.function(z).is_Add
    return False


def _precedence(expr, printed: str) -> int:
    """Binding strength of ``expr`` as it prints, for bracketing it inside a formula.

    SymPy's traditional precedence: a sum binds like ``Add`` (as does a
    negated product), a product like ``Mul``, a name like an atom.  An
    unnamed elementwise function prints as its formula, so it binds like the
    formula: ``1 - v^2`` like a sum (as in :func:`_is_sum`).  A form carrying
    a superscript is capped at ``Pow`` so that raising it to a power
    brackets it rather than stacking two superscripts, which TeX rejects.

    Examples
    --------
    >>> n = sp.Symbol("n")
    >>> W, h = sp.MatrixSymbol("W", n, n), sp.MatrixSymbol("h", n, 1)
    >>> [_precedence(e, "") for e in (W * h + h, W * h, h)]
    [40, 50, 1000]
    >>> _precedence(h, "h^{(1)}")
    60
    """
    if isinstance(expr, ElementwiseApplyFunction) and not _is_named(expr):
        prec = precedence_traditional(expr.function(z))
    else:
        prec = precedence_traditional(expr)
    return min(prec, PRECEDENCE["Pow"]) if "^" in printed else prec


class _Printed(sp.Symbol):
    """An already printed argument, standing in for the variable of a scalar formula.

    SymPy's printers bracket a subexpression by its precedence, and
    :func:`sympy.printing.precedence.precedence` honours a ``precedence``
    attribute, so ``(z**2 + 1)`` with a sum standing in for ``z`` prints as
    ``(U x + W h)^2 + 1`` rather than ``U x + W h^2 + 1``.  The printers print
    the text verbatim (``_print__Printed``): a plain :class:`~sympy.Symbol`
    name would go through LaTeX's sub/superscript mangling.

    Parameters
    ----------
    printed : str
        The argument as the printer at hand printed it.
    precedence : int
        How strongly the printed form binds (see :func:`_precedence`).
    """

    __slots__ = ("precedence",)

    def __new__(cls, printed: str, precedence: int):
        # Symbol.__new__ caches instances by name alone; equal text with a
        # different precedence must not come back as the cached object.
        obj = sp.Symbol.__xnew__(cls, printed)
        obj.precedence = precedence
        return obj

    def _hashable_content(self):
        return (*super()._hashable_content(), self.precedence)

    def __getnewargs_ex__(self):
        return (self.name, self.precedence), {}


def _signed_sum(terms) -> str:
    """Join printed terms, positive ones first: ``1 - z``, not ``- z + 1``."""
    terms = list(terms)
    ordered = [t for t in terms if not t.startswith("-")] + [t for t in terms if t.startswith("-")]
    out = ordered[0]
    for t in ordered[1:]:
        out += f" - {t[1:].lstrip()}" if t.startswith("-") else f" + {t}"
    return out


class _MatrixNotation:
    """Printing shared by the LaTeX and text printers; only the notation differs."""

    ODOT: str
    TOP: str
    ONE: str
    NAMES: dict
    DIAG: str  # format with the printed argument
    CALL: str  # format with the function name and the printed argument
    BRACKETS: str  # format with the printed sum
    SIGMA_MAX: str  # format with the printed matrix
    MAX_ABS: str  # format with the printed entry v_i
    ENTRY: str  # the i-th entry of a named vector: format with the name
    EXPR_ENTRY: str  # the i-th entry of any other vector: format with the printed vector

    def _print_DiagMatrix(self, expr):
        return self.DIAG.format(self._print(expr.args[0]))

    def _print_MatAdd(self, expr):
        return _signed_sum(self._print(a) for a in expr.args)

    def _print_HadamardProduct(self, expr):
        return f" {self.ODOT} ".join(
            self.BRACKETS.format(self._print(a))
            if _is_sum(a)
            else self.parenthesize(a, PRECEDENCE["Mul"])
            for a in expr.args
        )

    def _print_Transpose(self, expr):
        return f"{self.parenthesize(expr.arg, PRECEDENCE['Pow'])}^{self.TOP}"

    def _print_Identity(self, expr):
        return "I"

    def _print_ZeroMatrix(self, expr):
        return "0"

    def _print_OneMatrix(self, expr):
        return self.ONE

    def _print_ElementwiseApplyFunction(self, expr):
        fn = sp.Lambda(z, expr.function(z))
        arg = self._print(expr.expr)
        if fn in self.NAMES:
            return self.CALL.format(self.NAMES[fn], arg)
        stand_in = _Printed(arg, _precedence(expr.expr, arg))
        return self._print(expr.function(z).xreplace({z: stand_in}))

    def _print__Printed(self, expr):
        return expr.name

    def _entry(self, v) -> str:
        """``v_i``: the name indexed if ``v`` is a plain name, else ``(v)_i``."""
        if isinstance(v, sp.MatrixSymbol) and not _split_name(v.name)[1]:
            # An entry is a scalar: never bold, even when the vector is.
            return self.ENTRY.format(v.name)
        return self.EXPR_ENTRY.format(self._print(v))

    # ``exp``: LaTeX's Pow printer hands a function's exponent to the function.
    def _print_SigmaMax(self, expr, exp=None):
        out = self.SIGMA_MAX.format(self._print(expr.args[0]))
        return out if exp is None else f"{out}^{{{exp}}}"

    def _print_MaxAbs(self, expr, exp=None):
        out = self.MAX_ABS.format(self._entry(expr.args[0]))
        # (max_i |v_i|)^2, not max_i |v_i|^2, which reads as a max of squares.
        return out if exp is None else f"{self.BRACKETS.format(out)}^{{{exp}}}"


class _LatexPrinter(_MatrixNotation, LatexPrinter):
    ODOT, TOP, ONE, NAMES = r"\odot", r"\top", r"\mathbf{1}", _LATEX_NAMES
    DIAG = r"\operatorname{{diag}}\left({}\right)"
    CALL = r"{}\left({}\right)"
    BRACKETS = r"\left({}\right)"
    SIGMA_MAX = r"\sigma_{{\max}}\left({}\right)"
    MAX_ABS = r"\max_i \left|{}\right|"
    ENTRY, EXPR_ENTRY = "{}_{{i}}", r"\left({}\right)_{{i}}"

    def __init__(self, bold: bool = False):
        super().__init__({"mat_symbol_style": "plain"})
        self.bold = bold

    def _print_MatrixSymbol(self, expr):
        base, rest = _split_name(expr.name)
        if self.bold and base.isalpha():
            base = rf"\mathbf{{{base}}}"
        return base + rest

    def _print_Lambda(self, expr):
        raise TypeError("a bare Lambda has no report form; apply it to a vector")

    def _print_Mul(self, expr):
        # SymPy prints -z as "- " and z, bracketing z only if it is an Add:
        # a stand-in for a sum needs its brackets too.
        negated = -expr
        if isinstance(negated, _Printed):
            return "- " + self.parenthesize(negated, PRECEDENCE["Mul"], strict=True)
        return super()._print_Mul(expr)

    def _needs_mul_brackets(self, expr, first=False, last=False) -> bool:
        # Like a Sum, max_i |v_i| reaches over the factors after it:
        # bracket it unless it comes last (as SymPy does for Sum).
        if isinstance(expr, MaxAbs) and not last:
            return True
        return super()._needs_mul_brackets(expr, first=first, last=last)

    def _helper_print_standard_power(self, expr, template):
        # SymPy brackets any Symbol base whose name holds a "^"; a stand-in's
        # precedence has already bracketed it, and a second pair is noise.
        if isinstance(expr.base, _Printed):
            base = self.parenthesize(expr.base, PRECEDENCE["Pow"])
            return template % (base, self._print(expr.exp))
        return super()._helper_print_standard_power(expr, template)

    def _print_Dummy(self, expr):
        raise TypeError(f"dummy symbol {expr} would leak into the output")


class _TextPrinter(_MatrixNotation, StrPrinter):
    ODOT, TOP, ONE, NAMES = "⊙", "T", "1", _TEXT_NAMES
    DIAG, CALL, BRACKETS = "diag({})", "{}({})", "({})"
    SIGMA_MAX, MAX_ABS, ENTRY, EXPR_ENTRY = "sigma_max({})", "max_i |{}|", "{}_i", "({})_i"

    def parenthesize(self, item, level, strict=False):
        # max_i |v_i|**2 reads as a max of squares: bracket it as a power's base.
        if isinstance(item, MaxAbs) and level >= PRECEDENCE["Pow"]:
            return self.BRACKETS.format(self._print(item))
        return super().parenthesize(item, level, strict)

    def _print_MatrixSymbol(self, expr):
        # h_{t} -> h_t, but h_{t-1} keeps its braces so the index stays readable.
        return re.sub(r"_\{(\w+)\}", r"_\1", expr.name)

    def _print_MatMul(self, expr):
        args = list(expr.args)
        sign = ""
        # A negative scalar coefficient becomes the sign: "-gamma I", not "(-gamma) I".
        if not isinstance(args[0], sp.MatrixExpr) and args[0].could_extract_minus_sign():
            sign, args[0] = "-", -args[0]
            if args[0] == 1:
                args = args[1:]
        return sign + " ".join(self.parenthesize(a, PRECEDENCE["Mul"]) for a in args)

    def _print_MatrixBase(self, expr):
        rows = (
            "[" + ", ".join(self._print(e) for e in expr.row(i)) + "]" for i in range(expr.rows)
        )
        return "[" + ", ".join(rows) + "]"

    _print_ImmutableDenseMatrix = _print_MutableDenseMatrix = _print_MatrixBase


def latex(expr, bold: bool = False) -> str:
    """LaTeX for an expression, a :class:`Partial` or a :class:`Notation`.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> from symbolic.jacobians import step_jacobian
    >>> latex(step_jacobian(elman_rnn("tanh")))
    "\\\\operatorname{diag}\\\\left(\\\\tanh'\\\\left(a_{t}\\\\right)\\\\right) W"
    """
    if isinstance(expr, Notation):
        return expr.latex
    if isinstance(expr, Partial):
        return rf"\frac{{\partial {latex(expr.out, bold)}}}{{\partial {latex(expr.wrt, bold)}}}"
    if isinstance(expr, str):
        return expr
    return _LatexPrinter(bold).doprint(expr)


def text(expr) -> str:
    """Plain-text form of an expression, for terminals.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> from symbolic.jacobians import step_jacobian
    >>> text(step_jacobian(elman_rnn("sigmoid")))
    "diag(sigmoid'(a_t)) W"
    """
    if isinstance(expr, Notation):
        return expr.text
    if isinstance(expr, Partial):
        return f"d{text(expr.out)}/d{text(expr.wrt)}"
    if isinstance(expr, str):
        return expr
    return _TextPrinter().doprint(expr)
