import importlib

import pytest
import sympy as sp

from numeric.verify import check_numeric, verify
from symbolic.activations import activation
from symbolic.cells import elman_rnn
from symbolic.derivation import (
    ActivationBoundClaim,
    BoundClaim,
    ChainClaim,
    Derivation,
    JacobianClaim,
    Step,
)
from symbolic.jacobians import step_jacobian
from symbolic.rnn_proof import bound_derivation, chain_derivation


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
def test_every_step_of_the_q1_chain_and_bound_verifies(act):
    for derivation in (chain_derivation(act), bound_derivation(act)):
        report = verify(derivation)
        assert report.passed, report.failures()
        assert all(
            r.checked for r, s in zip(report.steps, derivation.steps, strict=True) if s.rel != ":="
        )


def test_a_deliberately_wrong_jacobian_step_fails_both_checks():
    rnn = elman_rnn("tanh")
    h, h_prev, W = rnn.new_state_symbols[0], rnn.state_symbols[0], rnn.params[0]
    broken = Derivation(
        "broken", (Step(h, "=", W, "forgot the activation", JacobianClaim(rnn, h, h_prev, W)),)
    )
    report = verify(broken)
    assert not report.passed
    assert [o.kind for o in report.steps[0].outcomes if not o.passed] == ["exact", "numeric"]
    assert report.marks == ["FAILED: exact, numeric"]


def test_a_wrong_gamma_makes_the_bound_check_fail():
    rnn = elman_rnn("tanh")
    W = rnn.params[0]
    assert check_numeric(BoundClaim(rnn, W, 1, steps=10)).passed
    assert not check_numeric(BoundClaim(rnn, W, sp.Rational(1, 2), steps=10)).passed


def test_a_wrong_gamma_fails_the_activation_bound_numerically_too():
    tanh = activation("tanh")
    assert check_numeric(ActivationBoundClaim(tanh, 1)).passed
    assert not check_numeric(ActivationBoundClaim(tanh, sp.Rational(9, 10))).passed
    assert not check_numeric(ActivationBoundClaim(tanh, 2)).passed  # not the supremum


def test_the_chain_check_catches_a_transposed_step_jacobian(monkeypatch):
    nv = importlib.import_module("numeric.verify")  # the package re-exports a function of that name

    real = nv.compile_cell

    class Transposed:
        def __init__(self, compiled):
            self.compiled = compiled
            self.state_size = compiled.state_size
            self.step = compiled.step

        def jacobian(self, s, x, params):
            return self.compiled.jacobian(s, x, params).swapaxes(-1, -2)

    rnn = elman_rnn("tanh")
    assert check_numeric(ChainClaim(rnn)).passed
    monkeypatch.setattr(nv, "compile_cell", lambda cell, **sizes: Transposed(real(cell, **sizes)))
    assert not check_numeric(ChainClaim(rnn)).passed


def test_step_jacobian_claim_is_checked_at_a_larger_size_numerically():
    rnn = elman_rnn("relu")
    h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    outcome = check_numeric(JacobianClaim(rnn, h, h_prev, step_jacobian(rnn)))
    assert outcome.passed and "size 5" in outcome.detail
