"""The notation both printers share: names, brackets, and matrix forms.

Activations are printed by name (``tanh``, ``sigma``) and their derivatives
with a prime; a printed piece of notation (:class:`_Printed`) carries the
precedence SymPy needs to bracket it; :class:`_MatrixNotation` prints
``diag``, the elementwise product, transposes, the norms of
:mod:`~symbolic.bounds` and activations applied elementwise, each as a
format string that :mod:`symbolic.printers` fills in for LaTeX or for text.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.precedence import PRECEDENCE, precedence_traditional

from .activations import ACTIVATIONS, z


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

    def _print_Lambda(self, expr):
        raise TypeError("a bare Lambda has no report form; apply it to a vector")

    def _print_Dummy(self, expr):
        raise TypeError(f"dummy symbol {expr} would leak into the output")

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
