import pytest
import sympy as sp
from sympy.calculus.util import function_range

import symbolic.ranges as ranges
from symbolic.ranges import real_range

z = sp.Symbol("z", real=True)
sigmoid = 1 / (1 + sp.exp(-z))

CASES = [
    # expression, domain, its range (worked by hand)
    (1 - sp.tanh(z) ** 2, sp.S.Reals, sp.Interval.Lopen(0, 1)),  # tanh(±oo) = ±1
    (sp.diff(sigmoid, z), sp.S.Reals, sp.Interval.Lopen(0, sp.Rational(1, 4))),  # oo/oo at -oo
    (sigmoid, sp.S.Reals, sp.Interval.open(0, 1)),
    (sp.atan(z), sp.S.Reals, sp.Interval.open(-sp.pi / 2, sp.pi / 2)),
    (sp.exp(z), sp.S.Reals, sp.Interval.open(0, sp.oo)),
    (z * sp.exp(-z), sp.S.Reals, sp.Interval(-sp.oo, sp.exp(-1))),  # 0 * oo at +oo
    (z * sp.exp(-(z**2)), sp.S.Reals, sp.Interval(-1 / sp.sqrt(2 * sp.E), 1 / sp.sqrt(2 * sp.E))),
    (z**3 - z, sp.S.Reals, sp.S.Reals),
    (z**2 - 2 * z, sp.Interval(0, 3), sp.Interval(-1, 3)),  # closed ends attained
    (z**2 - 2 * z, sp.Interval.open(1, 3), sp.Interval.open(-1, 3)),  # approached at open ends
    (sp.sin(z), sp.S.Reals, sp.Interval(-1, 1)),  # infinitely many critical points: SymPy's route
    (1 / z, sp.S.Reals, sp.S.Reals - {0}),  # not continuous: SymPy's route
    (sp.Integer(3), sp.S.Reals, sp.FiniteSet(3)),  # constant: every point critical
]


@pytest.mark.parametrize(
    ("expr", "domain", "expected"), CASES, ids=[f"{e} on {d}" for e, d, _ in CASES]
)
def test_the_range_is_the_one_worked_by_hand_and_sympys(expr, domain, expected):
    assert real_range(expr, z, domain) == expected == function_range(expr, z, domain)


def test_an_end_value_attained_elsewhere_closes_the_interval():
    """``z**2`` on ``(-1, 1]`` takes 1 at ``z = 1``; SymPy 1.14's function_range says ``[0, 1)``."""
    assert real_range(z**2, z, sp.Interval.Lopen(-1, 1)) == sp.Interval(0, 1)


def test_infinities_are_substituted_only_when_determinate(monkeypatch):
    calls = []
    sympy_limit = sp.limit

    def limit(expr, var, end, side):
        calls.append((expr, end))
        return sympy_limit(expr, var, end, side)

    monkeypatch.setattr(sp, "limit", limit)
    assert real_range(1 - sp.tanh(z) ** 2, z) == sp.Interval.Lopen(0, 1)
    assert calls == []  # tanh(±oo) = ±1: no limit needed
    assert real_range(z * sp.exp(-z), z) == sp.Interval(-sp.oo, sp.exp(-1))
    assert calls == [(z * sp.exp(-z), sp.oo)]  # oo * 0 is nan: the limit decides


@pytest.mark.parametrize("wrong", ["always closed", "always open"])
def test_wrong_ends_fail_the_comparison(monkeypatch, wrong):
    """Teeth: getting attained-versus-approached wrong changes some range in CASES."""
    monkeypatch.setattr(ranges, "_is_among", lambda value, values: wrong == "always closed")
    assert any(real_range(e, z, d) != expected for e, d, expected in CASES)
