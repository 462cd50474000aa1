"""The range of a real function of one variable, by its extreme values.

A function continuous on an interval takes every value between its smallest
and largest value there (the intermediate value theorem), and those extremes
lie at critical points, at closed ends, or are approached at open ends.  So
when the critical points are finitely many, the range is one interval whose
ends come from finitely many values: the function at its critical points and
closed ends (attained) and its limits at open ends (approached).

This is what SymPy's ``function_range`` does, except for the limits at
``±oo``: substituting the infinity is tried first, and kept only when SymPy's
arithmetic of infinities gives a determinate extended real (it gives ``nan``
for ``oo - oo``, ``0 * oo`` or ``oo / oo``).  Only then does :func:`sympy.limit`
run, which takes about half a second for ``1 - tanh(z)**2``.  Anything else
(a continuum of critical points, a discontinuity, values SymPy cannot order)
goes to ``function_range`` unchanged.  An end value that is approached at an
open end but attained elsewhere closes the interval (``z**2`` on ``(-1, 1]``
is ``[0, 1]``; SymPy 1.14's ``function_range`` answers ``[0, 1)``).
"""

from __future__ import annotations

import sympy as sp
from sympy.calculus.util import continuous_domain, function_range

__all__ = ["real_range"]


def real_range(expr: sp.Expr, var: sp.Symbol, domain: sp.Set = sp.S.Reals) -> sp.Set:
    """The set of values ``expr`` takes as ``var`` runs over ``domain``.

    Parameters
    ----------
    expr : sympy.Expr
        A real expression in ``var``.
    var : sympy.Symbol
        The variable.
    domain : sympy.Set
        Where ``var`` runs; the reals by default.

    Returns
    -------
    sympy.Set
        The range, as ``sympy.calculus.util.function_range`` gives it.

    Examples
    --------
    >>> z = sp.Symbol("z", real=True)
    >>> real_range(1 - sp.tanh(z) ** 2, z)
    Interval.Lopen(0, 1)
    >>> real_range(z**2 - 2 * z, z, sp.Interval(0, 3))
    Interval(-1, 3)
    >>> real_range(sp.sin(z), z)
    Interval(-1, 1)
    """
    found = _by_extreme_values(expr, var, domain)
    return function_range(expr, var, domain) if found is None else found


def _by_extreme_values(expr: sp.Expr, var: sp.Symbol, domain: sp.Set) -> sp.Set | None:
    """The range from critical points and ends, or None where that does not apply."""
    if not isinstance(domain, sp.Interval) or domain.is_empty:
        return None
    if continuous_domain(expr, var, domain) != domain:
        return None
    critical = sp.solveset(sp.diff(expr, var), var, domain)
    if not isinstance(critical, sp.FiniteSet) and critical is not sp.S.EmptySet:
        return None
    attained = [expr.xreplace({var: c}) for c in critical]
    approached = []
    for end, is_open, side in (
        (domain.left, domain.left_open, "+"),
        (domain.right, domain.right_open, "-"),
    ):
        if is_open:
            approached.append(_limit(expr, var, end, side))
        else:
            attained.append(expr.xreplace({var: end}))
    values = attained + approached
    if not all(v.is_number and v.is_extended_real for v in values):
        return None
    low, high = sp.Min(*values), sp.Max(*values)
    if low not in values or high not in values:  # SymPy could not order them
        return None
    return sp.Interval(low, high, not _is_among(low, attained), not _is_among(high, attained))


def _limit(expr: sp.Expr, var: sp.Symbol, end: sp.Expr, side: str) -> sp.Expr:
    """``lim expr`` as ``var`` tends to ``end`` from ``side``; cheap at infinities."""
    if end.is_infinite:
        value = expr.xreplace({var: end})
        if value.is_extended_real and not value.has(sp.nan, sp.zoo, sp.AccumBounds):
            return value
    return sp.limit(expr, var, end, side)


def _is_among(value: sp.Expr, values: list[sp.Expr]) -> bool:
    return bool(value.is_finite) and any(sp.simplify(value - v) == 0 for v in values)
