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

import mpmath
import numpy as np
import sympy as sp

from symbolic.bounds import MaxAbs, SigmaMax
from symbolic.cells import Cell
from symbolic.printers import text

from .check import RTOL, CheckResult
from .flow import decay_rate, measured_trend
from .matrix_code import lambdify_matrix
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
    return float(_beyond_float64(A, _scaled_norm))


@dataclass(frozen=True)
class EvaluatedBound:
    """A cell's step bound at concrete parameters.

    ``value`` is ``B``; ``gamma`` the activation constant and ``sigma_max``,
    ``spectral_radius`` those of the bound's matrix, where it declares them.
    ``formula`` is ``B`` in plain text (``gamma sigma_max(W)`` style).  The
    ``log10_*`` fields are the base-10 logarithms of the three numbers,
    finite even where a number is beyond float64 (and then ``inf``); for a
    finite number they are always taken from it.
    """

    value: float
    formula: str
    gamma: float | None
    sigma_max: float | None
    spectral_radius: float | None
    log10_value: float | None = None
    log10_sigma_max: float | None = None
    log10_spectral_radius: float | None = None

    def __post_init__(self) -> None:
        # A finite number is its own logarithm's source (so that
        # dataclasses.replace(bound, value=...) stays consistent); only an
        # infinite one needs the logarithm given.
        for name in ("value", "sigma_max", "spectral_radius"):
            number = getattr(self, name)
            if number is not None and (
                math.isfinite(number) or getattr(self, f"log10_{name}") is None
            ):
                log = math.log10(number) if number > 0 else -math.inf
                object.__setattr__(self, f"log10_{name}", log)

    def shown(self, name: str, digits: int = 6) -> str:
        """``value``, ``sigma_max`` or ``spectral_radius`` in text, beyond float64 too.

        Examples
        --------
        >>> b = EvaluatedBound(math.inf, "sigma_max(W)", 1.0, math.inf, None, 308.90309, 308.90309)
        >>> b.shown("value"), b.shown("gamma", 4)
        ('8e+308', '1')
        """
        number = getattr(self, name)
        log = getattr(self, f"log10_{name}", None)
        if math.isfinite(number) or log is None or not math.isfinite(log):
            return f"{number:.{digits}g}"
        exponent = math.floor(log)
        return f"{10 ** (log - exponent):.{digits}g}e+{exponent}"


def _matrix_value(expr: sp.Basic, params: Mapping[str, np.ndarray], cell: Cell) -> np.ndarray:
    """A matrix or vector expression in the cell's parameters, at their values."""
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        return np.asarray(params[expr.name], dtype=float)
    sizes = cell_sizes(cell, params)
    subs = {d: sizes[str(d)] for d in cell.dims if str(d) in sizes}
    function = lambdify_matrix(list(cell.params), [expr], sizes=subs)
    (value,) = function(*(params[p.name] for p in cell.params))
    return np.asarray(value, dtype=float)


def _value(expr: sp.Expr, params: Mapping[str, np.ndarray], cell: Cell) -> sp.Float:
    """``expr`` at ``params``, as a SymPy float, whose exponent has no float64 limit."""
    values = {p: sp.Float(float(params[p.name])) for p in cell.params if isinstance(p, sp.Symbol)}
    for f in expr.atoms(SigmaMax):
        values[f] = _beyond_float64(_matrix_value(f.args[0], params, cell), _scaled_norm)
    for f in expr.atoms(MaxAbs):
        values[f] = sp.Float(float(np.max(np.abs(_matrix_value(f.args[0], params, cell)))))
    return sp.Float(expr.xreplace(values).evalf())


def _scaled_norm(A: np.ndarray) -> float:
    return float(np.linalg.norm(A, 2))


def _scaled_radius(A: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(A))))


def _beyond_float64(M: np.ndarray, of_scaled) -> sp.Float:
    """A norm-like ``f(M) = peak f(M / peak)``, as a SymPy float even past 1e308."""
    M = np.atleast_2d(np.asarray(M, dtype=float))
    peak = float(np.max(np.abs(M))) if M.size else 0.0
    if peak == 0.0:
        return sp.Float(0)
    return sp.Float(peak) * sp.Float(of_scaled(M / peak))


def _log10(number: sp.Float) -> float:
    return float(mpmath.log10(mpmath.mpf(number))) if number > 0 else -math.inf


def evaluate_bound(cell: Cell, params: Mapping[str, np.ndarray]) -> EvaluatedBound | None:
    """The cell's declared step bound at ``params``, or None where it declares none.

    Examples
    --------
    >>> from symbolic.rnn import elman_rnn
    >>> params = {"W": 2 * np.eye(3), "U": np.ones((3, 1)), "b": np.zeros(3)}
    >>> b = evaluate_bound(elman_rnn("sigmoid"), params)
    >>> b.value, b.gamma, b.sigma_max, b.formula
    (0.5, 0.25, 2.0, 'sigma_max(W)/4')

    Weights of 1e308 give a bound beyond float64, whose logarithm is still known:

    >>> b = evaluate_bound(elman_rnn("tanh"), {**params, "W": np.full((3, 3), 1e308)})
    >>> b.value, round(b.log10_value, 4), b.shown("sigma_max")
    (inf, 308.4771, '3e+308')
    """
    bound = cell.bound
    if bound is None:
        return None
    numbers = {}
    if bound.matrix is not None:
        M = np.atleast_2d(_matrix_value(bound.matrix, params, cell))
        numbers["sigma_max"] = _beyond_float64(M, _scaled_norm)
        if M.shape[0] == M.shape[1] and np.all(np.isfinite(M)):
            numbers["spectral_radius"] = _beyond_float64(M, _scaled_radius)
    numbers["value"] = _value(bound.value, params, cell)
    gamma = None if bound.gamma is None else float(bound.gamma)
    return EvaluatedBound(
        float(numbers["value"]),
        text(bound.value),
        gamma,
        *(float(numbers[k]) if k in numbers else None for k in ("sigma_max", "spectral_radius")),
        *(
            _log10(numbers[k]) if k in numbers else None
            for k in ("value", "sigma_max", "spectral_radius")
        ),
    )


def log10_bound(step_bound: float | EvaluatedBound, steps: int) -> np.ndarray:
    """``k log10(B)`` for k = 1..steps: the bound ``B^k`` on ``||ds_T/ds_{T-k}||_2``.

    ``step_bound`` is ``B``, or an :class:`EvaluatedBound`, whose logarithm
    is used (finite even where ``B`` is beyond float64).

    Examples
    --------
    >>> log10_bound(0.1, 3)
    array([-1., -2., -3.])
    """
    if isinstance(step_bound, EvaluatedBound):
        per_step = step_bound.log10_value
    else:
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
        f"{name} = {bound.shown(name, 4)}"
        for name in ("gamma", "sigma_max")
        if getattr(bound, name) is not None
    ]
    named = f"B = {bound.formula} = {bound.shown('value', 4)}"
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
