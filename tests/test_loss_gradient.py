"""The gradient of a loss summed over time: the sum formula, its checks and their teeth."""

from __future__ import annotations

import importlib
import sys

import pytest
import sympy as sp

from numeric.verify import check_loss_gradient, check_numeric, verify
from symbolic.cells import t
from symbolic.derivation import EqualityClaim
from symbolic.explicit import entries
from symbolic.latex import render
from symbolic.loss_gradient import (
    SUM_FORMULA,
    LossGradientClaim,
    T,
    expand_terms,
    formula_notation,
    immediate,
    immediate_partial,
    jacobian_chain,
    k,
    loss_gradient_derivation,
    loss_slope,
)
from symbolic.lstm import lstm
from symbolic.rnn import elman_rnn

#: The formula without the Jacobian chain: every dh_t/dh_k taken as the identity.
NO_CHAIN = sp.Sum(loss_slope(t) * immediate(k), (k, 1, t), (t, 1, T))
#: The formula without the terms k < t: W acting only at the step of the loss.
SAME_STEP_ONLY = sp.Sum(loss_slope(t) * jacobian_chain(t, t) * immediate(t), (t, 1, T))
#: The chain with its indices swapped: dh_k/dh_t, which is zero for k < t.
SWAPPED = sp.Sum(loss_slope(t) * jacobian_chain(k, t) * immediate(k), (k, 1, t), (t, 1, T))


def claim(act: str = "tanh", weight: str = "W", **options) -> LossGradientClaim:
    cell = elman_rnn(act)
    return LossGradientClaim(cell, next(p for p in cell.params if p.name == weight), **options)


def test_the_sum_has_one_term_per_pair_k_le_t_with_the_chain_in_the_middle():
    terms = expand_terms(SUM_FORMULA, 4)
    assert len(terms) == 4 * 5 // 2
    pairs = [(int(term[0].args[0]), int(term[2].args[0])) for term in terms]
    assert pairs == [(time, lag) for time in range(1, 5) for lag in range(1, time + 1)]
    assert all(term[1] == jacobian_chain(a, b) for term, (a, b) in zip(terms, pairs, strict=True))
    assert [len(term) for term in expand_terms(NO_CHAIN, 3)] == [2] * 6
    assert len(expand_terms(SAME_STEP_ONLY, 3)) == 3


def test_expand_terms_refuses_anything_but_the_three_factors():
    with pytest.raises(ValueError, match="may only multiply"):
        expand_terms(sp.Sum(2 * loss_slope(t) * immediate(t), (t, 1, T)), 2)
    with pytest.raises(ValueError, match="not integers"):
        expand_terms(sp.Sum(loss_slope(t) * immediate(t), (t, 1, sp.Symbol("L"))), 2)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
@pytest.mark.parametrize("weight", ["W", "U"])
def test_the_sum_equals_the_derivative_of_the_unrolled_loss_exactly(act, weight):
    outcome = claim(act, weight).check_exact()
    assert outcome.passed, outcome.detail
    assert "6 terms (3 steps, n = 2, m = 1)" in outcome.detail


def test_the_exact_check_also_holds_at_hidden_size_one():
    outcome = claim(exact_steps=2, exact_sizes=(1, 1)).check_exact()
    assert outcome.passed and "n = 1" in outcome.detail


@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("weight", ["W", "U"])
def test_the_sum_matches_pytorch_autograd_to_1e_9(act, weight):
    pytest.importorskip("torch")
    outcome = check_loss_gradient(claim(act, weight), torch=True)
    assert outcome.passed, outcome.detail
    assert "21 terms (6 steps, n = 3, m = 2)" in outcome.detail
    assert "PyTorch's automatic differentiation" in outcome.detail
    error = float(outcome.detail.rsplit("rel. error ", 1)[1])
    assert error <= 1e-9


@pytest.mark.parametrize("formula", [NO_CHAIN, SAME_STEP_ONLY, SWAPPED])
def test_a_formula_without_the_chain_or_the_long_range_terms_fails_both_checks(formula):
    wrong = claim(formula=formula)
    assert not wrong.check_exact().passed
    assert not check_numeric(wrong).passed
    assert not check_loss_gradient(wrong, torch=True).passed


def test_derive_checks_against_central_differences_without_importing_pytorch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" now raises ImportError
    outcome = check_numeric(claim())
    assert outcome.passed and "central differences" in outcome.detail


