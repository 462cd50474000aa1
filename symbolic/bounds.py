"""Per-step norm bounds as data: what a cell declares, the derivation proves
and the flow engine measures against.

A bound says ``||ds_t/ds_{t-1}||_2 <= B`` at every state and input, with
``B`` a SymPy expression in the cell's parameters built from two norms:

- :class:`SigmaMax` ``(A)``, the largest singular value of a matrix
  expression (the spectral norm);
- :class:`MaxAbs` ``(v)``, the largest absolute entry ``max_i |v_i|`` of a
  vector, which is the spectral norm of ``diag(v)``.

Submultiplicativity then gives ``||ds_T/ds_k||_2 <= B^(T-k)``.  Examples:
the Elman RNN's ``gamma sigma_max(W)`` (Pascanu, Mikolov and Bengio 2013,
eq. 6-7), IndRNN's ``gamma max_i |u_i|`` (Li et al. 2018), the antisymmetric
RNN's ``1 + epsilon sigma_max(W - W^T - gamma I)`` (Chang et al. 2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

__all__ = ["MaxAbs", "SigmaMax", "StepBound"]


class SigmaMax(sp.Function):
    """``sigma_max(A)``: the largest singular value of the matrix expression ``A``.

    Examples
    --------
    >>> W = sp.MatrixSymbol("W", 3, 3)
    >>> SigmaMax(W).is_nonnegative
    True
    """

    nargs = 1
    is_real = True
    is_nonnegative = True


class MaxAbs(sp.Function):
    """``max_i |v_i|``: the largest absolute entry of the vector expression ``v``.

    Examples
    --------
    >>> u = sp.MatrixSymbol("u", 3, 1)
    >>> (2 * MaxAbs(u)).has(MaxAbs)
    True
    """

    nargs = 1
    is_real = True
    is_nonnegative = True


@dataclass(frozen=True)
class StepBound:
    """``||ds_t/ds_{t-1}||_2 <= value`` for every state and input.

    Parameters
    ----------
    value : sympy.Expr
        The per-step bound, in the cell's parameters, :class:`SigmaMax` and
        :class:`MaxAbs`.  Scalar parameters are assumed positive.
    reason : str
        Why it holds, one line (inline math in ``$...$``).
    gamma : sympy.Expr, optional
        The activation constant ``sup |f'|`` the bound uses, if any.
    matrix : sympy.MatrixExpr, optional
        The matrix whose singular values and spectral radius the flow
        reports beside the bound (e.g. ``W``).

    Examples
    --------
    >>> n = sp.Symbol("n", integer=True, positive=True)
    >>> W = sp.MatrixSymbol("W", n, n)
    >>> bound = StepBound(SigmaMax(W), "tanh' <= 1", gamma=sp.S.One, matrix=W)
    >>> bound.value
    SigmaMax(W)
    """

    value: sp.Expr
    reason: str = ""
    gamma: sp.Expr | None = None
    matrix: sp.MatrixExpr | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", sp.sympify(self.value))
        if self.gamma is not None:
            object.__setattr__(self, "gamma", sp.sympify(self.gamma))
        if isinstance(self.value, sp.MatrixExpr) or self.value.is_real is False:
            raise ValueError(f"a step bound is a real scalar expression, got {self.value}")
