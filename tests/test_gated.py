"""The gated cells' derivations (LSTM, GRU, the constant error carousel): verified, rendered, with teeth."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.compile import compile_cell
from numeric.verify import verify
from symbolic.derivation import JacobianClaim
from symbolic.gated import ClosedFormClaim, RangeClaim
from symbolic.gru import gru_derivations, gru_jacobian_derivation
from symbolic.latex import render
from symbolic.lstm import (
    carousel_derivation,
    lstm,
    lstm_derivations,
    lstm_jacobian_derivation,
    peephole_carousel_derivation,
)

#: Exact checks at n = 2 only: size 3 is what `gradproof derive` runs, and costs tens of seconds.
FAST = (2,)
DERIVATIONS = {
    "lstm": lambda: lstm_jacobian_derivation("pytorch", FAST),
    "lstm-no-forget": lambda: lstm_jacobian_derivation("no_forget", FAST),
    "lstm-peephole": lambda: lstm_jacobian_derivation("peephole", FAST),
    "gru": lambda: gru_jacobian_derivation("pytorch", FAST),
    "gru-textbook": lambda: gru_jacobian_derivation("textbook", FAST),
    "carousel": lambda: carousel_derivation(FAST),
    "peephole-carousel": lambda: peephole_carousel_derivation(FAST),
}
INTERNALS = re.compile(
    r"DiagMatrix|Lambda|HadamardProduct|HadamardPower|OneMatrix|MatrixElement|Dummy|GRADPROOF"
)


@pytest.fixture(scope="module", params=sorted(DERIVATIONS))
def verified(request):
    derivation = DERIVATIONS[request.param]()
    return derivation, verify(derivation)


def test_every_step_holds(verified):
    derivation, report = verified
    assert report.passed, report.failures()


def test_every_equality_is_checked(verified):
    derivation, report = verified
    for step, result in zip(derivation.steps, report.steps, strict=True):
        assert step.rel == ":=" or result.checked, (
            f"unchecked step {step.lhs} {step.rel} {step.rhs}"
        )


@pytest.mark.parametrize("fmt", ["latex", "markdown", "text"])
def test_renderings_show_no_sympy_internals_and_state_the_conventions(verified, fmt):
    derivation, report = verified
    out = render(derivation, fmt, marks=report.marks)
    assert not INTERNALS.search(out), INTERNALS.search(out)
    for note in derivation.notes:
        assert note[:20] in out or fmt == "text"
    if fmt == "latex":
        assert out.count(r"\begin{align}") == out.count(r"\end{align}") == 1


def _claims(derivation, kind):
    return [(i, s.claim) for i, s in enumerate(derivation.steps) if isinstance(s.claim, kind)]


def test_a_wrong_jacobian_block_fails_its_step():
    derivation = lstm_jacobian_derivation("pytorch", FAST)
    i, claim = next(
        (i, c) for i, c in _claims(derivation, JacobianClaim) if str(c.wrt) == "c_{t-1}"
    )
    wrong = dataclasses.replace(claim, expr=sp.Identity(claim.expr.shape[0]))
    assert claim.check_exact().passed
    assert not wrong.check_exact().passed


def test_a_closed_form_missing_the_forget_gate_fails():
    derivation = lstm_jacobian_derivation("pytorch", FAST)
    forms = [c for _, c in _claims(derivation, ClosedFormClaim)]
    dh_dc = next(
        c
        for c in forms
        if c.lhs.has(DiagMatrix(sp.MatrixSymbol("f_{t}", *c.rhs.shape[:1], 1))) and c.rhs.is_MatMul
    )
    without_f = sp.MatMul(*[a for a in dh_dc.rhs.args if a != dh_dc.rhs.args[-1]])
    assert not dataclasses.replace(dh_dc, rhs=without_f).check_exact().passed


def test_gru_closed_forms_differ_between_variants():
    """PyTorch's dn/dh is not the textbook one: swapping the closed forms fails both checks."""
    pytorch, textbook = (gru_jacobian_derivation(v, FAST) for v in ("pytorch", "textbook"))
    (i, p), (j, t) = (_claims(d, ClosedFormClaim)[0] for d in (pytorch, textbook))
    assert not dataclasses.replace(p, rhs=t.rhs, cell=p.cell).check_exact().passed


def test_the_range_claim_has_teeth():
    from symbolic.activations import activation

    assert RangeClaim(activation("tanh").function, sp.Interval.open(-1, 1)).check_exact().passed
    assert not RangeClaim(activation("tanh").function, sp.Interval.open(0, 1)).check_exact().passed


def test_variant_bundles_match_the_cli_shape():
    assert [d.title.split()[0] for d in lstm_derivations("no_forget", FAST)] == ["Step", "The"]
    assert len(gru_derivations("textbook", FAST)) == 1
    assert [d.title.split()[0] for d in lstm_derivations("peephole", FAST)] == ["Step", "What"]
    with pytest.raises(ValueError, match="pytorch, no_forget, peephole"):
        lstm_derivations("peepholes", FAST)


def _unrolled(variant, forget_bias, scale, n=16, m=3, steps=60, seed=0):
    """Full-state product P, memory-only product M, and the final state, for a random LSTM."""
    cell = lstm(variant)
    rng = np.random.default_rng(seed)
    params = {}
    for p in cell.params:
        if p.name.startswith("W_{h"):
            W = rng.standard_normal((n, n))
            params[p.name] = scale * W / np.linalg.norm(W, 2)
        elif p.name.startswith("W_{i"):
            params[p.name] = rng.standard_normal((n, m)) / np.sqrt(m)
        else:
            params[p.name] = rng.standard_normal(n) / np.sqrt(n)
    if "b_{f}" in params:
        params["b_{f}"] = params["b_{f}"] + forget_bias
    compiled = compile_cell(cell, n=n, m=m)
    s, P, M = np.zeros(2 * n), np.eye(2 * n), np.eye(n)
    for x in rng.standard_normal((steps, m)):
        J = compiled.jacobian(s, x, params)
        s = compiled.step(s, x, params)
        P, M = J @ P, J[n:, n:] @ M
    return P, M, s


def test_memory_path_is_the_product_of_forget_gates_and_identity_without():
    _, M, _ = _unrolled("pytorch", forget_bias=3.0, scale=1.0)
    assert np.count_nonzero(M - np.diag(np.diag(M))) == 0
    assert np.all((np.diag(M) > 0) & (np.diag(M) < 1))
    _, M, _ = _unrolled("no_forget", forget_bias=0.0, scale=1.0)
    np.testing.assert_array_equal(M, np.eye(len(M)))


def test_the_carousel_does_not_bound_the_full_state_jacobian():
    """Memory path below 1, yet the full-state chain above 1: the paths through h dominate."""
    P, M, _ = _unrolled("pytorch", forget_bias=3.0, scale=4.0)
    n = len(M)
    assert np.linalg.norm(M, 2) < 1 < np.linalg.norm(P, 2)
    assert np.linalg.norm(P[n:, n:] - M, 2) > np.linalg.norm(M, 2)
    P, M, s = _unrolled("no_forget", forget_bias=0.0, scale=4.0)
    assert np.linalg.norm(M, 2) == 1.0 and np.linalg.norm(P, 2) > 10
    assert np.max(np.abs(s[n:])) > 10  # without a forget gate the memory drifts (Gers et al. 2000)
