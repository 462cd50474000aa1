"""The ``gradproof`` command line.

``derive`` prints a verified derivation, ``report`` writes the LaTeX report
(and its PDF where a LaTeX engine is installed), ``flow`` and ``sweep``
measure gradient flow in real or random weights.  User errors end in one
line on stderr and exit code 2, with nothing written; a derivation whose
checks fail is never printed as if it held (exit code 1); any other failure
is a bug, answered by one "please report" line and exit code 1 (the
traceback with ``GRADPROOF_DEBUG=1`` in the environment).

Starting is cheap: this module and the parsers import neither NumPy, SymPy,
matplotlib nor torch, so ``--help`` and argument errors answer at once; each
handler imports what its command runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from .cli_common import (
    ACTIVATION_NAMES,
    CELL_HELP,
    chosen_options,
    limit_blas_threads,
    lookup,
)
from .errors import GradproofInputError
from .flow_cli import add_flow_parser, add_params_parser
from .sweep_cli import add_sweep_parser

#: The questions ``gradproof answer`` knows (``symbolic.answers.QUESTIONS``, kept light).
QUESTION_NAMES = ("q1", "q2")

if TYPE_CHECKING:
    from symbolic.derivation import Derivation

    from .verify import VerificationReport

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2.

    A value that starts with a minus sign and a digit (``--scales -1:1:3``,
    ``--scale -1e-3``) is read as the option's value, not as an unknown
    option: no option of ``gradproof`` looks like a negative number.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # argparse's own pattern takes only plain negative numbers (-1, -0.5) as values
        self._negative_number_matcher = re.compile(r"^-(\.?\d|inf|nan)", re.IGNORECASE)

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """``--version``, looked up only when asked for (package metadata is slow to scan)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import version

        print(f"gradproof {version('gradproof')}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gradproof",
        description="Machine-checked derivations of vanishing and exploding gradients in "
        "recurrent networks: derive, measure, report.",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="print a verified derivation")
    derive.add_argument("cell", help=CELL_HELP)
    derive.add_argument("--activation", help=f"rnn: nonlinearity ({', '.join(ACTIVATION_NAMES)})")
    derive.add_argument(
        "--variant",
        help="lstm: pytorch (default), no_forget or peephole; gru: pytorch (default) or textbook; "
        "gridlstm: paper (default) or stacked (a stacked-LSTM reading of the block)",
    )
    derive.add_argument(
        "--output-form",
        help="gridlstm: h' form (paper or standard); the stacked reading fixes standard",
    )
    derive.add_argument("--priority", help="gridlstm: priority dimension (none or depth)")
    _add_output_arguments(derive)
    derive.set_defaults(func=run_derive)

    answer = commands.add_parser(
        "answer", help="the answer to Q1 or Q2, verified, ready to paste into a report"
    )
    answer.add_argument(
        "question",
        choices=QUESTION_NAMES,
        help="q1: why the gradients of an Elman RNN vanish, from the Jacobian chain to the "
        "loss; q2: what the 2D Grid LSTM carries along time and depth, and its equations",
    )
    _add_output_arguments(answer)
    answer.set_defaults(func=run_answer)

    report = commands.add_parser("report", help="write the verified report (LaTeX, PDF)")
    report.add_argument("--out", default="report", help="output folder (default: report/)")
    report.add_argument("--title", help="the report's title")
    report.add_argument("--author", help="the author line under the title")
    report.add_argument(
        "--date",
        default="",
        help="the date line (default: none, so that the same inputs give the same bytes)",
    )
    report.add_argument("--paper", choices=("a4", "letter"), default="a4", help="paper size")
    report.set_defaults(func=run_report)

    _add_grid_flow_arguments(add_flow_parser(commands))
    add_sweep_parser(commands)
    add_params_parser(commands)
    return parser


#: ``flow`` options of the Grid LSTM's N-dimensional grids (``numeric.gridlstm.cli`` reads them).
GRID_FLOW_OPTIONS = ("dims", "non_lstm", "peepholes", "tied_dims", "memory_input")


def _add_grid_flow_arguments(flow: argparse.ArgumentParser) -> None:
    """``flow gridlstm``'s grid options; the flow of any other cell refuses them."""
    flow.add_argument(
        "--dims",
        metavar="NAMES",
        help="gridlstm: the grid's dimensions in the order of H, comma-separated, each time or "
        "depth with an optional digit 2-9 (time2): what it runs along; the first depth "
        "dimension takes the input and gives the output; depth alone is the 1D Grid LSTM "
        "(default time,depth)",
    )
    flow.add_argument(
        "--non-lstm",
        metavar="NAME=FN,...",
        help="gridlstm: non-LSTM dimensions h' = FN(V H + b), FN one of "
        f"{', '.join(ACTIVATION_NAMES)}, e.g. depth=relu (default none)",
    )
    flow.add_argument(
        "--peepholes",
        action="store_true",
        help="gridlstm: peephole weights in every LSTM dimension: the input and forget gates "
        "read the incoming memory, the output gate the new one",
    )
    flow.add_argument(
        "--tied-dims",
        action="store_true",
        help="gridlstm: one weight set for all LSTM dimensions, one per function for the "
        "non-LSTM ones (--tied shares weights across layers)",
    )
    flow.add_argument(
        "--memory-input",
        metavar="HOW",
        help="gridlstm: the input dimension's memory below the first layer: zero (the paper), "
        "projection (m = P_m x, a projection of its own) or shared (m = P_h x, the hidden "
        "vector's projection) (default zero)",
    )
    flow.set_defaults(func=_run_flow)