def test_without_pytorch_central_differences_of_the_loss_are_the_reference(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" now raises ImportError
    outcome = check_loss_gradient(claim(), torch=True)
    assert outcome.passed, outcome.detail
    assert "central differences" in outcome.detail and "not installed" in outcome.detail
    for formula in (NO_CHAIN, SAME_STEP_ONLY):
        assert not check_numeric(claim(formula=formula)).passed


def test_cells_pytorch_lacks_are_checked_against_central_differences():
    outcome = check_loss_gradient(claim("sigmoid"), torch=True)
    assert (
        outcome.passed
        and "central differences" in outcome.detail
        and "no PyTorch" in outcome.detail
    )
    assert not check_numeric(claim("sigmoid", formula=NO_CHAIN)).passed


def test_the_numeric_check_uses_the_step_jacobians_it_is_given(monkeypatch):
    nv = importlib.import_module("numeric.verify")  # the package re-exports a function of that name
    real = nv.compile_cell

    class Transposed:
        def __init__(self, compiled):
            self.compiled, self.step = compiled, compiled.step
            self.state_size, self.input_size = compiled.state_size, compiled.input_size
            self.input_sizes = compiled.input_sizes

        def jacobian(self, s, x, params):
            return self.compiled.jacobian(s, x, params).swapaxes(-1, -2)

    assert check_numeric(claim()).passed
    monkeypatch.setattr(nv, "compile_cell", lambda cell, **sizes: Transposed(real(cell, **sizes)))
    assert not check_numeric(claim()).passed


def test_a_sequence_in_which_the_loss_ignores_the_weight_fails_instead_of_passing(monkeypatch):
    nv = importlib.import_module("numeric.verify")
    # With one draw, seed 0 switches every rectifier off: the gradient is 0 whatever the formula.
    monkeypatch.setattr(nv, "LOSS_DRAWS", 1)
    outcome = check_numeric(claim("relu"), seed=0)
    assert not outcome.passed and "never depended on W" in outcome.detail
    monkeypatch.undo()
    assert check_numeric(claim("relu"), seed=0).passed


def test_the_immediate_partial_is_where_the_weight_multiplies_a_vector():
    rnn = elman_rnn("tanh")
    W, U, b = rnn.params
    assert immediate_partial(rnn, W).reads == rnn.state_symbols[0]
    assert immediate_partial(rnn, U).reads == rnn.input_symbols[0]
    with pytest.raises(ValueError, match="times a vector"):
        immediate_partial(rnn, b)
    with pytest.raises(ValueError, match="2 state vectors"):
        LossGradientClaim(lstm(), lstm().params[0])
    with pytest.raises(ValueError, match="one size per size symbol"):
        LossGradientClaim(rnn, W, sizes=(3,))


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu", "identity"])
def test_every_step_of_the_loss_gradient_derivation_verifies(act):
    derivation = loss_gradient_derivation(act)
    report = verify(derivation)
    assert report.passed, report.failures()
    checked = [r.checked for r, s in zip(report.steps, derivation.steps, strict=True)]
    assert checked == [s.rel != ":=" for s in derivation.steps]
    assert report.marks[2] == "checked: exact, numeric"


def test_the_immediate_partial_step_fails_without_the_slope():
    claim_ = loss_gradient_derivation("tanh").steps[1].claim
    assert claim_.check_exact().passed
    # d+h_k/dW_ij = h_{k-1,j} e_i, forgetting f'(a_{k,i}): the entries of h_{k-1} are its columns.
    rnn = elman_rnn("tanh")
    sizes = rnn.with_sizes(n=2, m=1)
    h_prev = entries(rnn.state_symbols[0], sizes)
    slopeless = sp.kronecker_product(h_prev.T, sp.eye(2))
    assert not EqualityClaim(claim_.lhs, slopeless).check_exact().passed


def test_the_formula_renders_as_written_and_the_text_has_no_internal_names():
    notation = formula_notation()
    assert notation.latex == (
        r"\sum_{t=1}^{T} \sum_{k=1}^{t} \frac{\partial E_{t}}{\partial h_{t}} "
        r"\frac{\partial h_{t}}{\partial h_{k}} \frac{\partial^{+} h_{k}}{\partial W}"
    )
    report = verify(loss_gradient_derivation("tanh"))
    for fmt in ("latex", "markdown", "text"):
        out = render(report.derivation, fmt, marks=report.marks)
        for leak in ("loss_slope", "jacobian_chain", "immediate(", "DiagMatrix", "Lambda", ".py"):
            assert leak not in out, (fmt, leak)
