"""The Q2 derivations: complete equations, the comparison, the block Jacobian."""

from __future__ import annotations

import re

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.verify import check_numeric
from symbolic.derivation import JacobianClaim, Partial
from symbolic.gridlstm.derivations import (
    PartialSymbol,
    comparison_derivation,
    equations_derivation,
    grid_derivations,
    jacobian_derivation,
)
from symbolic.gridlstm.sequence_models import grid_lstm_2d, resolve_options
from symbolic.jacobians import derivative
from symbolic.latex import render

OPTIONS = [
    ("paper", "paper", "none"),
    ("paper", "standard", "none"),
    ("paper", "paper", "depth"),
    ("stacked", "standard", "depth"),
    ("stacked", None, None),
]


@pytest.mark.parametrize("variant, form, priority", OPTIONS)
def test_renderings_state_the_output_form_and_leak_no_sympy_internals(variant, form, priority):
    for derivation in grid_derivations(variant, form, priority):
        # markdown shares the LaTeX printer; the long priority blocks are printed once
        formats = ("latex", "text") if priority == "depth" else ("latex", "markdown", "text")
        for fmt in formats:
            out = render(derivation, fmt)
            for leak in ("DiagMatrix", "Lambda", "Dummy", "HadamardProduct", "_xi", "MatrixSymbol"):
                assert leak not in out, (fmt, leak)
        if "comparison" not in derivation.title and "against" not in derivation.title:
            assert "Output form: h' = " in render(derivation, "text")
    # the form named is the form used
    text = render(equations_derivation(variant, form, priority), "text")
    used = resolve_options(variant, form, priority)[1]
    assert ("tanh(g^{o,T}_{t,l} ⊙ m^{T}_{t,l})" in text) == (used == "paper")
    assert ("g^{o,T}_{t,l} ⊙ tanh(m^{T}_{t,l})" in text) == (used == "standard")


def test_equations_cover_every_gate_memory_and_hidden_vector_along_time_and_depth():
    d = equations_derivation()
    lhs = [str(s.lhs) for s in d.steps]
    for label in "TD":
        index = "t,l"
        for gate in "ufco":
            assert f"g^{{{gate},{label}}}_{{{index}}}" in lhs
        assert f"m^{{{label}}}_{{{index}}}" in lhs and f"h^{{{label}}}_{{{index}}}" in lhs
    assert lhs[-3:] == ["h^{D}_{t,0}", "m^{D}_{t,0}", "y_{t}"]
    assert all(s.rel == ":=" for s in d.steps)
    # the gates' arguments are the full pre-activations, H = [h^T_{t-1,l}; h^D_{t,l-1}]
    forget_time = d.steps[1].rhs
    names = {str(s) for s in forget_time.free_symbols if isinstance(s, sp.MatrixSymbol)}
    assert names == {"W^{TT}_{f,l}", "W^{TD}_{f,l}", "h^{T}_{t-1,l}", "h^{D}_{t,l-1}"}


def test_stacked_rendering_says_what_the_reading_is_and_states_its_assumptions():
    d = equations_derivation("stacked")
    notes = " ".join(d.notes)
    for phrase in (
        "Stacked reading:",
        "as in a stacked LSTM",
        "course answer",
        "Kalchbrenner, Danihelka and Graves 2016, Sec. 3",
        "m^{D}_{t,l-1}",
        "depth priority",
        "h^{D}_{t,0} = m^{D}_{t,0} = P x_{t}",
        "does not say",
    ):
        assert phrase in notes
    comparison = comparison_derivation()
    assert [n.split(":")[0] for n in comparison.notes] == [
        "time gates u, f, c, o read",
        "depth gates u, f, c, o read",
        "priority (dimensions reading a new hidden vector)",
        "time output form",
        "depth output form",
        "time biases",
        "depth biases",
        "bottom boundary $m^{D}_{t,0}$",
    ]
    assert all("(paper) vs" in n and n.endswith("(stacked reading)") for n in comparison.notes)
    assert "as in a stacked LSTM" in comparison.intro and "Sec. 3" in comparison.intro


