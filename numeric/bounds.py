"""A cell's declared step bound, evaluated at real weights, and what it implies.

A :class:`~symbolic.bounds.StepBound` says ``||ds_t/ds_{t-1}||_2 <= B`` at
every state and input, so ``||ds_T/ds_{T-k}||_2 <= B^k`` (Pascanu, Mikolov
and Bengio 2013, eq. 6-7, for the Elman RNN's ``B = gamma sigma_max(W)``).
:func:`evaluate_bound` computes ``B`` at given parameters,
:func:`check_bound` compares a measured curve with ``B^k``, :func:`verdict`
reads the sufficient condition ``B < 1`` beside the measured trend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symbolic.bounds import MaxAbs, SigmaMax
from symbolic.cells import Cell
from symbolic.printers import text

from .check import RTOL, CheckResult
from .compile import lambdify_matrix
from .flow import decay_rate, measured_trend
from .weights import cell_sizes

__all__ = [
    "EvaluatedBound",
    "Verdict",
    "check_bound",
    "evaluate_bound",
    "log10_bound",
    "spectral_norm",
    "verdict",
]


def spectral_norm(A: np.ndarray) -> float:
    """``sigma_max(A)``, scaled first so that entries near 1e308 do not overflow the SVD.

    Examples
    --------
    >>> spectral_norm(np.array([[3.0, 0.0], [0.0, -4.0]]))
    4.0
    >>> spectral_norm(np.full((2, 2), 1e300)) / 1e300
    2.0
    """
    A = np.atleast_2d(np.asarray(A, dtype=float))
    peak = float(np.max(np.abs(A))) if A.size else 0.0
    if peak == 0.0:
        return 0.0
    return peak * float(np.linalg.norm(A / peak, 2))


@dataclass(frozen=True)
class EvaluatedBound:
    """A cell's step bound at concrete parameters.

    ``value`` is ``B``; ``gamma`` the activation constant and ``sigma_max``,
    ``spectral_radius`` those of the bound's matrix, where it declares them.
    ``formula`` is ``B`` in plain text (``gamma sigma_max(W)`` style).
    """

    value: float
    formula: str
    gamma: float | None
    sigma_max: float | None
    spectral_radius: float | None


def _matrix_value(expr: sp.Basic, params: Mapping[str, np.ndarray], cell: Cell) -> np.ndarray:
    """A matrix or vector expression in the cell's parameters, at their values."""
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        return np.asarray(params[expr.name], dtype=float)
    sizes = cell_sizes(cell, params)
    subs = {d: sizes[str(d)] for d in cell.dims if str(d) in sizes}
    function = lambdify_matrix(list(cell.params), [expr], sizes=subs)
    (value,) = function(*(params[p.name] for p in cell.params))
    return np.asarray(value, dtype=float)


def _value(expr: sp.Expr, params: Mapping[str, np.ndarray], cell: Cell) -> float:
    values = {p: sp.Float(float(params[p.name])) for p in cell.params if isinstance(p, sp.Symbol)}
    for f in expr.atoms(SigmaMax):
        values[f] = sp.Float(spectral_norm(_matrix_value(f.args[0], params, cell)))
    for f in expr.atoms(MaxAbs):
        values[f] = sp.Float(float(np.max(np.abs(_matrix_value(f.args[0], params, cell)))))
    return float(expr.xreplace(values))


def evaluate_bound(cell: Cell, params: Mapping[str, np.ndarray]) -> EvaluatedBound | None:
    """The cell's declared step bound at ``params``, or None where it declares none.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": np.diag([0.5, -2.0]), "U": np.ones((2, 1)), "b": np.zeros(2)}
    >>> b = evaluate_bound(elman_rnn("sigmoid"), params)
    >>> b.value, b.gamma, b.sigma_max, b.formula
    (0.5, 0.25, 2.0, 'sigma_max(W)/4')
    """
    bound = cell.bound
    if bound is None:
        return None
    sigma = radius = None
    if bound.matrix is not None:
        M = np.atleast_2d(_matrix_value(bound.matrix, params, cell))
        sigma = spectral_norm(M)
        if M.shape[0] == M.shape[1] and np.all(np.isfinite(M)):
            peak = float(np.max(np.abs(M))) or 1.0
            radius = peak * float(np.max(np.abs(np.linalg.eigvals(M / peak))))
    gamma = None if bound.gamma is None else float(bound.gamma)
    return EvaluatedBound(
        _value(bound.value, params, cell), text(bound.value), gamma, sigma, radius
    )


def log10_bound(step_bound: float, steps: int) -> np.ndarray:
    """``k log10(B)`` for k = 1..steps: the bound ``B^k`` on ``||ds_T/ds_{T-k}||_2``.

    Examples
    --------
    >>> log10_bound(0.1, 3)
    array([-1., -2., -3.])
    """
    per_step = math.log10(step_bound) if step_bound > 0 else -math.inf
    return per_step * np.arange(1, steps + 1, dtype=float)


