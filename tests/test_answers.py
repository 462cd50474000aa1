"""The answers to Q1 and Q2: checked, rendered in every format, readable without the code."""

from __future__ import annotations

import dataclasses
import re
import shutil

import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix
from tex_build import pdflatex

from numeric.verify import verify
from symbolic.answers import QUESTIONS, answer
from symbolic.derivation import Derivation
from symbolic.gridlstm.derivations import equations_derivation
from symbolic.gridlstm.jacobian_claims import BlockJacobianClaim
from symbolic.gridlstm.sequence_models import grid_lstm_2d
from symbolic.latex import document, render
from symbolic.loss_gradient import LossGradientClaim
from symbolic.printers import latex

FORMATS = ("latex", "markdown", "text")
#: LaTeX sizing commands and \dots as plain text turns them into words: "diagleft(g".
SIZING = re.compile(r"(?:left|right)[(|)]|\bdots\b")
#: What a reader must never see: SymPy internals, code names, files, unexplained terms.
LEAKS = re.compile(
    r"DiagMatrix|Lambda|ElementwiseApplyFunction|HadamardProduct|MatrixSymbol|Dummy"
    r"|loss_slope|jacobian_chain|immediate\(|Claim|numeric\.|symbolic\.|\.py\b|REFERENCE"
    r"|\bseed\b|not verified|(?<![\w}\\])_[A-Za-z]"
)


@pytest.fixture(scope="module")
def reports():
    return {q: [verify(d) for d in answer(q)] for q in QUESTIONS}


@pytest.fixture(scope="module")
def texts(reports):
    return {
        (q, fmt): "\n\n".join(render(r.derivation, fmt, marks=r.marks) for r in reps)
        for q, reps in reports.items()
        for fmt in FORMATS
    }


@pytest.mark.parametrize("question", sorted(QUESTIONS))
def test_every_step_of_every_answer_is_checked_and_holds(reports, question):
    for report in reports[question]:
        assert report.passed, (report.derivation.title, report.failures())
        for step, result in zip(report.derivation.steps, report.steps, strict=True):
            assert result.checked == (step.rel != ":="), step.reason


