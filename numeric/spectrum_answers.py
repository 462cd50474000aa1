"""What ``gradproof flow --spectrum K`` adds: singular values, Lyapunov exponents, ``lambda_1 <= ln B``.

For the network measured (one cell, or a stack) and its run:

- ``log10_singular_values``: row ``k-1`` holds ``log10`` of the ``K``
  largest singular values of ``ds_T/ds_{T-k}``, largest first
  (:func:`numeric.singular_values.log10_singular_values`); its first column
  is ``log10_norm``;
- ``lyapunov_exponents``: the ``K`` largest Lyapunov exponents of the
  forward step Jacobians ``J_1, ..., J_T`` by the QR method, natural log
  per step (:func:`numeric.lyapunov.lyapunov_exponents`);
- the relation a step bound implies: ``|R_t[1, 1]| <= ||J_t||_2 <= B`` at
  every step, so ``lambda_1 <= ln B``
  (:func:`numeric.lyapunov.check_lyapunov_bound`), shown as
  ``lyapunov_check`` for a cell with a bound; for a stack, whose step
  Jacobian no layer's bound limits, as ``layer_lyapunov_checks``: each
  layer's largest exponent of its own step Jacobians against ``ln B_l``
  (:func:`numeric.stack.layer_lyapunov_exponents`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from .bounds import EvaluatedBound
from .compile import CompiledCell
from .flow_answers import table_rows
from .lyapunov import check_lyapunov_bound, lyapunov_exponents
from .singular_values import log10_singular_values
from .stack import StackedCell, layer_lyapunov_exponents

__all__ = ["lyapunov_check", "spectrum_answer"]

#: Exponents a text answer lists before it skips to the last.
SHOWN = 6


def lyapunov_check(exponents: np.ndarray, bound: EvaluatedBound | None) -> dict | None:
    """``lambda_1 <= ln B`` as JSON-ready fields, or None where there is no bound.

    Examples
    --------
    >>> b = EvaluatedBound(0.9, "sigma_max(W)", 1.0, 0.9, None)
    >>> check = lyapunov_check(np.array([-0.2, -0.7]), b)
    >>> check["passed"], round(check["ln_step_bound"], 6)
    (True, -0.105361)
    """
    if bound is None:
        return None
    result = check_lyapunov_bound(exponents, bound)
    return {
        "largest_exponent": float(np.max(exponents)),
        "ln_step_bound": bound.log10_value * math.log(10),
        "passed": result.passed,
        "detail": result.detail,
    }


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _relation(check: dict | None) -> str:
    if check is None:
        return "not checked: no step bound declared"
    return f"{'holds' if check['passed'] else 'FAILS'} ({check['detail']})"


def spectrum_answer(
    model: CompiledCell | StackedCell,
    params: Mapping[str, np.ndarray],
    inputs: np.ndarray,
    s0: np.ndarray,
    count: int,
    bound: EvaluatedBound | Sequence[EvaluatedBound | None] | None,
) -> tuple[dict, list[str]]:
    """The JSON-ready spectra of a run and their lines of text.

    ``bound`` is the cell's step bound (None: none declared), or for a stack
    each layer's.

    Examples
    --------
    >>> from numeric.compile import compile_cell
    >>> from numeric.bounds import evaluate_bound
    >>> from symbolic.rnn import elman_rnn
    >>> cell = elman_rnn("tanh")
    >>> params = {"W": np.diag([0.9, 0.5]), "U": np.zeros((2, 1)), "b": np.zeros(2)}
    >>> result, lines = spectrum_answer(compile_cell(cell, n=2, m=1), params,
    ...     np.zeros((3, 1)), np.zeros(2), 2, evaluate_bound(cell, params))
    >>> np.round(result["lyapunov_exponents"], 6), result["lyapunov_check"]["passed"]
    (array([-0.105361, -0.693147]), True)
    >>> print("\\n".join(lines))
    singular values of ds_T/ds_{T-k}, the 2 largest, log10
           k   log10 sigma_1   log10 sigma_2
           1       -0.045757       -0.301030
           2       -0.091515       -0.602060
           3       -0.137272       -0.903090
    Lyapunov exponents over the 3 steps (QR method, natural log per step), the 2 leading: -0.1054, -0.6931
    lambda_1 <= ln B: holds (largest Lyapunov exponent -0.1054 per step <= ln B = -0.1054 (B = sigma_max(W) = 0.9))
    """
    logs = log10_singular_values(model, params, inputs, s0, count=count)
    exponents = lyapunov_exponents(model, params, inputs, s0, count=count)
    result = {"log10_singular_values": logs, "lyapunov_exponents": exponents}
    columns = [0] if count == 1 else [0, count - 1]
    lines = [
        f"singular values of ds_T/ds_{{T-k}}, the {count} largest, log10",
        f"{'k':>8}" + "".join(f"  {f'log10 sigma_{i + 1}':>14}" for i in columns),
    ]
    for k in table_rows(len(logs)):
        lines.append(f"{k:>8}" + "".join(f"  {logs[k - 1, i]:14.6f}" for i in columns))
    shown = [_number(v) for v in exponents[:SHOWN]]
    if count > SHOWN:
        shown[-1:] = ["...", _number(exponents[-1])]
    lines.append(
        f"Lyapunov exponents over the {len(logs)} steps (QR method, natural log per step), "
        f"the {count} leading: " + ", ".join(shown)
    )
    if not isinstance(model, StackedCell):
        result["lyapunov_check"] = lyapunov_check(exponents, bound)
        lines.append(f"lambda_1 <= ln B: {_relation(result['lyapunov_check'])}")
        return result, lines
    if all(b is None for b in bound):
        checks = [None] * model.depth
    else:
        tops = layer_lyapunov_exponents(model, inputs, s0, count=1)
        checks = [lyapunov_check(e, b) for e, b in zip(tops, bound, strict=True)]
    result["layer_lyapunov_checks"] = checks
    if all(check is None for check in checks):
        lines.append(f"each layer's lambda_1 <= ln B_l: {_relation(None)}")
    else:
        lines.append("each layer's own step Jacobians: lambda_1 <= ln B_l")
        lines += [f"  layer {j}: {_relation(check)}" for j, check in enumerate(checks)]
    return result, lines
