import dataclasses
import importlib

import numpy as np
import pytest
import sympy as sp
from example_cells import no_input_cell, own, two_input_cell

from numeric.verify import check_numeric, verify
from symbolic.activations import activation
from symbolic.bounds import SigmaMax, StepBound
from symbolic.derivation import (
    ActivationBoundClaim,
    BoundClaim,
    ChainClaim,
    Derivation,
    JacobianClaim,
    Step,
)
from symbolic.jacobians import derivative, step_jacobian
from symbolic.rnn import elman_rnn
from symbolic.rnn.proof import bound_derivation, chain_derivation


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
    assert check_numeric(BoundClaim(rnn, steps=10)).passed
    half = StepBound(SigmaMax(W) / 2, gamma=sp.Rational(1, 2), matrix=W)
    assert not check_numeric(BoundClaim(dataclasses.replace(rnn, bound=half), steps=10)).passed


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
            self.state_size, self.input_size = compiled.state_size, compiled.input_size
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


def test_random_point_draws_positive_scalars_in_the_unit_interval():
    nv = importlib.import_module("numeric.verify")
    cell = own("antisymmetric_rnn")
    _, values = nv._random_point(cell, np.random.default_rng(0))
    scalars = [values[p] for p in cell.params if not isinstance(p, sp.MatrixSymbol)]
    assert len(scalars) == 2 and all(isinstance(v, float) and 0.1 <= v < 1.0 for v in scalars)


def test_jacobian_claims_with_scalar_parameters_are_checked_numerically():
    cell = own("antisymmetric_rnn")
    h, h_prev = cell.new_state_symbols[0], cell.state_symbols[0]
    assert check_numeric(JacobianClaim(cell, h, h_prev, step_jacobian(cell))).passed
    # Forgetting the step size epsilon must fail.
    eps = next(p for p in cell.params if p.name == "epsilon")
    wrong = step_jacobian(cell).xreplace({eps: sp.Integer(1)})
    assert not check_numeric(JacobianClaim(cell, h, h_prev, wrong)).passed


def test_jacobian_claim_with_respect_to_a_second_input():
    cell = two_input_cell()
    h, y = cell.new_state_symbols[0], cell.input_symbols[1]
    claim = derivative(h, y, cell.definitions)
    assert check_numeric(JacobianClaim(cell, h, y, claim)).passed
    assert not check_numeric(JacobianClaim(cell, h, y, 2 * claim)).passed


@pytest.mark.parametrize("build", [lambda: own("antisymmetric_rnn"), no_input_cell, two_input_cell])
def test_chain_claims_of_cells_with_scalars_and_zero_or_two_inputs(build, monkeypatch):
    nv = importlib.import_module("numeric.verify")
    cell = build()
    assert check_numeric(ChainClaim(cell)).passed
    real = nv.compile_cell

    class Transposed:
        def __init__(self, compiled):
            self.compiled, self.state_size = compiled, compiled.state_size
            self.input_size, self.step = compiled.input_size, compiled.step

        def jacobian(self, s, x, params):
            return self.compiled.jacobian(s, x, params).swapaxes(-1, -2)

    monkeypatch.setattr(nv, "compile_cell", lambda cell, **sizes: Transposed(real(cell, **sizes)))
    assert not check_numeric(ChainClaim(cell)).passed


@pytest.mark.parametrize("build", [lambda: own("antisymmetric_rnn"), no_input_cell])
def test_bound_claims_of_cells_with_scalars_or_without_inputs(build):
    cell = build()
    assert check_numeric(BoundClaim(cell, steps=10)).passed
    halved = dataclasses.replace(cell, bound=StepBound(cell.bound.value / 2))
    assert not check_numeric(BoundClaim(halved, steps=10)).passed


def test_a_check_that_raises_fails_its_step_instead_of_crashing():
    from symbolic.derivation import Claim, Derivation, Outcome, Step

    class Broken(Claim):
        def check_exact(self) -> Outcome:
            raise NameError("name 'epsilon' is not defined")

    report = verify(Derivation("t", (Step(1, "=", 1, "why", Broken()),)))
    assert not report.passed
    assert report.failures() == [
        "step 1: exact check failed: the check raised NameError: name 'epsilon' is not defined"
    ]