def test_the_comparison_lists_the_output_form_the_stacked_equations_use():
    # The stacked reading's equations and its side of the comparison agree.
    text = render(equations_derivation("stacked"), "text")
    comparison = render(comparison_derivation(), "text")
    assert "h^{T}_{t,l} := g^{o,T}_{t,l} ⊙ tanh(m^{T}_{t,l})" in text
    assert "h^{T}_{t,l} := g^{o,T}_{t,l} ⊙ tanh(m^{T}_{t,l})    [stacked reading" in comparison
    assert "vs output gate ⊙ tanh(new memory) (stacked reading)" in comparison


@pytest.mark.parametrize("variant", ["stacked", "seed"])
def test_a_conflicting_output_form_is_refused_in_one_line(variant):
    with pytest.raises(ValueError) as err:
        grid_derivations(variant, "paper")
    assert str(err.value) == (
        "variant stacked uses output form standard; drop --output-form or choose variant paper"
    )
    # teeth: the same request for the paper variant is a valid model
    assert grid_derivations("paper", "paper")


def test_constant_error_carousels_are_isolated_and_named():
    d = jacobian_derivation()
    model = grid_lstm_2d()
    carousels = [s for s in d.steps if "constant error carousel" in s.reason]
    assert [s.rhs for s in carousels] == [
        DiagMatrix(model.block.gate("T", "forget")),
        DiagMatrix(model.block.gate("D", "forget")),
    ]
    assert [(str(s.lhs.out), str(s.lhs.wrt)) for s in carousels] == [
        ("m^{T}_{t,l}", "m^{T}_{t-1,l}"),
        ("m^{D}_{t,l}", "m^{D}_{t,l-1}"),
    ]


def test_every_block_is_a_jacobian_claim():
    d = jacobian_derivation()
    partials = [s.lhs for s in d.steps]
    assert all(isinstance(p, Partial) for p in partials)
    assert len({(p.out, p.wrt) for p in partials}) == 16
    assert all(isinstance(s.claim, JacobianClaim) for s in d.steps)


def test_numeric_checks_of_the_paper_blocks_pass_and_catch_a_swap():
    d = jacobian_derivation()
    for step in d.steps:
        assert check_numeric(step.claim).passed, step.reason
    claim = d.steps[2].claim  # dh^T/dh^T
    swapped = claim.expr.xreplace(
        {
            s: sp.MatrixSymbol(s.name.replace("TT", "TD"), *s.shape)
            for s in claim.expr.free_symbols
            if isinstance(s, sp.MatrixSymbol) and "TT" in s.name
        }
    )
    bad = JacobianClaim(claim.cell, claim.out, claim.wrt, swapped)
    assert not check_numeric(bad).passed


@pytest.mark.parametrize("options", [{"output_form": "standard"}, {"priority": "depth"}])
def test_rendered_blocks_are_the_claimed_ones_with_earlier_blocks_named(options):
    model = grid_lstm_2d(**options)
    d = jacobian_derivation(**options)
    named = {PartialSymbol.of(s.lhs.out, s.lhs.wrt): s.claim.expr for s in d.steps}
    shortened = 0
    for step in d.steps:
        assert step.claim.expr == derivative(step.lhs.out, step.lhs.wrt, model.cell.definitions)
        assert step.rhs.xreplace(named).doit() == step.claim.expr.doit()
        shortened += step.rhs != step.claim.expr
    assert shortened >= 2
    latex = render(d, "latex")
    assert r"\operatorname{diag}\left(g^{f,T}_{t,l}\right)" in latex
    assert r"\frac{\partial m^{T}_{t,l}}{\partial h^{T}_{t-1,l}}" in latex
    assert not re.search(r"\\left\(\s*\\right\)", latex)
