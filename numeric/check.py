"""The one numeric checker: Jacobians against central differences.

Following ``autograd.test_util.check_grads``: compare ``J u`` with the
central difference ``(f(x + eps u) - f(x - eps u)) / (2 eps)`` along random
unit directions ``u``, so no full finite-difference Jacobian is ever built.
Every test, notebook and derivation step that checks a Jacobian numerically
calls :func:`check_jacobian`; the tolerances live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CheckResult", "check_jacobian", "FD_EPS", "FD_RTOL", "RTOL"]

#: Step of the central difference (truncation error O(eps^2) ~ 1e-10).
FD_EPS = 1e-5
#: Relative tolerance of a Jacobian-vector product against central differences.
FD_RTOL = 1e-6
#: Relative tolerance between two exact float64 computations of the same value.
RTOL = 1e-9


@dataclass(frozen=True)
class CheckResult:
    """Outcome of a numeric check: whether it passed and the worst error seen."""

    passed: bool
    max_error: float
    tolerance: float
    detail: str

    def __bool__(self) -> bool:
        return self.passed


def check_jacobian(
    f: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    x: np.ndarray,
    *,
    directions: int = 4,
    seed: int = 0,
    eps: float = FD_EPS,
    rtol: float = FD_RTOL,
) -> CheckResult:
    """Check ``jacobian(x)`` against central differences of ``f`` at ``x``.

    Parameters
    ----------
    f : callable
        Maps ``(..., q)`` arrays to ``(..., p)`` arrays (a leading batch axis
        is allowed and checked elementwise).
    jacobian : callable or ndarray
        The claimed ``df/dx`` at ``x``, ``(..., p, q)``, numerator layout.
    x : ndarray
        The point, ``(..., q)``.
    directions : int
        How many random unit directions to test.
    seed : int
        Seed of the directions, so checks are reproducible.

    Returns
    -------
    CheckResult
        ``max_error`` is ``max (|fd - J u| - noise) / (|J u| + |fd| + scale)``
        over the directions, where ``noise = 10 eps_mach |f| / eps`` is the
        rounding floor of the central difference (a product of many
        contracting Jacobians can sit below it) and ``scale = 1e-3 ||J||``
        keeps directions in the null space from dividing by zero.

    Examples
    --------
    >>> A = np.array([[2.0, 1.0], [0.0, 3.0]])
    >>> f = lambda v: np.tanh(v @ A.T)
    >>> exact = lambda v: (1 - f(v) ** 2)[:, None] * A
    >>> check_jacobian(f, exact, np.array([0.1, -0.2])).passed
    True
    >>> check_jacobian(f, A, np.array([0.1, -0.2])).passed
    False
    """
    x = np.asarray(x, dtype=float)
    J = np.asarray(jacobian(x) if callable(jacobian) else jacobian, dtype=float)
    rng = np.random.default_rng(seed)
    scale = 1e-3 * np.linalg.norm(J, axis=(-2, -1)) + np.finfo(float).tiny
    worst = 0.0
    for _ in range(directions):
        u = rng.standard_normal(x.shape)
        u /= np.linalg.norm(u, axis=-1, keepdims=True)
        f_plus, f_minus = np.asarray(f(x + eps * u)), np.asarray(f(x - eps * u))
        fd = (f_plus - f_minus) / (2 * eps)
        noise = (
            10
            * np.finfo(float).eps
            * (np.linalg.norm(f_plus, axis=-1) + np.linalg.norm(f_minus, axis=-1))
            / (2 * eps)
        )
        ju = np.einsum("...ij,...j->...i", J, u)
        diff = np.maximum(np.linalg.norm(fd - ju, axis=-1) - noise, 0.0)
        size = np.linalg.norm(ju, axis=-1) + np.linalg.norm(fd, axis=-1) + scale
        worst = max(worst, float(np.max(diff / size)))
    passed = bool(np.isfinite(worst) and worst <= rtol)
    detail = f"central differences along {directions} random directions: max rel. error {worst:.1e}"
    return CheckResult(passed, worst, rtol, detail)
