import sympy as sp

from symbolic.derivation import verify_exact
from symbolic.rnn.proof import (
    bound_derivation,
    counterexample_derivation,
    linear_derivation,
    rnn_derivations,
)


def test_every_exact_claim_of_the_q1_argument_holds():
    for derivation in rnn_derivations("tanh"):
        for step, outcomes in zip(derivation.steps, verify_exact(derivation), strict=True):
            assert all(o.passed for o in outcomes), (derivation.title, step.reason)


def test_gamma_in_the_bound_is_the_derived_one():
    assert bound_derivation("sigmoid").steps[1].rhs == sp.Rational(1, 4)
    assert bound_derivation("tanh").steps[1].rhs == 1


def test_the_saturation_example_appears_only_for_tanh():
    assert len(bound_derivation("tanh").steps) == len(bound_derivation("sigmoid").steps) + 1


def test_counterexample_numbers():
    d = counterexample_derivation()
    W = d.steps[0].rhs
    assert max(abs(e) for e in W.eigenvals()) == 0
    assert d.steps[2].rhs == 16
    J = d.steps[3].rhs
    assert J * J == 2 * J


def test_linear_case_gives_the_closed_form_power():
    d = linear_derivation()
    W, WN = d.steps[1].rhs, d.steps[2].rhs
    N = next(s for s in WN.free_symbols if s.name == "N")
    assert sp.simplify(WN.subs(N, 5) - W**5) == sp.zeros(2, 2)
