"""Declared step bounds at real weights: evaluation, the check against a curve, the verdict."""

import dataclasses
import math

import numpy as np
import pytest
from example_cells import own
from hypothesis import given, settings
from hypothesis import strategies as st

from numeric.bounds import (
    EvaluatedBound,
    check_bound,
    evaluate_bound,
    log10_bound,
    spectral_norm,
    verdict,
)
from numeric.flow import gradient_flow
from numeric.weights import random_params
from symbolic.rnn import elman_rnn


def _rnn_params(n, m, scale, seed, orthogonal=False):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    if orthogonal:
        W, _ = np.linalg.qr(W)
    return {
        "W": W * scale / np.linalg.norm(W, 2),
        "U": rng.standard_normal((n, m)) / np.sqrt(m),
        "b": 0.1 * rng.standard_normal(n),
    }


def _bound(value):
    return EvaluatedBound(value, "gamma sigma_max(W)", 1.0, value, None)


@settings(deadline=None, max_examples=12, derandomize=True)
@given(
    n=st.integers(2, 6),
    scale=st.floats(0.2, 2.0),
    act=st.sampled_from(["tanh", "relu"]),
    steps=st.integers(1, 30),
    seed=st.integers(0, 2**16),
)
def test_bound_holds_on_random_networks(n, scale, act, steps, seed):
    params = _rnn_params(n, 2, scale, seed)
    inputs = np.random.default_rng(seed + 1).standard_normal((steps, 2))
    flow = gradient_flow(elman_rnn(act), params, inputs)
    assert check_bound(flow.log10_norm, evaluate_bound(elman_rnn(act), params).value).passed


def test_wrong_gamma_is_caught_near_the_linear_regime():
    params = _rnn_params(4, 2, scale=0.9, seed=12, orthogonal=True)
    params["b"] = np.zeros(4)
    inputs = 1e-3 * np.random.default_rng(13).standard_normal((40, 2))
    flow = gradient_flow(elman_rnn("tanh"), params, inputs)
    assert check_bound(flow.log10_norm, 1.0 * 0.9).passed
    wrong = check_bound(flow.log10_norm, 0.5 * 0.9)
    assert not wrong.passed and "exceeded" in wrong.detail


def test_bound_and_verdict_conditions():
    np.testing.assert_allclose(log10_bound(0.5, 3), np.log10(0.5) * np.arange(1, 4))
    assert np.all(log10_bound(0.0, 2) == -np.inf)
    explode = verdict(_bound(1.2), 0.05 * np.arange(1, 101))
    assert (explode.vanishing_guaranteed, explode.exploding_possible) == (False, True)
    assert explode.measured == "exploding"
    flat = verdict(_bound(1.0 - 1e-15), np.full(10, -0.05))
    assert flat.measured == "neutral"
    assert not flat.exploding_possible and not flat.vanishing_guaranteed


def test_evaluated_bounds_name_their_constants_and_matrix():
    params = {"W": np.diag([0.5, -2.0]), "U": np.ones((2, 1)), "b": np.zeros(2)}
    b = evaluate_bound(elman_rnn("tanh"), params)
    assert (b.value, b.gamma, b.sigma_max, b.spectral_radius) == (2.0, 1.0, 2.0, 2.0)
    assert b.formula == "sigma_max(W)"
    summary = verdict(b, np.zeros(3)).summary
    assert "B = sigma_max(W) = 2 > 1 (gamma = 1, sigma_max = 2)" in summary


def test_bounds_of_vectors_scalars_and_matrix_expressions():
    ind, anti = own("indrnn"), own("antisymmetric_rnn")
    u = np.array([0.3, -0.8, 0.5])
    b = evaluate_bound(ind, {"u": u, "W": np.ones((3, 2)), "b": np.zeros(3)})
    assert b.value == 0.8 and b.sigma_max is None and b.formula == "max_i |u_i|"
    W = np.array([[0.0, 2.0], [0.0, 0.0]])
    params = {"W": W, "V": np.ones((2, 1)), "b": np.zeros(2)}
    b = evaluate_bound(anti, params | {"epsilon": np.asarray(0.1), "gamma": np.asarray(0.5)})
    A = W - W.T - 0.5 * np.eye(2)
    assert np.isclose(b.value, 1 + 0.1 * np.linalg.norm(A, 2), rtol=1e-15)
    assert np.isclose(b.sigma_max, np.linalg.norm(A, 2), rtol=1e-15)
    assert np.isclose(b.spectral_radius, np.max(np.abs(np.linalg.eigvals(A))), rtol=1e-12)
    assert (
        evaluate_bound(elman_rnn("tanh").__class__(**{**elman_rnn().__dict__, "bound": None}), {})
        is None
    )


