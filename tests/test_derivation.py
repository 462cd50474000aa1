import pytest
import sympy as sp

from symbolic.activations import activation
from symbolic.derivation import (
    ActivationBoundClaim,
    ChainClaim,
    Derivation,
    EqualityClaim,
    InductionClaim,
    JacobianClaim,
    Step,
    verify_exact,
)
from symbolic.jacobians import step_jacobian
from symbolic.rnn import elman_rnn

N_ = sp.Symbol("N", integer=True, positive=True)


def test_jacobian_claim_passes_for_the_derived_form_and_fails_for_a_wrong_one():
    rnn = elman_rnn("sigmoid")
    h, h_prev = rnn.new_state_symbols[0], rnn.state_symbols[0]
    assert JacobianClaim(rnn, h, h_prev, step_jacobian(rnn)).check_exact().passed
    wrong = JacobianClaim(rnn, h, h_prev, rnn.params[0])
    outcome = wrong.check_exact()
    assert not outcome.passed and "size 2" in outcome.detail


def test_chain_claim_checks_the_unrolled_map():
    assert ChainClaim(elman_rnn("tanh")).check_exact().passed


def test_activation_bound_claim_catches_a_wrong_gamma():
    tanh = activation("tanh")
    assert ActivationBoundClaim(tanh, 1).check_exact().passed
    assert not ActivationBoundClaim(tanh, sp.Rational(1, 2)).check_exact().passed  # too small
    assert not ActivationBoundClaim(tanh, 2).check_exact().passed  # holds, but not the supremum


def test_induction_claim_proves_powers_and_rejects_a_wrong_formula():
    N = sp.Symbol("N", integer=True, positive=True)
    J = sp.ImmutableMatrix([[8, 8], [-6, -6]])
    assert InductionClaim(J, sp.ImmutableMatrix(2 ** (N - 1) * J), N).check_exact().passed
    assert not InductionClaim(J, sp.ImmutableMatrix(2**N * J), N).check_exact().passed


def test_equality_claim_evaluates_limits():
    N = sp.Symbol("N", integer=True, positive=True)
    r = sp.Symbol("r", positive=True)
    assert EqualityClaim(sp.Limit((1 / (1 + r)) ** N, N, sp.oo), 0).check_exact().passed
    assert not EqualityClaim(sp.Limit((1 + r) ** N, N, sp.oo), 0).check_exact().passed
    # A matrix's equal entries are evaluated once: each must still get its own value.
    two, three = (sp.Limit(c + (1 / (1 + r)) ** N, N, sp.oo) for c in (2, 3))
    limits = sp.Matrix([[two, three], [three, two]])
    assert EqualityClaim(limits, sp.Matrix([[2, 3], [3, 2]])).check_exact().passed
    for wrong in ([[3, 2], [2, 3]], [[2, 2], [2, 2]], [[2, 3], [3, 3]]):
        assert not EqualityClaim(limits, sp.Matrix(wrong)).check_exact().passed


@pytest.mark.parametrize(
    "terms, value, holds",
    [
        ((3 * 2**-N_, 1), 1, True),  # term by term: 3 * 0 + 1
        ((3 * 2**-N_, 1), 3, False),  # the coefficient of a vanishing term is not the limit
        ((3 * sp.exp(1 / N_), 2**-N_), 3, True),  # nor is 1 that of a converging one
        ((sp.Rational(1, 2) * 2**N_, -(2**N_) / 2), 0, True),  # oo - oo: the sum whole
        ((sp.sqrt(N_ + 1), -sp.sqrt(N_)), 0, True),  # no term converges; the sum does
        ((sp.sqrt(N_ + 1), -sp.sqrt(N_)), 1, False),
        ((sp.sin(N_), -sp.sin(N_)), 0, True),  # no term converges, though each is bounded
        ((sp.sin(N_), -(sp.sin(N_) ** 2) / 2), 0, False),  # the sum has no limit either
    ],
)
def test_limits_of_sums_term_by_term_only_where_each_converges(terms, value, holds):
    limit = sp.Limit(sp.Add(*terms, evaluate=False), N_, sp.oo)
    assert EqualityClaim(limit, value).check_exact().passed is holds


def test_steps_validate_their_relation_and_definitions_carry_no_check():
    x = sp.Symbol("x")
    with pytest.raises(ValueError, match="relation"):
        Step(x, "==", x, "bad")
    d = Derivation("t", (Step(x, ":=", 1, "definition"),))
    assert verify_exact(d) == [[]]