@pytest.mark.parametrize("question", sorted(QUESTIONS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_answer_renders_in_every_format_without_leaking_internal_names(texts, question, fmt):
    out = texts[question, fmt]
    assert not LEAKS.search(out), LEAKS.search(out)
    assert "checked:" in out
    if fmt == "text":
        assert "\\" not in out and "$" not in out
        # Sizing commands and \dots would reach a terminal as words (the short answer is ours).
        short = render(answer(question)[0], "text")
        assert not SIZING.search(short)


def test_q1_answer_opens_with_a_paragraph_then_states_the_bound_and_the_eigenvalues(texts):
    short = answer("q1")[0]
    words = render(short, "text").split("\n\n")[1]
    for phrase in (
        "diag(tanh'(a_j)) W",
        "largest singular value",
        "(gamma sigma_max(W))^{t-k}",
        "long-term dependencies are hard to learn",
        "exploding gradients are possible",
        "W^N = P D^N P^{-1}",
        "|lambda| < 1 vanish",
        "|lambda| > 1 explode",
        "LSTM",
        "clipping",
    ):
        assert phrase in words, phrase
    out = texts["q1", "text"]
    assert "||dh_t/dh_k||_2 <= (gamma sigma_max(W))^(t-k)" in out
    assert "W = P D P^-1 ==> W^N = P D^N P^-1" in out
    assert "dE/dW = sum_{t=1}^T sum_{k=1}^t (dE_t/dh_t) (dh_t/dh_k) (d^+h_k/dW)" in out


def test_q1_answer_carries_the_loss_gradient_and_its_long_range_bound():
    short, detail = answer("q1")
    claims = [type(s.claim) for d in (short, detail) for s in d.steps]
    assert claims.count(LossGradientClaim) == 2
    assert "immediate partial derivative" in detail.intro


def test_q2_answer_says_what_time_and_depth_carry_and_why_depth_helps(texts):
    words = render(answer("q2")[0], "text").split("\n\n")[1]
    for phrase in (
        "Kalchbrenner, Danihelka and Graves 2016",
        "time, the position t",
        "depth, the layer l",
        "h^{T}_{t-1,l} and m^{T}_{t-1,l}",
        "h^{D}_{t,l-1} and m^{D}_{t,l-1}",
        "its own gates, weights and memory",
        "diag(g^{f,D}_{t,l})",
        "diag(g^{f,T}_{t,l})",
        "constant error carousel",
    ):
        assert phrase in words, phrase
    assert "dm^{D}_{t,l}/dm^{D}_{t,l-1} = diag(g^{f,D}_{t,l})" in texts["q2", "text"]


def test_q2_answer_gives_the_complete_equations_from_the_grid_description():
    short, equations = answer("q2")
    assert equations == equations_derivation("paper")
    model = grid_lstm_2d("paper")
    defs = model.cell.definitions
    stated = {s.lhs: s.rhs for s in equations.steps}
    for label in "TD":
        for role in ("input", "forget", "candidate", "output"):
            assert model.block.gate(label, role) in stated
        for base in "mh":
            vector = model.block.vector(base, label, "new")
            assert stated[vector] == defs[vector]
    memories = {s.lhs: s.rhs for s in short.steps if s.rel == ":="}
    assert memories == {v: defs[v] for v in memories} and len(memories) == 2


def test_sizing_commands_would_be_caught_in_plain_text():
    gate = grid_lstm_2d("paper").block.gate("D", "forget")
    raw = Derivation("t", (), intro=f"${latex(DiagMatrix(gate))}$")
    assert SIZING.search(render(raw, "text"))


def test_the_paragraphs_print_their_formulas_from_the_cells():
    # A cell with another activation would change the paragraph; nothing is typed by hand.
    q1, q2 = answer("q1")[0].intro, answer("q2")[0].intro
    assert r"\operatorname{diag}(\tanh'(a_{j})) W" in q1
    model = grid_lstm_2d("paper")
    memory = model.block.vector("m", "D", "new")
    printed = sp.latex(memory, mat_symbol_style="plain")
    assert f"${printed} = " in q2


def test_a_wrong_carousel_fails_verification():
    short = answer("q2")[0]
    i = next(i for i, s in enumerate(short.steps) if isinstance(s.claim, BlockJacobianClaim))
    step = short.steps[i]
    model = grid_lstm_2d("paper")
    # The time memory's block claimed with the depth forget gate: wrong.
    wrong_expr = DiagMatrix(model.block.gate("D", "forget"))
    wrong = dataclasses.replace(step, claim=dataclasses.replace(step.claim, expr=wrong_expr))
    steps = short.steps[:i] + (wrong,) + short.steps[i + 1 :]
    report = verify(Derivation(short.title, steps))
    assert not report.passed and report.marks[i] == "FAILED: exact, numeric"


@pytest.mark.parametrize("question", ["q3", "", "Q12", "question 1"])
def test_an_unknown_question_is_refused_in_one_line_naming_the_valid_ones(question):
    with pytest.raises(ValueError) as info:
        answer(question)
    message = str(info.value)
    assert "\n" not in message and "q1" in message and "q2" in message


def test_questions_are_matched_without_case_or_surrounding_spaces():
    assert answer(" Q1 ") == answer("q1") and answer("Q2") == answer("q2")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex installed")
def test_both_answers_compile_as_one_latex_document(tmp_path, texts):
    body = texts["q1", "latex"] + "\n" + texts["q2", "latex"]
    result = pdflatex(tmp_path, document(body, "Answers to Q1 and Q2"))
    assert result.returncode == 0, result.stdout[-2000:]
