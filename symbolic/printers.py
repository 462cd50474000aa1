"""Printing matrix expressions the way a careful author writes them.

:func:`latex` gives ``\\operatorname{diag}``, ``\\odot``, ``^\\top``,
activations by name (``\\tanh``, ``\\sigma``) and their derivatives
(``\\tanh'``), time indices as subscripts, the norms of
:mod:`~symbolic.bounds` as ``\\sigma_{\\max}(A)`` and ``\\max_i |v_i|``,
optionally bold vectors and matrices; :func:`text` the same for terminals.
Brackets come from SymPy's precedence rules, never from string surgery.
SymPy internals (``DiagMatrix``, ``Lambda``, dummy names) never reach the
output: anything the printers do not know raises instead of leaking.

The text form reads like mathematics typed by hand, one convention
throughout: products by juxtaposition (``gamma sigma_max(W)``), with ``·``
where juxtaposition would run two numbers together (``10·√2·2^(N - 1)``);
powers with ``^`` (``tanh(z)^2``, ``lambda_1^N/2``); ``√``, ``∞``, ``≠``,
``⊙`` for the elementwise product and ``^T`` for the transpose; Greek
letters by their names, as in the prose around them; matrices row by row,
``[a, b; c, d]``; the step function as its two cases.  No Python syntax
(``**``, ``*``) and no SymPy names (``oo``, ``Heaviside``, ``Interval``).
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.core.mul import _keep_coeff
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence, precedence_traditional
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

    def _print_MatMul(self, expr):
        # SymPy brackets the factors of -A (u * v) at the precedence of a sum,
        # so the Hadamard product lost its brackets: print the sign, then A (u * v).
        # The sign is read off the scalar coefficient: negating the whole product
        # (as SymPy does) evaluates it, and evaluating diag(v) asks SymPy's
        # SAT-based assumptions whether the column v is diagonal, about 20 ms a time.
        args = list(expr.args)
        if not isinstance(args[0], sp.MatrixExpr) and args[0].could_extract_minus_sign():
            coeff = -args[0]
            positive = args[1:] if coeff == 1 else [coeff, *args[1:]]
            return "- " + self._print(sp.MatMul(*positive) if len(positive) > 1 else positive[0])
        # As SymPy brackets factors: a scalar product as it is, others by precedence.
        level = precedence_traditional(expr)
        return " ".join(
            self._print(a)
            if isinstance(a, sp.Mul) and not isinstance(a, sp.MatMul)
            else self.parenthesize(a, level, False)
            for a in args
        )

    def _print_Heaviside(self, expr, exp=None):
        # The slope of relu: its two cases, undefined at 0 (SymPy's theta is
        # a name no amsmath document defines).
        arg = self._print(expr.args[0])
        out = (
            rf"\begin{{cases}} 1 & \text{{if }} {arg} > 0 \\ "
            rf"0 & \text{{if }} {arg} < 0 \end{{cases}}"
        )
        return out if exp is None else rf"\left({out}\right)^{{{exp}}}"

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


def _juxtapose(factors: list[str]) -> str:
    """Printed factors of a product, side by side: ``gamma sigma_max(W)``.

    A factor that begins with a numeral or a radical follows a ``·``, so
    that ``10``, ``√2`` and ``2^(N - 1)`` do not run together into one number.

    Examples
    --------
    >>> _juxtapose(["gamma", "sigma_max(W)"])
    'gamma sigma_max(W)'
    >>> _juxtapose(["10", "√2", "2^(N - 1)"])
    '10·√2·2^(N - 1)'
    """
    out = factors[0]
    for factor in factors[1:]:
        out += ("·" if factor[:1].isdigit() or factor.startswith("√") else " ") + factor
    return out


class _TextPrinter(_MatrixNotation, StrPrinter):
    ODOT, TOP, ONE, NAMES = "⊙", "T", "1", _TEXT_NAMES
    DIAG, CALL, BRACKETS = "diag({})", "{}({})", "({})"
    SIGMA_MAX, MAX_ABS, ENTRY, EXPR_ENTRY = "sigma_max({})", "max_i |{}|", "{}_i", "({})_i"

    def parenthesize(self, item, level, strict=False):
        # max_i |v_i|^2 reads as a max of squares: bracket it as a power's base.
        if isinstance(item, MaxAbs) and level >= PRECEDENCE["Pow"]:
            return self.BRACKETS.format(self._print(item))
        return super().parenthesize(item, level, strict)

    def _print_Symbol(self, expr):
        return re.sub(r"_\{(\w+)\}", r"_\1", expr.name)

    def _print_MatrixSymbol(self, expr):
        # h_{t} -> h_t, but h_{t-1} keeps its braces so the index stays readable.
        return re.sub(r"_\{(\w+)\}", r"_\1", expr.name)

    def _print_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        sign = ""
        if coeff.is_negative:
            sign, expr = "-", _keep_coeff(-coeff, rest)
        numer, denom = [], []
        for factor in expr.as_ordered_factors() if expr.is_Mul else [expr]:
            if factor.is_commutative and factor.is_Pow and factor.exp.as_coeff_Mul()[0] < 0:
                power = -factor.exp
                denom.append(
                    factor.base if power == 1 else sp.Pow(factor.base, power, evaluate=False)
                )
            elif factor.is_Rational:
                numer += [sp.Integer(factor.p)] if factor.p != 1 else []
                denom += [sp.Integer(factor.q)] if factor.q != 1 else []
            else:
                numer.append(factor)
        level = PRECEDENCE["Mul"]
        # Like a Sum, max_i |v_i| reaches over the factors after it: bracket it
        # unless it comes last (as the LaTeX printer does).
        shown = [
            self.BRACKETS.format(self._print(f))
            if isinstance(f, MaxAbs) and i < len(numer) - 1
            else self.parenthesize(f, level)
            for i, f in enumerate(numer)
        ] or ["1"]
        out = sign + _juxtapose(shown)
        if len(denom) == 1:
            return f"{out}/{self.parenthesize(denom[0], level)}"
        if denom:
            return f"{out}/({_juxtapose([self.parenthesize(d, level) for d in denom])})"
        return out

    def _exponent(self, exp) -> str:
        """``^2``, ``^N``; any other exponent in brackets: ``^(N - 1)``, ``^(-1)``."""
        shown = self._print(exp)
        # A stand-in is a Symbol too, but may stand for a sum.
        simple = (exp.is_Integer and exp >= 0) or (exp.is_Symbol and not isinstance(exp, _Printed))
        return f"^{shown}" if simple else f"^({shown})"

    def _print_Pow(self, expr, rational=False):
        base, exp = expr.base, expr.exp
        level = PRECEDENCE["Pow"]
        if exp is sp.S.Half:
            return "√" + self.parenthesize(base, level)
        if expr.is_commutative and -exp is sp.S.Half:
            return "1/√" + self.parenthesize(base, level)
        if expr.is_commutative and exp is sp.S.NegativeOne:
            return "1/" + self.parenthesize(base, level)
        return self.parenthesize(base, level) + self._exponent(exp)

    def _print_MatPow(self, expr):
        return self.parenthesize(expr.base, PRECEDENCE["Pow"]) + self._exponent(expr.exp)

    def _print_Inverse(self, expr):
        return self.parenthesize(expr.arg, PRECEDENCE["Pow"]) + "^(-1)"

    def _print_Heaviside(self, expr):
        # The slope of relu, by its two cases; it has none at 0.
        arg = self._print(expr.args[0])
        return f"{{1 if {arg} > 0, 0 if {arg} < 0}}"

    def _print_Piecewise(self, expr):
        cases = [
            f"{self._print(value)} otherwise"
            if cond is sp.true
            else f"{self._print(value)} if {self._print(cond)}"
            for value, cond in expr.args
        ]
        return "{" + ", ".join(cases) + "}"

    def _print_Relational(self, expr):
        op = {"==": "=", "!=": "≠"}.get(expr.rel_op, expr.rel_op)
        level = precedence(expr)
        return f"{self.parenthesize(expr.lhs, level)} {op} {self.parenthesize(expr.rhs, level)}"

    def _print_Abs(self, expr):
        return f"|{self._print(expr.args[0])}|"

    def _print_Max(self, expr):
        return f"max({', '.join(self._print(a) for a in expr.args)})"

    def _print_Min(self, expr):
        return f"min({', '.join(self._print(a) for a in expr.args)})"

    def _print_Infinity(self, expr):
        return "∞"

    def _print_NegativeInfinity(self, expr):
        return "-∞"

    def _print_Exp1(self, expr):
        return "e"

    def _print_Reals(self, expr):
        return "R"

    def _print_Interval(self, expr):
        left, right = "(" if expr.left_open else "[", ")" if expr.right_open else "]"
        return f"{left}{self._print(expr.start)}, {self._print(expr.end)}{right}"

    def _print_Union(self, expr):
        return " ∪ ".join(self._print(a) for a in expr.args)

    def _print_Limit(self, expr):
        e, var, point, side = expr.args
        # A one-sided limit at a finite point keeps its side: x→0+.
        one_sided = point.is_finite and str(side) in ("+", "-")
        where = f"{self._print(var)}→{self._print(point)}{side if one_sided else ''}"
        return f"lim_{{{where}}} {self.parenthesize(e, PRECEDENCE['Mul'])}"

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
        # Row by row, as in [h_t; c_t]: commas within a row, semicolons between rows.
        rows = (", ".join(self._print(e) for e in expr.row(i)) for i in range(expr.rows))
        return "[" + "; ".join(rows) + "]"

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
