"""The running product in log space: norms against mpmath and the exact SVD."""

import functools
import math

import mpmath
import numpy as np
import pytest

from numeric import certified_norms, chain, spectral
from numeric.chain import RowScaled, chain_log10_norms
from numeric.check import RTOL
from numeric.errors import GradproofInputError


def _orthogonal_chain(n, steps, factor, seed, chunk):
    """Chunks of ``factor * Q_t`` with random orthogonal ``Q_t``: norms are ``factor^k``."""
    rng = np.random.default_rng(seed)
    for start in range(0, steps, chunk):
        size = min(chunk, steps - start)
        yield factor * np.linalg.qr(rng.standard_normal((size, n, n)))[0]


def test_log_space_matches_mpmath_at_ten_thousand_steps():
    steps = 10_000
    for factor in (0.9, 1.1):
        logs = chain_log10_norms(_orthogonal_chain(3, steps, factor, seed=4, chunk=512))
        exact = [float(k * mpmath.log10(mpmath.mpf(factor))) for k in (1, 5000, steps)]
        np.testing.assert_allclose(logs[[0, 4999, steps - 1]], exact, rtol=RTOL)
        assert np.all(np.isfinite(logs))
    assert logs[-1] == pytest.approx(414.0, abs=0.1)


def test_diagonal_chain_whose_leading_entry_changes_matches_mpmath(monkeypatch):
    # Force Lanczos (with its warm start) onto small matrices: no exact SVD,
    # and a tracked basis of one vector, which cannot certify every norm of
    # 3 x 3 products as a basis of all three would.  The leading diagonal
    # entry switches along the chain, so a warm start is orthogonal to the
    # answer unless the dither rescues it.
    monkeypatch.setattr(spectral, "EXACT_BELOW", 1)
    monkeypatch.setattr(certified_norms, "EXACT_BELOW", 1)
    monkeypatch.setattr(chain, "ChainNorms", functools.partial(certified_norms.ChainNorms, block=1))
    runs = []
    lanczos = certified_norms.top_singular
    monkeypatch.setattr(
        certified_norms, "top_singular", lambda *a, **k: runs.append(1) or lanczos(*a, **k)
    )
    rng = np.random.default_rng(6)
    steps, n = 10_000, 3
    diag = rng.uniform(0.6, 1.05, size=(steps, n))
    diag[: steps // 2, 0] *= 1.02
    chunks = (
        np.stack([np.diag(d) for d in diag[s : s + 1000][::-1]]) for s in range(0, steps, 1000)
    )
    logs = chain_log10_norms(reversed(list(chunks)))
    sums = [mpmath.mpf(0)] * n
    exact = []
    with mpmath.workdps(40):
        for d in diag[::-1]:
            sums = [
                acc + mpmath.log10(mpmath.mpf(float(v))) for acc, v in zip(sums, d, strict=True)
            ]
            exact.append(float(max(sums)))
    np.testing.assert_allclose(logs, exact, rtol=RTOL, atol=RTOL)
    assert len(runs) > 10


def test_random_chain_below_float64_range_matches_mpmath():
    rng = np.random.default_rng(7)
    steps, n = 300, 3
    jacobians = 0.05 * rng.standard_normal((steps, n, n))
    logs = chain_log10_norms([jacobians.copy()])
    assert logs[-1] < -320  # the plain float64 product would be zero
    with mpmath.workdps(50):
        P = mpmath.eye(n)
        for k, J in enumerate(jacobians, start=1):
            P = P * mpmath.matrix(J.tolist())
            top = max(mpmath.eigsy(P.T * P, eigvals_only=True))
            assert logs[k - 1] == pytest.approx(float(mpmath.log10(top) / 2), rel=RTOL, abs=RTOL)


def _tanh_like_jacobians(n, steps, seed):
    """``diag(tanh'(.)) W`` for random pre-activations: a realistic, decaying chain."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    slopes = 1 - np.tanh(rng.standard_normal((steps, n))) ** 2
    return slopes[:, :, None] * W


@pytest.mark.parametrize("matrices", [False, True])
def test_norms_match_the_exact_svd_to_the_log10_tolerance(matrices):
    # n = 64 is above EXACT_BELOW: the norms come from ChainNorms, certified or Lanczos.
    n, steps = 64, 300
    jacobians = _tanh_like_jacobians(n, steps, seed=16)
    mantissa = np.empty((steps, n, n)) if matrices else None
    logs = chain_log10_norms(
        (jacobians[i : i + 32] for i in range(0, steps, 32)), mantissa=mantissa
    )
    P, exact = np.eye(n), []
    for J in jacobians:
        P = P @ J
        exact.append(math.log10(np.linalg.norm(P, 2)))
    assert np.max(np.abs(logs - exact)) <= certified_norms.LOG10_TOL
    if matrices:
        sigma = np.linalg.norm(mantissa, 2, axis=(1, 2))
        assert np.max(np.abs(np.log10(sigma))) <= certified_norms.LOG10_TOL


def test_norms_only_rescaling_over_nine_hundred_decades():
    # Orthogonal factors times 0.5: every singular value is 0.5^k, far below float64.
    logs = chain_log10_norms(_orthogonal_chain(48, 3000, 0.5, seed=17, chunk=256))
    exact = np.arange(1, 3001) * math.log10(0.5)
    assert logs[-1] < -900
    np.testing.assert_allclose(logs, exact, rtol=0, atol=certified_norms.LOG10_TOL)


def test_a_non_finite_jacobian_is_reported_with_its_k():
    jacobians = np.tile(0.5 * np.eye(3), (6, 1, 1))
    jacobians[4, 1, 2] = np.inf
    with pytest.raises(GradproofInputError, match="not finite at k = 5"):
        chain_log10_norms([jacobians])


def test_a_tiny_factor_is_not_mistaken_for_a_vanished_product():
    # 1e-200 I squares to below float64, yet the product is far from zero.
    jacobians = np.tile(0.5 * np.eye(3), (6, 1, 1))
    jacobians[2] *= 1e-200
    logs = chain_log10_norms([jacobians])
    exact = np.arange(1, 7) * math.log10(0.5) - 200 * (np.arange(1, 7) >= 3)
    np.testing.assert_allclose(logs, exact, rtol=RTOL)


def _orthogonal_factors(n, steps, seed):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return rng.uniform(0.5, 1.0, (steps, n)), Q


@pytest.mark.parametrize("n", [3, 64])
def test_huge_factors_stay_right_in_log_space(n):
    # W = 1e300 Q and 1e308 Q: the plain products overflow at the first
    # multiplication; in log space they are the unit-size chain plus k * 300.
    d, Q = _orthogonal_factors(n, 40, seed=32)
    reference = chain_log10_norms([RowScaled(d, Q)])
    k = np.arange(1, 41)
    for magnitude in (1e300, 1e308):
        expected = reference + k * math.log10(magnitude)
        factored = chain_log10_norms([RowScaled(d, magnitude * Q)])
        matrices = chain_log10_norms([d[:, :, None] * (magnitude * Q)])
        np.testing.assert_allclose(factored, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(matrices, expected, rtol=0, atol=1e-9)
    # Slopes of 1e300 times a weight of 1e-300: each factor alone is extreme.
    np.testing.assert_allclose(
        chain_log10_norms([RowScaled(1e300 * d, 1e-300 * Q)]),
        reference,
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.parametrize("n", [3, 64])
def test_subnormal_weights_stay_right_in_log_space(n):
    # Entries that are multiples of the smallest subnormal, 2^-1074: exact, but
    # any product of them underflows to zero unless normalised first.
    rng = np.random.default_rng(33)
    integers = rng.integers(-3, 4, (n, n)).astype(float)
    d = rng.uniform(0.5, 1.0, (30, n))
    tiny = integers * 5e-324
    assert np.all(tiny / 5e-324 == integers)
    shift = np.arange(1, 31) * 1074 * math.log10(2)
    expected = chain_log10_norms([d[:, :, None] * integers]) - shift
    np.testing.assert_allclose(chain_log10_norms([RowScaled(d, tiny)]), expected, rtol=0, atol=1e-9)
    # As matrices, diag(d) W is itself rounded to the subnormal grid; scaled
    # by 2^1074 that rounded matrix is exact, and its chain is the reference.
    jacobians = d[:, :, None] * tiny
    expected = chain_log10_norms([np.ldexp(jacobians, 1074)]) - shift
    np.testing.assert_allclose(chain_log10_norms([jacobians]), expected, rtol=0, atol=1e-9)


def test_non_finite_factors_are_reported_with_their_k():
    d, Q = _orthogonal_factors(3, 6, seed=35)
    d[3, 1] = np.inf
    with pytest.raises(GradproofInputError, match="not finite at k = 4"):
        chain_log10_norms([RowScaled(d, Q)])
    with pytest.raises(GradproofInputError, match="not finite at k = 1"):
        chain_log10_norms([RowScaled(d[:2], np.full((3, 3), np.nan))])


# --- Norms certified a group of steps at a time (numerically low-rank products) ---


def _exact_log_norms(jacobians):
    """``log10 ||J_1 ... J_k||_2`` by the SVD of a running product renormalised each step."""
    P, scale, logs = np.eye(jacobians.shape[-1]), 0.0, []
    for J in jacobians:
        P = P @ J
        f = np.linalg.norm(P)
        P, scale = P / f, scale + math.log10(f)
        logs.append(scale + math.log10(np.linalg.norm(P, 2)))
    return np.array(logs)


def _reviving_chain(n, steps, revive, seed):
    """Diagonal ``diag(a_t)``, ``a_t`` about ``0.98^i``, whose products are soon
    numerically of rank below 16, except at step ``revive``: ``I + c e e^T`` with
    ``e`` the 17th coordinate vector, which no 16-vector basis of the top
    singular subspace holds, so that it takes over as the top direction.
    Diagonal, so that every product keeps every entry to full relative
    precision, the smallest too."""
    rng = np.random.default_rng(seed)
    a = 0.98 ** np.arange(n) * rng.uniform(0.9, 1.0, (steps, n))
    a[revive] = 1.0
    a[revive, 16] += 1e3 / np.prod(a[:revive, 16] / a[:revive, 0])
    return a[:, :, None] * np.eye(n)


class _Spy:
    """Counts :meth:`ChainNorms.certify_all` calls and their refusals."""

    def __init__(self, monkeypatch, replacement=None):
        self.calls = self.refused = 0
        original = replacement or certified_norms.ChainNorms.certify_all

        def certify_all(norms, *args):
            out = original(norms, *args)
            self.calls += 1
            self.refused += out is None
            return out

        monkeypatch.setattr(certified_norms.ChainNorms, "certify_all", certify_all)


# W as the caller gave it (C order) and copied to Fortran order: both layouts.
@pytest.mark.parametrize("fortran_up_to", [0, chain.FORTRAN_UP_TO])
def test_grouped_norms_match_the_svd_and_step_by_step_ones(monkeypatch, fortran_up_to):
    monkeypatch.setattr(chain, "FORTRAN_UP_TO", fortran_up_to)
    n, steps = 64, 400
    rng = np.random.default_rng(40)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    d = 1 - np.tanh(rng.standard_normal((steps, n))) ** 2
    exact = _exact_log_norms(d[:, :, None] * W)
    spy = _Spy(monkeypatch)
    grouped = chain_log10_norms([RowScaled(d[:200], W), RowScaled(d[200:], W)])
    # The matrices mode certifies step by step.
    step_by_step = chain_log10_norms([d[:, :, None] * W], mantissa=np.empty((steps, n, n)))
    assert spy.calls > 10
    assert np.max(np.abs(grouped - exact)) <= certified_norms.LOG10_TOL
    assert np.max(np.abs(step_by_step - exact)) <= certified_norms.LOG10_TOL


@pytest.mark.parametrize("revive", [80, 87, 93])
def test_a_group_that_meets_a_direction_outside_the_basis_is_redone(monkeypatch, revive):
    n = 64
    jacobians = _reviving_chain(n, 120, revive, seed=41)
    exact = _exact_log_norms(jacobians)
    assert exact[revive] - exact[revive - 1] > 2  # the revived direction takes over
    spy = _Spy(monkeypatch)
    logs = chain_log10_norms([jacobians])
    assert spy.refused >= 1
    assert np.max(np.abs(logs - exact)) <= certified_norms.LOG10_TOL


def test_a_group_bound_that_drops_the_tail_is_caught(monkeypatch):
    # Teeth: certify every group from the top Ritz value alone, ignoring what
    # lies outside the basis; the revived direction then shows as an error.
    def top_ritz_only(norms, Y, f2, head):
        return np.sqrt(np.linalg.eigvalsh(Y @ Y.transpose(0, 2, 1))[:, -1])

    jacobians = _reviving_chain(64, 120, 87, seed=41)
    _Spy(monkeypatch, replacement=top_ritz_only)
    logs = chain_log10_norms([jacobians])
    assert np.max(np.abs(logs - _exact_log_norms(jacobians))) > 1e3 * certified_norms.LOG10_TOL
