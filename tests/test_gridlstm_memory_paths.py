"""What the derivations say about each memory's own block is true of the SymPy block."""

from __future__ import annotations

import re

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

from numeric.verify import check_numeric
from symbolic.activations import ACTIVATIONS
from symbolic.derivation import JacobianClaim
from symbolic.gridlstm.block import d
from symbolic.gridlstm.derivations import jacobian_derivation
from symbolic.gridlstm.memory_paths import memory_path
from symbolic.gridlstm.sequence_models import grid_lstm_2d
from symbolic.jacobians import derivative
from symbolic.printers import latex

OPTIONS = [
    {"variant": "paper"},
    {"variant": "paper", "output_form": "standard"},
    {"variant": "paper", "priority": "depth"},
    {"variant": "stacked"},
]

#: What the derivations said before: true of the paper's block, false of the stacked reading's.
OLD_REASON = (
    "along depth: the constant error carousel, the additive memory path "
    "$\\operatorname{diag}(g^{f,D}_{t,l})$ along $l$ (no weight matrix, no squashing; the "
    "identity when the forget gate is open)"
)
OLD_INTRO = (
    "each memory's own block is $\\operatorname{diag}(g^{f,T}_{t,l})$ or "
    "$\\operatorname{diag}(g^{f,D}_{t,l})$, so where the forget gates stay near 1 the error "
    "passes unattenuated in both directions."
)


def _weights(expr, params):
    params = set(params)
    return {
        s.name.split("_{")[0]
        for s in expr.free_symbols
        if s in params and isinstance(s, sp.MatrixSymbol) and s.shape[1] != 1
    }


def _squashing(expr):
    applied = {f.function for f in expr.atoms(ElementwiseApplyFunction)}
    return {name for name in ("sigmoid", "tanh") if ACTIVATIONS[name].derivative in applied}


def _statement_errors(reason: str, model, label: str) -> list[str]:
    """Everything ``reason`` says about the block d m^label / d m^label_in that is false.

    Written apart from :mod:`symbolic.gridlstm.memory_paths`: it reads the words
    and checks each against the block the chain rule gives.
    """
    block, defs, params = model.block, model.cell.definitions, model.cell.params
    out, wrt = block.vector("m", label, "new"), block.vector("m", label, "in")
    expr = derivative(out, wrt, defs)
    diag = DiagMatrix(block.gate(label, "forget"))
    terms = list(expr.args) if isinstance(expr, sp.MatAdd) else [expr]
    weights, squashing = _weights(expr, params), _squashing(expr)
    errors = []
    if "no weight matrix" in reason and weights:
        errors.append(f"says no weight matrix, block has {sorted(weights)}")
    if "no squashing" in reason and squashing:
        errors.append(f"says no squashing, block has {sorted(squashing)}'")
    if ("constant error carousel" in reason or "alone" in reason) and expr != diag:
        errors.append("calls the block diag(g^f) alone, it is not")
    if "identity when the forget gate is fully open" in reason:
        # at size 3, with the forget gate all ones and every other vector left free
        ones = sp.OneMatrix(*block.gate(label, "forget").shape)
        opened = expr.xreplace({block.gate(label, "forget"): ones}).subs(d, 3)
        if opened.as_explicit() != sp.eye(3):
            errors.append("says the identity at an open forget gate, it is not")
    if "not a pure carousel" in reason and (expr == diag or diag not in terms):
        errors.append("says diag(g^f) plus more, the block is not that")
    named = set(re.findall(r"\$([WU]\^\{\w+\})\$", reason))
    if named and named != weights:
        errors.append(f"names weights {sorted(named)}, block has {sorted(weights)}")
    said = {n for n, tex in (("sigmoid", "\\sigma'"), ("tanh", "\\tanh'")) if f"${tex}$" in reason}
    if said and said != squashing:
        errors.append(f"names derivatives {sorted(said)}, block has {sorted(squashing)}")
    for read, source in re.findall(r"read \$([^$]+)\$, which depends on \$([^$]+)\$", reason):
        vectors = {latex(v): v for v in model.cell.state_symbols + model.cell.new_state_symbols}
        v = vectors[read]
        pre = defs[block.preactivation(label, "forget")]
        if v not in pre.free_symbols:
            errors.append(f"says the gates read {read}, they do not")
        if source != latex(wrt) or derivative(v, wrt, defs).is_ZeroMatrix:
            errors.append(f"says {read} depends on {source}, it does not")
    return errors


def _memory_steps(derivation, model):
    for step in derivation.steps:
        for label in "TD":
            if (step.lhs.out, step.lhs.wrt) == (
                model.block.vector("m", label, "new"),
                model.block.vector("m", label, "in"),
            ):
                yield label, step


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_each_memory_block_reason_is_true_of_the_sympy_block(options):
    model = grid_lstm_2d(**options)
    steps = list(_memory_steps(jacobian_derivation(**options), model))
    assert [label for label, _ in steps] == ["T", "D"]
    for label, step in steps:
        assert _statement_errors(step.reason, model, label) == [], step.reason
        assert step.claim.expr == derivative(step.lhs.out, step.lhs.wrt, model.cell.definitions)


def test_the_stacked_depth_block_is_described_as_what_it_is():
    model = grid_lstm_2d("stacked")
    d = jacobian_derivation("stacked")
    reasons = dict((label, step.reason) for label, step in _memory_steps(d, model))
    assert "constant error carousel" in reasons["T"] and "no weight matrix" in reasons["T"]
    depth = reasons["D"]
    assert "no weight matrix" not in depth and "no squashing" not in depth
    assert "not a pure carousel" in depth
    assert "$U^{TD}$, $W^{DT}$" in depth and "$h^{T}_{t,l}$, which depends on" in depth
    # teeth: the old words are caught as false for this block, and hold for the paper's
    assert len(_statement_errors(OLD_REASON, model, "D")) == 3
    assert _statement_errors(OLD_REASON, grid_lstm_2d(), "D") == []


def test_intro_claims_a_pure_carousel_only_where_the_block_is_one():
    for options in OPTIONS:
        model = grid_lstm_2d(**options)
        intro = jacobian_derivation(**options).intro
        for label, name in (("T", "time"), ("D", "depth")):
            pure = memory_path(model, label).pure
            forget = latex(model.block.gate(label, "forget"))
            alone = (
                f"Along {name} the memory's own block is $\\operatorname{{diag}}({forget})$ alone"
                in intro
                or (
                    "Each memory's own block is its forget gate alone" in intro
                    and f"$\\operatorname{{diag}}({forget})$ along {name}" in intro
                )
            )
            assert alone == pure, (options, label)
    stacked = jacobian_derivation("stacked").intro
    assert OLD_INTRO not in stacked and "does not by itself" in stacked


def test_pure_and_not_pure_hold_numerically():
    # Central differences of the whole block agree with diag(g^{f,D}) for the paper
    # (with depth priority, like the stacked reading) and disagree for the stacked reading.
    for variant, priority, holds in (("paper", "depth", True), ("stacked", None, False)):
        model = grid_lstm_2d(variant, priority=priority)
        block = model.block
        claim = JacobianClaim(
            model.cell,
            block.vector("m", "D", "new"),
            block.vector("m", "D", "in"),
            DiagMatrix(block.gate("D", "forget")),
        )
        assert check_numeric(claim).passed == holds, variant
        assert memory_path(model, "D").pure == holds