def test_measured_flows_respect_the_declared_bounds():
    ind, anti = own("indrnn"), own("antisymmetric_rnn")
    inputs = np.random.default_rng(0).standard_normal((50, 2))
    for cell in (ind, anti):
        params = random_params(cell, {"n": 4, "m": 2}, scale=1.2, seed=0)
        flow = gradient_flow(cell, params, inputs)
        B = evaluate_bound(cell, params).value
        assert check_bound(flow.log10_norm, B).passed
        if cell is anti:  # teeth: the norm stays near 1, so half the bound is exceeded
            assert not check_bound(flow.log10_norm, 0.5 * B).passed


def test_spectral_norm_of_huge_and_tiny_matrices_is_finite():
    assert spectral_norm(np.full((3, 3), 1e308)) == pytest.approx(3e308, rel=1e-12)
    assert spectral_norm(np.full((2, 2), 5e-324)) > 0
    assert spectral_norm(np.zeros((2, 2))) == 0.0


@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
def test_bounds_of_weights_at_both_ends_of_float64(act):
    # W = 2^e M scales sigma_max and the spectral radius by 2^e exactly: entries
    # near 1e307 (whose squares overflow) and subnormal entries near 5e-324
    # (whose products underflow) must give exactly the scaled values.
    rng = np.random.default_rng(36)
    n = 8
    M = rng.standard_normal((n, n))
    sigma, radius = np.linalg.norm(M, 2), np.max(np.abs(np.linalg.eigvals(M)))
    gamma = {"tanh": 1.0, "sigmoid": 0.25}[act]
    huge = {"W": np.ldexp(M, 1020), "U": np.ones((n, 1)), "b": np.zeros(n)}
    b = evaluate_bound(elman_rnn(act), huge)
    assert b.sigma_max == pytest.approx(np.ldexp(sigma, 1020), rel=1e-12)
    assert b.spectral_radius == pytest.approx(np.ldexp(radius, 1020), rel=1e-12)
    assert b.value == pytest.approx(gamma * np.ldexp(sigma, 1020), rel=1e-12)
    integers = rng.integers(-3, 4, (n, n)).astype(float)
    tiny = {"W": np.ldexp(integers, -1074), "U": np.ones((n, 1)), "b": np.zeros(n)}
    b = evaluate_bound(elman_rnn(act), tiny)
    # The exact value rounded to the subnormal grid (spacing 2^-1074).
    assert b.sigma_max == pytest.approx(np.ldexp(np.linalg.norm(integers, 2), -1074), abs=5e-324)
    assert 0.0 < b.sigma_max and 0.0 < b.value


def test_a_bound_beyond_float64_keeps_its_logarithm():
    # sigma_max of an 8 x 8 matrix of 1e308 is 8e308: inf as a float, 308.903 decades.
    n = 8
    params = {"W": np.full((n, n), 1e308), "U": np.ones((n, 1)), "b": np.zeros(n)}
    b = evaluate_bound(elman_rnn("sigmoid"), params)
    exact = math.log10(8) + 308
    assert b.value == b.sigma_max == b.spectral_radius == math.inf
    assert b.log10_sigma_max == pytest.approx(exact, rel=1e-14)
    assert b.log10_spectral_radius == pytest.approx(exact, rel=1e-14)
    assert b.log10_value == pytest.approx(exact + math.log10(0.25), rel=1e-14)
    np.testing.assert_allclose(log10_bound(b, 3), b.log10_value * np.arange(1, 4), rtol=1e-14)
    assert (b.shown("sigma_max"), b.shown("value"), b.shown("gamma")) == (
        "8e+308",
        "2e+308",
        "0.25",
    )
    # Teeth: from the float alone, the logarithm is lost.
    assert np.all(log10_bound(b.value, 3) == math.inf)


def test_a_replaced_finite_value_brings_its_own_logarithm():
    b = evaluate_bound(elman_rnn("tanh"), {"W": np.eye(2), "U": np.ones((2, 1)), "b": np.zeros(2)})
    tighter = dataclasses.replace(b, value=0.5)
    assert tighter.log10_value == math.log10(0.5) and b.log10_value == 0.0
    np.testing.assert_allclose(log10_bound(tighter, 2), [math.log10(0.5), 2 * math.log10(0.5)])
