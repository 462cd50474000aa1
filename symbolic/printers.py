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
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from .bounds import MaxAbs
from .derivation import Notation, Partial
from .matrix_notation import _LATEX_NAMES, _TEXT_NAMES, _MatrixNotation, _Printed, _split_name

__all__ = ["latex", "text"]


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
        # A product whose sign was not printed above binds like a product; SymPy's
        # precedence_traditional would first negate the product to find that out.
        level = PRECEDENCE["Mul"]
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