def check_bound(log10_norm: np.ndarray, step_bound: float, *, rtol: float = RTOL) -> CheckResult:
    """Does every measured norm respect ``B^k``?

    Each of the k factors may carry a relative rounding error ``rtol``, so
    the allowance at k is ``k log10(1 + rtol)`` decades.

    Examples
    --------
    >>> check_bound(np.array([-0.1, -0.2]), 0.8).passed
    True
    >>> check_bound(np.array([-0.1, -0.2]), 0.4).passed
    False
    """
    logs = np.asarray(log10_norm, dtype=float)
    k = np.arange(1, len(logs) + 1)
    bound = log10_bound(step_bound, len(logs))
    with np.errstate(invalid="ignore"):
        excess = np.where(logs == -np.inf, -np.inf, logs - bound - k * math.log10(1 + rtol))
    worst = float(np.max(excess)) if len(logs) else -math.inf
    passed = bool(worst <= 0.0)
    where = int(np.argmax(excess)) + 1 if len(logs) else 0
    detail = f"bound B^k with B = {step_bound:g}: " + (
        "holds for every k" if passed else f"exceeded by {worst:.3g} decades at k={where}"
    )
    return CheckResult(passed, max(worst, 0.0), rtol, detail)


@dataclass(frozen=True)
class Verdict:
    """What the declared bound guarantees and what the measurement shows.

    ``vanishing_guaranteed`` is the sufficient condition ``B < 1``;
    ``exploding_possible`` says ``B > 1``, which allows growth without
    implying it; both are false when ``B`` is 1 to within ``RTOL``, and
    None where the cell declares no bound.  ``measured`` reads the decay
    rate: neutral when the norm changes by less than a factor 10 over the
    whole horizon.
    """

    step_bound: float | None
    vanishing_guaranteed: bool | None
    exploding_possible: bool | None
    decay_rate: float
    measured: str
    summary: str

    def as_dict(self) -> dict:
        """JSON-ready fields (a non-finite number becomes ``None``)."""
        finite = {
            k: (v if v is None or math.isfinite(v) else None)
            for k, v in (("step_bound", self.step_bound), ("decay_rate", self.decay_rate))
        }
        return {
            "step_bound": finite["step_bound"],
            "vanishing_guaranteed": self.vanishing_guaranteed,
            "exploding_possible": self.exploding_possible,
            "decay_rate": finite["decay_rate"],
            "measured": self.measured,
            "summary": self.summary,
        }


def verdict(bound: EvaluatedBound | None, log10_norm: np.ndarray) -> Verdict:
    """Combine the declared bound's condition with the measured rate.

    Examples
    --------
    >>> b = EvaluatedBound(0.9, "gamma sigma_max(W)", 1.0, 0.9, None)
    >>> v = verdict(b, np.log10(0.8) * np.arange(1, 101))
    >>> v.vanishing_guaranteed, v.measured
    (True, 'vanishing')
    >>> print(v.summary)
    vanishing guaranteed: B = gamma sigma_max(W) = 0.9 < 1 (gamma = 1, sigma_max = 0.9); measured: vanishing, -0.09691 decades per step
    >>> print(verdict(None, np.zeros(5)).summary)
    no norm bound declared for this cell; measured: neutral, 0 decades per step
    """
    rate = decay_rate(log10_norm)
    measured = measured_trend(rate, len(log10_norm))
    if rate == -math.inf:
        zero_at = int(np.argmax(np.asarray(log10_norm) == -np.inf)) + 1
        observed = f"vanishing, the product is exactly zero from k = {zero_at} on"
    else:
        observed = f"{measured}, {rate:.4g} decades per step"
    if bound is None:
        summary = f"no norm bound declared for this cell; measured: {observed}"
        return Verdict(None, None, None, rate, measured, summary)
    B = bound.value
    constants = [
        f"{name} = {v:.4g}"
        for name, v in (("gamma", bound.gamma), ("sigma_max", bound.sigma_max))
        if v is not None
    ]
    named = f"B = {bound.formula} = {B:.4g}"
    # B carries rounding error, so a value within RTOL of 1 is 1: claiming a
    # guarantee there would rest on the last bit of an SVD.
    below, above = B < 1.0 - RTOL, B > 1.0 + RTOL
    if below:
        condition = f"vanishing guaranteed: {named} < 1"
    elif above:
        condition = f"exploding possible, not implied: {named} > 1"
    else:
        condition = f"borderline: {named}, no explosion, vanishing not guaranteed"
    if constants:
        condition += f" ({', '.join(constants)})"
    return Verdict(B, below, above, rate, measured, f"{condition}; measured: {observed}")
