"""Derivations that survive where students paste them: Jupyter, KaTeX, a plain article.

For every built-in cell (each family with each of its options) and a cell of
the user's own (``notebooks/own_cells.py:mgu``), rendered as ``gradproof
derive`` renders it:

- the Markdown renders without an error in real MathJax 3 (``mathjax-full``'s
  TeX input and SVG output, with the packages Jupyter loads and with base and
  ams alone) and in KaTeX, both run by node from ``tests/js``; no ``$$`` block
  comes near MathJax's 5,120-character buffer;
- the LaTeX fragment compiles with real ``pdflatex`` in a document whose whole
  preamble is ``\\documentclass{article}\\usepackage{amsmath,amssymb}``: no
  error, no undefined reference, no label defined twice, no line more than
  10pt too wide, no page overfilled; every step is a numbered equation with
  its own label, and a derivation longer than a page breaks across pages.

Each check is shown to catch what it is there for.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from example_cells import OWN
from tex_build import pdflatex

from symbolic import family
from symbolic.answers import answer
from symbolic.latex import MARKDOWN_BLOCK, equation_label, render
from symbolic.linebreak import rhs_rows
from symbolic.printers import latex

pytestmark = pytest.mark.heavy  # run first: see conftest.py

JS = Path(__file__).resolve().parent / "js"

#: MathJax 3's TeX input buffer (its ``maxBuffer`` option), in characters.
MATHJAX_BUFFER = 5 * 1024

#: The whole preamble of the document a fragment must compile in.
MINIMAL_PREAMBLE = "\\documentclass{article}\n\\usepackage{amsmath,amssymb}\n"

#: Every built-in cell with each of its options, and a cell of the user's own.
CASES = {
    **{
        f"rnn-{act}": ("rnn", {"activation": act})
        for act in ("tanh", "identity", "relu", "sigmoid")
    },
    "lstm-pytorch": ("lstm", {"variant": "pytorch"}),
    "lstm-no_forget": ("lstm", {"variant": "no_forget"}),
    "lstm-peephole": ("lstm", {"variant": "peephole"}),
    "gru-pytorch": ("gru", {"variant": "pytorch"}),
    "gru-textbook": ("gru", {"variant": "textbook"}),
    "gridlstm-paper": ("gridlstm", {"variant": "paper"}),
    "gridlstm-stacked": ("gridlstm", {"variant": "stacked"}),
    "gridlstm-depth": ("gridlstm", {"priority": "depth"}),
    "own-mgu": (f"{OWN}:mgu", {}),
    "answer-q1": ("answer", {"question": "q1"}),
    "answer-q2": ("answer", {"question": "q2"}),
}


@functools.cache
def derivations(case: str) -> tuple:
    name, options = CASES[case]
    if name == "answer":
        return answer(options["question"])
    return family(name).derive(**options)


def marks(derivation) -> list[str]:
    """The longest mark ``gradproof derive`` prints, on every step it checks."""
    return ["checked: exact, numeric" if s.claim is not None else "" for s in derivation.steps]


@functools.cache
def rendered(case: str, fmt: str) -> str:
    """What ``gradproof derive CELL --format FMT`` prints, verification marks and all."""
    return "\n".join(render(d, fmt, marks=marks(d)) for d in derivations(case))


def math_of(markdown: str) -> list[tuple[str, bool]]:
    """Every formula of ``markdown``, as (TeX, display): ``$$`` blocks and inline ``$...$``."""
    found, block = [], None
    for line in markdown.splitlines():
        if line == "$$":
            if block is not None:
                found.append(("\n".join(block), True))
            block = None if block is not None else []
        elif block is not None:
            block.append(line)
        else:
            assert line.count("$") % 2 == 0, f"unpaired $ in {line!r}"
            found += [(span, False) for span in re.findall(r"\$([^$]+)\$", line)]
    assert block is None, "a $$ block is not closed"
    return found


# --- Markdown: real MathJax 3 and KaTeX, run by node ----------------------------------


def _node_modules() -> None:
    """Install the pinned MathJax and KaTeX into ``tests/js`` unless CI already has."""
    if (JS / "node_modules" / "mathjax-full").is_dir() and (JS / "node_modules" / "katex").is_dir():
        return
    npm = shutil.which("npm")
    assert npm, "node is installed but npm is not: run `npm ci` in tests/js"
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True
    )
    assert done.returncode == 0, f"npm ci in tests/js failed:\n{done.stderr[-2000:]}"


def render_errors(items: list[tuple[str, bool]]) -> list[list[dict]]:
    """For each (TeX, display), the errors of MathJax 3 (two configurations) and KaTeX."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the MathJax 3 and KaTeX checks run on Node.js")
    _node_modules()
    done = subprocess.run(
        ["node", str(JS / "check_math.js")],
        input=json.dumps([{"tex": tex, "display": display} for tex, display in items]),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def markdown_problems() -> dict[str, list[str]]:
    """Every case's formulas rendered in one run of node (each distinct one once), by case."""
    found = {case: math_of(rendered(case, "markdown")) for case in CASES}
    distinct = sorted({item for items in found.values() for item in items})
    errors = dict(zip(distinct, render_errors(distinct), strict=True))
    return {
        case: [
            f"{e['engine']}: {e['message']} in {tex[:120]!r}"
            for tex, display in items
            for e in errors[tex, display]
        ]
        for case, items in found.items()
    }


@pytest.mark.parametrize("case", CASES)
def test_markdown_blocks_stay_far_below_mathjax_buffer(case):
    blocks = [tex for tex, display in math_of(rendered(case, "markdown")) if display]
    assert len(blocks) >= len(derivations(case))
    assert max(len(b) for b in blocks) <= MARKDOWN_BLOCK <= MATHJAX_BUFFER // 2


@pytest.mark.parametrize("case", CASES)
def test_markdown_renders_in_mathjax_3_and_katex(markdown_problems, case):
    assert not markdown_problems[case], "\n".join(markdown_problems[case][:10])


def test_the_markdown_gradproof_derive_prints_is_what_is_checked(capsys):
    from numeric.cli import main

    assert main(["derive", "gridlstm", "--variant", "seed", "--format", "markdown"]) == 0
    printed = capsys.readouterr().out
    assert [t for t, _ in math_of(printed)] == [
        t for t, _ in math_of(rendered("gridlstm-stacked", "markdown"))
    ]


def _one_block(markdown: str) -> str:
    """A derivation's rows in one ``aligned`` block, as gradproof wrote Markdown before."""
    rows = [
        tex.removeprefix("\\begin{aligned}\n").removesuffix("\n\\end{aligned}")
        for tex, display in math_of(markdown)
        if display
    ]
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def longest(case: str):
    """The case's derivation with the most to show: the Grid LSTM's block Jacobian."""
    return max(derivations(case), key=lambda d: len(render(d, "latex")))


def test_the_math_check_reports_what_jupyter_would_show_as_an_error():
    jacobian = longest("gridlstm-stacked")
    too_long = _one_block(render(jacobian, "markdown", marks=marks(jacobian)))
    assert len(too_long) > MATHJAX_BUFFER
    items = [
        (r"\operatorname{diag}\left(\tanh'\left(a_{t}\right)\right) W", True),  # fine
        (too_long, True),
        (r"x \undefinedmacro y", True),
        (r"\parbox[t]{2cm}{why}", True),  # LaTeX's, unknown to MathJax and KaTeX
        (r"{x", False),
    ]
    fine, long, undefined, parbox, unbalanced = render_errors(items)
    assert fine == []
    mathjax = {"MathJax 3 (base, ams)", "MathJax 3 (Jupyter)"}
    assert {e["engine"] for e in long if "MaxBufferSize" in e["message"]} == mathjax
    assert all(e["engine"] != "KaTeX" for e in long), "KaTeX has no such buffer"
    everyone = mathjax | {"KaTeX"}
    for errors in (undefined, parbox, unbalanced):
        assert {e["engine"] for e in errors} == everyone, errors
    assert any("\\undefinedmacro" in e["message"] for e in undefined)


# --- LaTeX: real pdflatex, the minimal article -------------------------------------


def _unwrapped_log(folder: Path) -> str:
    """The log with TeX's 79-character line wrapping undone."""
    log = (folder / "doc.log").read_text(errors="replace")
    return re.sub(r"(?m)^(.{79})\n", r"\1", log)


def compile_fragment(folder: Path, fragment: str) -> tuple[list[str], dict[str, int]]:
    """Compile ``fragment`` in the minimal article: the problems found, and each label's page.

    Run twice when the fragment refers to labels, so that references resolve;
    a label defined twice is read off the ``.aux`` file, as the next run would.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tex = MINIMAL_PREAMBLE + "\\begin{document}\n\n" + fragment + "\n\\end{document}\n"
    runs = 2 if re.search(r"\\(eq)?ref\{", fragment) else 1
    for _ in range(runs):
        done = pdflatex(folder, tex)
    log = _unwrapped_log(folder)
    problems = [line for line in log.splitlines() if line.startswith("!")]
    if done.returncode:
        problems.append(f"pdflatex exited with {done.returncode}")
    problems += re.findall(r"LaTeX Warning: Reference `[^']*' on page \d+ undefined", log)
    problems += re.findall(r"LaTeX Warning: Label `[^']*' multiply defined", log)
    problems += [
        f"Overfull \\hbox ({width}pt too wide)"
        for width in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)
        if float(width) > 10
    ]
    problems += re.findall(r"Overfull \\vbox \([\d.]+pt too high\)", log)
    aux = (folder / "doc.aux").read_text() if (folder / "doc.aux").exists() else ""
    defined = re.findall(r"\\newlabel\{([^}]*)\}\{\{[^}]*\}\{(\d+)\}", aux)
    names = [label for label, _ in defined]
    problems += sorted(
        {f"label {label} defined twice" for label in names if names.count(label) > 1}
    )
    return problems, {label: int(page) for label, page in defined}


needs_pdflatex = pytest.mark.skipif(
    shutil.which("pdflatex") is None, reason="no pdflatex installed"
)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> dict[str, tuple[list[str], dict[str, int]]]:
    """Every case's fragment compiled (in parallel: each in its own folder)."""
    root = tmp_path_factory.mktemp("fragments")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = pool.map(
            lambda case: compile_fragment(root / case, rendered(case, "latex")), CASES
        )
        return dict(zip(CASES, results, strict=True))


def labels_in(fragment: str) -> list[str]:
    return re.findall(r"\\label\{([^}]*)\}", fragment)


@needs_pdflatex
@pytest.mark.parametrize("case", CASES)
def test_latex_fragment_compiles_in_a_minimal_article(compiled, case):
    problems, _ = compiled[case]
    assert not problems, "\n".join(problems[:10])


@needs_pdflatex
@pytest.mark.parametrize("case", CASES)
def test_every_step_is_a_numbered_equation_with_its_own_stable_label(compiled, case):
    fragment = rendered(case, "latex")
    expected = [
        equation_label(d.title, k) for d in derivations(case) for k in range(1, len(d.steps) + 1)
    ]
    assert labels_in(fragment) == expected
    assert len(set(expected)) == len(expected)
    assert "align*" not in fragment and fragment.count("\\begin{align}") == len(derivations(case))
    _, pages = compiled[case]
    assert set(pages) == set(expected), "every label is defined in the compiled document"


@needs_pdflatex
def test_a_derivation_longer_than_a_page_breaks_across_pages(compiled, tmp_path):
    jacobian = longest("gridlstm-stacked")
    labels = [equation_label(jacobian.title, k) for k in range(1, len(jacobian.steps) + 1)]
    _, pages = compiled["gridlstm-stacked"]
    spread = {pages[label] for label in labels}
    assert len(spread) >= 2, spread
    # Teeth: without the fragment's own \allowdisplaybreaks, the same block cannot break.
    fragment = render(jacobian, "latex", marks=marks(jacobian))
    assert "{\\allowdisplaybreaks\n" in fragment
    stuck, stuck_pages = compile_fragment(
        tmp_path, fragment.replace("{\\allowdisplaybreaks\n", "{")
    )
    assert len(set(stuck_pages.values())) == 1
    assert any("Overfull \\vbox" in p for p in stuck), stuck


@needs_pdflatex
def test_the_latex_check_reports_what_a_plain_article_rejects(tmp_path):
    first = render(derivations("rnn-tanh")[0], "latex")
    wide = " + ".join(f"W_{{{k}}} h_{{{k}}}" for k in range(40))
    broken = {
        "package": r"$\mathclap{x}$ needs mathtools",
        "reference": r"See \eqref{eq:nowhere}.",
        "twice": first + "\n" + first,
        "wide": "\\begin{align}\nx &= " + wide + "\n\\end{align}",
    }
    found = {
        name: compile_fragment(tmp_path / name, fragment)[0] for name, fragment in broken.items()
    }
    assert any("Undefined control sequence" in p for p in found["package"]), found["package"]
    assert any("eq:nowhere" in p and "undefined" in p for p in found["reference"])
    assert any("defined twice" in p for p in found["twice"]), found["twice"]
    assert any(p.startswith("Overfull \\hbox") for p in found["wide"]), found["wide"]


# --- Broken rows say what the unbroken formula says ------------------------------------


def _unbroken(rows: list[str]) -> str:
    """Rows joined back, without their indents and the brackets and phantoms that close and reopen them."""
    joined = " ".join(re.sub(r"^\\qquad\\quad |^\\qquad |^\\quad ", "", row) for row in rows)
    joined = re.sub(r"\\vphantom\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\}", "", joined)
    joined = re.sub(r"\\left\.|\\right\.|\{\}", "", joined)
    return re.sub(r"\s+", "", joined)


def _balanced(row: str) -> bool:
    """Whether a row closes every brace and every ``\\left`` it opens, as TeX requires."""
    lefts, rights = re.findall(r"\\left\W", row), re.findall(r"\\right\W", row)
    return row.count("{") == row.count("}") and len(lefts) == len(rights)


@pytest.mark.parametrize("case", CASES)
def test_broken_rows_are_the_formula_with_every_bracket_closed_in_its_row(case):
    for derivation in derivations(case):
        for step in derivation.steps:
            tex = latex(step.rhs)
            rows = rhs_rows(tex, 60.0, 90.0)  # narrow: many breaks
            assert _unbroken(rows) == _unbroken([tex])
            assert all(_balanced(row) for row in rows), rows
    # Teeth: a row lost, or a bracket left open across rows, is seen.
    rows = rhs_rows(r"A \left(B + C + D\right) E", 30.0, 60.0)
    assert len(rows) == 4 and r"\right." in rows[1] and r"\left." in rows[2]
    assert _unbroken(rows[:-1]) != _unbroken(rows)
    assert not _balanced(rows[1].replace(r"\right.", ""))
    assert not _balanced(rows[2].replace(r"\left.", ""))
