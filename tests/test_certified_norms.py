"""Certified chain norms: within LOG10_TOL decades of the SVD, by whichever bound answers."""

import math

import numpy as np
import pytest
from chains import random_chain

from numeric import certified_norms
from numeric.certified_norms import LOG10_TOL, ChainNorms, coupled_bound


def _orthogonal(rng, n):
    return np.linalg.qr(rng.standard_normal((n, n)))[0]


def _decades_off(norms, P):
    return abs(math.log10(norms(P) / np.linalg.norm(P, 2)))


def _clustered_errors(tol, n=64, seed=0):
    """Top singular values tied, nearly tied, or apart; fresh singular vectors each time."""
    rng = np.random.default_rng(seed)
    norms = ChainNorms(n, tol)
    errors = []
    for gap in (0.0, 1e-12, 1e-9, 1e-7, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
        s = np.r_[1.0, 1.0 - gap, 1.0 - 2 * gap, np.linspace(0.5, 0.0, n - 3)]
        P = (_orthogonal(rng, n) * s) @ _orthogonal(rng, n).T
        errors.append(_decades_off(norms, P))
    return max(errors)


def test_chain_norms_on_clustered_top_singular_values():
    assert _clustered_errors(LOG10_TOL) <= LOG10_TOL
    # Teeth: a tolerance a hundred times looser shows in the answers.
    assert _clustered_errors(100 * LOG10_TOL) > LOG10_TOL


def test_chain_norms_along_a_chain_use_both_paths_and_match_svd():
    stack = random_chain(64, 300, seed=4)
    norms = ChainNorms(64)
    errors = [_decades_off(norms, P) for P in stack]
    assert max(errors) <= LOG10_TOL
    # Early products are far from low rank (Lanczos); later ones are certified.
    assert norms.lanczos > 0 and norms.certified > 150


def test_chain_norm_certificate_sees_a_direction_outside_the_basis():
    # A numerically low-rank chain, certified step after step; then the top
    # singular direction jumps to the direction the chain had (almost) killed.
    rng = np.random.default_rng(5)
    n = 64
    Q, V = _orthogonal(rng, n), _orthogonal(rng, n)
    s = 0.3 ** np.arange(n)
    norms = ChainNorms(n)
    errors = []
    for k in range(60):
        c, si = math.cos(0.02 * k), math.sin(0.02 * k)
        U = Q.copy()
        U[:, :2] = Q[:, :2] @ np.array([[c, -si], [si, c]])
        if k == 40:
            certified_before = norms.certified
        if k >= 40:
            U = U[:, ::-1]
        errors.append(_decades_off(norms, (U * s) @ V.T))
    assert max(errors) <= LOG10_TOL
    assert certified_before > 30 and norms.lanczos >= 2


def _tilted(angle, n=80, b=16):
    """``P = U diag(0.5^i) V^T`` and a tracker of ``b`` columns whose basis is
    ``u_1..u_b`` with ``u_1`` rotated by ``angle`` towards ``u_{b+1}``."""
    rng = np.random.default_rng(6)
    U, V = _orthogonal(rng, n), _orthogonal(rng, n)
    norms = ChainNorms(n, block=b)
    norms.basis = U[:, :b].copy()
    norms.basis[:, 0] = math.cos(angle) * U[:, 0] + math.sin(angle) * U[:, b]
    return norms, (U * 0.5 ** np.arange(n)) @ V.T, U


@pytest.mark.parametrize(
    ("angle", "path"),
    [
        (0.0, "frobenius"),
        (1e-6, "frobenius"),
        (1e-3, "frobenius"),
        (3e-2, "coupled"),
        (1.0, "lanczos"),
    ],
)
def test_chain_norms_with_a_basis_tilted_off_the_top_subspace(angle, path):
    # Whatever the basis, the answer is certified to tol or found by Lanczos:
    # a tilt of 1e-3 leaves 1e-6 of sigma_1^2 outside the basis, within the
    # Frobenius certificate's 10^(2 tol) - 1 = 4.6e-6; a tilt of 3e-2 leaves
    # 9e-4, which the coupled bound certifies once the basis is extended by
    # the top Ritz vector's residual; a tilt of 1
    # leaves more outside the basis than in it, so only Lanczos can answer.
    norms, P, _ = _tilted(angle)
    assert _decades_off(norms, P) <= LOG10_TOL
    counts = {"frobenius": norms.certified, "coupled": norms.coupled, "lanczos": norms.lanczos}
    assert counts == {name: int(name == path) for name in counts}


@pytest.mark.parametrize(("extend", "power_steps"), [(certified_norms.EXTEND, 0), (0, 1)])
def test_chain_norms_extend_the_basis_before_a_power_step(monkeypatch, extend, power_steps):
    # The basis misses 9e-4 of the top left singular vector u_1: the coupled
    # bound fails on it, and certifies on it extended by the top Ritz vector's
    # residual, which points at the missing part of u_1.  The basis then
    # keeps the top `block` Ritz vectors, u_1 among them, with no product
    # with P: the carried rows are rotated, and must still be U^T P.
    monkeypatch.setattr(certified_norms, "EXTEND", extend)
    steps = []
    power_step = ChainNorms._power_step
    monkeypatch.setattr(
        ChainNorms, "_power_step", lambda self, *a: steps.append(1) or power_step(self, *a)
    )
    norms, P, U = _tilted(3e-2)
    Y = norms.project(P)
    sigma = norms(P, Y)
    assert abs(math.log10(sigma / np.linalg.norm(P, 2))) <= LOG10_TOL
    # Teeth: without the extension (extend = 0) a power step is needed.
    assert (norms.coupled, len(steps)) == (1, power_steps)
    basis = norms.basis
    assert np.abs(basis.T @ basis - np.eye(norms.rows)).max() < 1e-12
    assert np.abs(Y - basis.T @ P).max() < 1e-12
    assert np.linalg.norm(basis.T @ U[:, 0]) == pytest.approx(1.0, abs=1e-12)


def test_the_extending_residual_is_orthogonal_to_the_basis_even_when_tiny():
    # A residual that lies in the basis's span up to 1e-13 (a nearly converged
    # Ritz vector): one Gram-Schmidt pass leaves it 6e-4 off orthogonal (the
    # teeth, checked below), two leave rounding; the coupled bound assumes
    # an orthonormal basis.
    rng = np.random.default_rng(10)
    R = np.linalg.qr(rng.standard_normal((80, 16)))[0]
    e = R @ rng.standard_normal(16) + 1e-13 * rng.standard_normal(80)
    q = certified_norms._unit_residual(e, R)
    assert np.abs(R.T @ q).max() < 1e-14 and np.linalg.norm(q) == pytest.approx(1.0, abs=1e-15)
    once = e - R @ (R.T @ e)
    assert np.abs(R.T @ once).max() / np.linalg.norm(once) > 1e-6
    assert certified_norms._unit_residual(np.zeros(80), R) is None


# The coupled bound: lambda_max(H) from a Ritz basis, its coupling and the tail.


def _ritz_data(P, U):
    """Ritz values, couplings ``||(I - U U^T) H u_i||^2`` and tail of ``H = P P^T`` for ``U``."""
    Y = U.T @ P
    w, A = np.linalg.eigh(Y @ Y.T)
    E = P @ (Y.T @ A) - U @ (A * w)
    return w, np.einsum("ij,ij->j", E, E), float(np.vdot(P, P)) - float(w.sum())


def _spectra(n):
    """Top singular values apart, clustered and tied, over a decaying tail."""
    tail = 0.3 * 0.8 ** np.arange(n - 3)
    return {
        "apart": np.r_[1.0, 0.6, 0.5, tail],
        "clustered": np.r_[1.0, 1.0 - 1e-7, 1.0 - 2e-7, tail],
        "tied": np.r_[1.0, 1.0, 1.0, tail],
    }


@pytest.mark.parametrize("spectrum", ["apart", "clustered", "tied"])
@pytest.mark.parametrize("tilt", [1e-8, 1e-4, 1e-2, 0.3])
def test_coupled_bound_holds_and_is_tight_near_the_top_subspace(spectrum, tilt):
    rng = np.random.default_rng(7)
    n, b = 40, 6
    s = _spectra(n)[spectrum]
    Q, V = _orthogonal(rng, n), _orthogonal(rng, n)
    P = (Q * s) @ V.T
    exact = s[0] ** 2
    # The top b left singular vectors, tilted by `tilt` in random directions.
    U = np.linalg.qr(Q[:, :b] + tilt * rng.standard_normal((n, b)))[0]
    w, coupling2, tail = _ritz_data(P, U)
    bound = coupled_bound(w, coupling2, tail)
    assert w[-1] <= exact * (1 + 1e-12) and exact <= bound * (1 + 1e-12)
    # Second-order in the tilt: the coupling enters squared, over the gap.
    assert bound - exact <= 1e3 * tilt**2 * exact + 1e-12
    if tilt >= 1e-4:
        # Teeth: the Ritz value alone is below the answer, so a bound that
        # dropped the coupling would fail the check above.
        assert w[-1] < exact * (1 - 1e-12)


def _two_by_two(a, e2, c):
    return float(np.linalg.eigvalsh(np.array([[a, math.sqrt(e2)], [math.sqrt(e2), c]]))[-1])


def test_coupled_bound_resolves_ties_by_splitting_the_basis():
    # Tied top values: split after the top Ritz vector alone, the rest is level
    # with it and the coupling enters unsquared; the best split keeps it squared.
    rng = np.random.default_rng(8)
    n, b = 40, 6
    s = _spectra(n)["tied"]
    Q, V = _orthogonal(rng, n), _orthogonal(rng, n)
    P = (Q * s) @ V.T
    U = np.linalg.qr(Q[:, :b] + 1e-4 * rng.standard_normal((n, b)))[0]
    w, coupling2, tail = _ritz_data(P, U)
    rest = _two_by_two(w[-2], coupling2[:-1].sum(), tail)
    top_alone = _two_by_two(w[-1], coupling2[-1], rest)
    assert coupled_bound(w, coupling2, tail) - 1.0 <= 1e-6
    assert top_alone - 1.0 > 1e-6


def test_chain_norms_certify_clustered_chains_with_the_coupled_bound():
    # A slowly turning chain whose top singular values are tied or clustered
    # and whose tail holds more than 1e-6 of the top: bound 1 cannot certify,
    # the coupled bound can, and every answer is within LOG10_TOL of the SVD.
    rng = np.random.default_rng(9)
    n = 64
    Q, V = _orthogonal(rng, n), _orthogonal(rng, n)
    errors, coupled = [], 0
    for gap in (0.0, 1e-12, 1e-9, 1e-6, 1e-3, 1e-1):
        s = np.r_[1.0, 1.0 - gap, 1.0 - 2 * gap, 0.5 * 0.9 ** np.arange(n - 3)]
        norms = ChainNorms(n)
        for k in range(40):
            c, si = math.cos(0.01 * k), math.sin(0.01 * k)
            U = Q.copy()
            U[:, [0, 3]] = Q[:, [0, 3]] @ np.array([[c, -si], [si, c]])
            errors.append(_decades_off(norms, (U * s) @ V.T))
        coupled += norms.coupled
    assert max(errors) <= LOG10_TOL
    assert coupled > 100
