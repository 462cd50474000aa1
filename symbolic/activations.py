"""Elementwise activations and the constant ``gamma = sup |f'|``.

An activation is a SymPy ``Lambda`` in the fixed variable :data:`z`.  Using one
fixed variable (not a ``Dummy``) makes two activations built from the same
formula compare equal, which the LaTeX printer relies on to recognise them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import sympy as sp

from .ranges import real_range

__all__ = ["Activation", "ACTIVATIONS", "activation", "z"]

#: The variable every activation ``Lambda`` is written in.
z = sp.Symbol("z", real=True)


@dataclass(frozen=True)
class Activation:
    """A scalar nonlinearity applied elementwise.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"tanh"``.
    latex : str
        LaTeX for the function name, e.g. ``r"\\tanh"``.
    function : sympy.Lambda
        The function, written in :data:`z`.

    Examples
    --------
    >>> activation("sigmoid").gamma
    1/4
    >>> activation("tanh").derivative
    Lambda(z, 1 - tanh(z)**2)
    """

    name: str
    latex: str
    function: sp.Lambda

    def __post_init__(self) -> None:
        if not isinstance(self.function, sp.Lambda) or len(self.function.variables) != 1:
            raise TypeError(f"activation {self.name!r} needs a one-variable sympy.Lambda")
        # Re-express in z; Lambda(z, z) becomes SymPy's IdentityFunction, so
        # always go through a call rather than reading ``.expr``.
        object.__setattr__(self, "function", sp.Lambda(z, self.function(z)))

    @cached_property
    def derivative(self) -> sp.Lambda:
        """``f'`` as a ``Lambda`` in :data:`z` (the a.e. derivative for kinks)."""
        return sp.Lambda(z, sp.diff(self.function(z), z))

    @cached_property
    def derivative_range(self) -> sp.Set:
        """The set of values ``f'`` takes on the real line, computed by SymPy."""
        return _range_over_reals(self.derivative.expr)

    @cached_property
    def gamma(self) -> sp.Expr:
        """``sup_z |f'(z)|``, derived from :attr:`derivative_range`."""
        rng = self.derivative_range
        return sp.Max(sp.Abs(rng.inf), sp.Abs(rng.sup))

    def __call__(self, arg: sp.Basic) -> sp.Basic:
        """Apply elementwise to a matrix expression, or to a scalar."""
        if isinstance(arg, sp.MatrixExpr):
            return arg.applyfunc(self.function)
        return self.function(arg)


def _range_over_reals(expr: sp.Expr) -> sp.Set:
    """Range of ``expr(z)`` over the reals, splitting piecewise definitions."""
    if expr.has(sp.Heaviside, sp.sign):
        expr = expr.rewrite(sp.Piecewise)
    if not isinstance(expr, sp.Piecewise):
        return real_range(expr, z)
    pieces = []
    remaining = sp.S.Reals
    for piece, cond in expr.args:
        domain = remaining.intersect(cond.as_set())
        remaining = remaining - domain
        if domain.is_empty:
            continue
        if isinstance(domain, sp.FiniteSet):
            pieces.append(sp.FiniteSet(*[piece.subs(z, p) for p in domain]))
        else:
            pieces.append(real_range(piece, z, domain))
    return sp.Union(*pieces)


def _registry() -> dict[str, Activation]:
    acts = [
        Activation("tanh", r"\tanh", sp.Lambda(z, sp.tanh(z))),
        Activation("sigmoid", r"\sigma", sp.Lambda(z, 1 / (1 + sp.exp(-z)))),
        Activation("relu", r"\operatorname{relu}", sp.Lambda(z, sp.Max(0, z))),
        Activation("identity", r"\operatorname{id}", sp.Lambda(z, z)),
    ]
    return {a.name: a for a in acts}


#: Activations known by name.  Extend by constructing :class:`Activation`.
ACTIVATIONS: dict[str, Activation] = _registry()


def activation(spec: str | Activation | sp.Lambda) -> Activation:
    """Look up an activation by registry name, or wrap a ``Lambda``.

    Text is only ever used as a registry key, never parsed.

    Examples
    --------
    >>> activation("relu").gamma
    1
    >>> import sympy as sp
    >>> activation(sp.Lambda(sp.Symbol("u"), sp.atan(sp.Symbol("u")))).gamma
    1
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, sp.Lambda):
        return Activation("f", "f", spec)
    if isinstance(spec, str) and spec in ACTIVATIONS:
        return ACTIVATIONS[spec]
    known = ", ".join(sorted(ACTIVATIONS))
    raise ValueError(f"unknown activation {spec!r}; choose one of: {known}")