def _run_flow(args: argparse.Namespace) -> int:
    """``flow``, with the grid options refused for cells whose flow is not the Grid LSTM's."""
    from .flow_cli import run_flow  # looked up at each call

    given = [
        f"--{name.replace('_', '-')}"
        for name in GRID_FLOW_OPTIONS
        if getattr(args, name) not in (None, False)
    ]
    if given and lookup(args.cell).flow is None:
        verb, pronoun = ("applies", "it") if len(given) == 1 else ("apply", "them")
        raise GradproofInputError(f"{', '.join(given)} {verb} only to gridlstm; drop {pronoun}")
    return run_flow(args)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("latex", "markdown", "text"), default="text")
    parser.add_argument("--standalone", action="store_true", help="a complete LaTeX document")
    parser.add_argument(
        "--bold", action="store_true", help="bold vectors and matrices (latex, markdown)"
    )


def verified(derivations: Sequence[Derivation]) -> list[VerificationReport]:
    """Verify every derivation; raise if any check fails."""
    from .verify import verify

    reports = [verify(d) for d in derivations]
    failures = [f"{r.derivation.title}: {line}" for r in reports for line in r.failures()]
    if failures:
        raise VerificationError("; ".join(failures))
    return reports


class VerificationError(RuntimeError):
    """A derivation's check failed: a defect, never printed as a result."""


def _check_output_arguments(args: argparse.Namespace) -> None:
    if args.standalone and args.format != "latex":
        raise GradproofInputError("--standalone needs --format latex")
    if args.bold and args.format == "text":
        raise GradproofInputError("--bold needs --format latex or markdown (text has no bold)")


def _print_verified(derivations: Sequence[Derivation], args: argparse.Namespace, title: str) -> int:
    from symbolic.latex import document, render

    reports = verified(derivations)
    parts = [render(r.derivation, args.format, bold=args.bold, marks=r.marks) for r in reports]
    body = ("\n\n" if args.format == "text" else "\n").join(parts)
    if args.standalone:
        body = document(body, title)
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


def run_derive(args: argparse.Namespace) -> int:
    """Handler of ``gradproof derive``."""
    _check_output_arguments(args)
    fam = lookup(args.cell)
    options = chosen_options(fam, args)
    try:
        derivations = fam.derive(**options)
    except ValueError as exc:  # a combination of options the family refuses
        raise GradproofInputError(str(exc)) from None
    return _print_verified(derivations, args, f"Gradient flow through the {fam.name} cell")


def run_answer(args: argparse.Namespace) -> int:
    """Handler of ``gradproof answer``."""
    _check_output_arguments(args)
    from symbolic.answers import answer

    titles = {"q1": "Why the gradients of an RNN vanish", "q2": "The 2D Grid LSTM"}
    return _print_verified(answer(args.question), args, titles[args.question])


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``gradproof report``."""
    from .report import TitleBlock, write_report

    given = {k: getattr(args, k) for k in ("title", "author") if getattr(args, k) is not None}
    title = TitleBlock(**given, date=args.date, paper=args.paper)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for line in write_report(args.out, progress, title):
        print(line)
    return 0


#: What a bug's line asks the user to do.
REPORT_BUG = (
    "please report it with the command line that caused it "
    "(set GRADPROOF_DEBUG=1 for the traceback)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradproof`` console script; returns the exit code.

    0: done.  2: a user error (one line on stderr, nothing written), from
    argparse too.  1: a derivation's check failed, or a bug: one line,
    "please report", and no traceback unless ``GRADPROOF_DEBUG=1``, which
    lets the exception through.  141 (128 + SIGPIPE, as the shell shows a
    program killed by a closed pipe): stdout was closed early, as by
    ``gradproof ... | head``; nothing is printed.  130: Ctrl-C.

    Examples
    --------
    >>> main(["derive", "nosuchcell"])
    2
    >>> main(["nosuchcommand"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    args = _parser().parse_args(argv)
    limit_blas_threads()  # before any handler imports NumPy
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except GradproofInputError as exc:
        print(f"gradproof: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader left (| head): send what is still buffered nowhere, exit quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # a folder that cannot be made, a full disk: the user's to fix
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"gradproof: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "gradproof: error: out of memory; lower the sizes (--steps, --hidden, --input, "
            "--seeds, --scales) or free memory",
            file=sys.stderr,
        )
        return 2
    except VerificationError as exc:
        print(f"gradproof: verification failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gradproof: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("GRADPROOF_DEBUG") == "1":
            raise
        what = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"gradproof: internal error: {what}; {REPORT_BUG}", file=sys.stderr)
        return 1


def run() -> NoReturn:
    """The console script: :func:`main`, then exit without freeing memory.

    A derivation leaves SymPy's caches holding millions of objects, and
    freeing them one by one at interpreter exit took about 0.4 s, a fifth
    of a ``derive``.  Every file is closed and every worker process joined
    when :func:`main` returns, so after flushing the standard streams the
    process ends with :func:`os._exit`, as mypy's ``hard_exit`` does.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader that left: main has already chosen the code
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
