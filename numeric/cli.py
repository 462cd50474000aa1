"""The ``gradproof`` command line.

``derive`` prints a verified derivation, ``report`` writes the LaTeX report
(and its PDF where a LaTeX engine is installed), ``flow`` and ``sweep``
measure gradient flow in real or random weights.  User errors end in one
line on stderr and exit code 2; a derivation whose checks fail is never
printed as if it held (exit code 1).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from symbolic.activations import ACTIVATIONS
from symbolic.derivation import Derivation
from symbolic.gated_proofs import gru_derivations, lstm_derivations
from symbolic.grid_lstm import OUTPUT_FORMS, PRIORITIES
from symbolic.grid_proofs import grid_derivations
from symbolic.gru import GRU_VARIANTS
from symbolic.latex import document, render
from symbolic.lstm import LSTM_VARIANTS
from symbolic.rnn_proof import rnn_derivations

from .errors import GradproofInputError
from .flow_cli import add_flow_parser, add_sweep_parser
from .verify import VerificationReport, verify

__all__ = ["DERIVE_CELLS", "main"]


@dataclass(frozen=True)
class DeriveCell:
    """How ``gradproof derive CELL`` builds its derivations from the options.

    ``options`` are the optional arguments the cell takes (argparse names);
    ``variants`` the values ``--variant`` may take for it.
    """

    build: Callable[[argparse.Namespace], tuple[Derivation, ...]]
    options: tuple[str, ...]
    variants: tuple[str, ...] = ()


def _grid(args: argparse.Namespace) -> tuple[Derivation, ...]:
    if args.variant == "seed" and args.priority == "none":
        raise GradproofInputError(
            "in the seed's reading the depth LSTM reads the new time hidden vector, "
            "so its priority is depth; drop --priority none"
        )
    return grid_derivations(args.variant or "paper", args.output_form, args.priority)


#: Cells ``gradproof derive`` knows, by command-line name.
DERIVE_CELLS: dict[str, DeriveCell] = {
    "rnn": DeriveCell(lambda a: rnn_derivations(a.activation or "tanh"), ("activation",)),
    "lstm": DeriveCell(
        lambda a: lstm_derivations(a.variant or "pytorch"), ("variant",), LSTM_VARIANTS
    ),
    "gru": DeriveCell(
        lambda a: gru_derivations(a.variant or "pytorch"), ("variant",), GRU_VARIANTS
    ),
    "gridlstm": DeriveCell(_grid, ("variant", "output_form", "priority"), ("paper", "seed")),
}
_OPTIONS = ("activation", "variant", "output_form", "priority")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gradproof", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    derive = commands.add_parser("derive", help="print a verified derivation")
    derive.add_argument("cell", choices=sorted(DERIVE_CELLS), help="recurrent cell")
    derive.add_argument("--activation", choices=sorted(ACTIVATIONS), help="rnn: nonlinearity")
    variants = sorted({v for spec in DERIVE_CELLS.values() for v in spec.variants})
    derive.add_argument("--variant", choices=variants, help="cell variant (see README)")
    derive.add_argument("--output-form", choices=sorted(OUTPUT_FORMS), help="gridlstm: h' form")
    derive.add_argument("--priority", choices=PRIORITIES, help="gridlstm: priority dimension")
    derive.add_argument("--format", choices=("latex", "markdown", "text"), default="text")
    derive.add_argument("--standalone", action="store_true", help="a complete LaTeX document")
    derive.add_argument("--bold", action="store_true", help="bold vectors and matrices")
    derive.set_defaults(func=run_derive)

    report = commands.add_parser("report", help="write the verified report (LaTeX, PDF)")
    report.add_argument("--out", default="report", help="output folder (default: report/)")
    report.set_defaults(func=run_report)

    add_flow_parser(commands)
    add_sweep_parser(commands)
    return parser


def verified(derivations: Sequence[Derivation]) -> list[VerificationReport]:
    """Verify every derivation; raise if any check fails."""
    reports = [verify(d) for d in derivations]
    failures = [f"{r.derivation.title}: {line}" for r in reports for line in r.failures()]
    if failures:
        raise VerificationError("; ".join(failures))
    return reports


class VerificationError(RuntimeError):
    """A derivation's check failed: a defect, never printed as a result."""


def run_derive(args: argparse.Namespace) -> int:
    """Handler of ``gradproof derive``."""
    spec = DERIVE_CELLS[args.cell]
    given = [name for name in _OPTIONS if getattr(args, name, None) is not None]
    unused = [f"--{name.replace('_', '-')}" for name in given if name not in spec.options]
    if unused:
        raise GradproofInputError(f"{', '.join(unused)} does not apply to {args.cell}; drop it")
    if args.variant is not None and args.variant not in spec.variants:
        raise GradproofInputError(
            f"--variant {args.variant} is not a variant of {args.cell}; "
            f"choose one of {', '.join(spec.variants)}"
        )
    if args.standalone and args.format != "latex":
        raise GradproofInputError("--standalone needs --format latex")
    reports = verified(spec.build(args))
    parts = [render(r.derivation, args.format, bold=args.bold, marks=r.marks) for r in reports]
    body = ("\n\n" if args.format == "text" else "\n").join(parts)
    if args.standalone:
        title = f"gradproof: {args.cell} derivations, every step machine-checked"
        body = document(body, title)
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``gradproof report``."""
    from .report import write_report

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    for line in write_report(args.out, progress):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gradproof`` console script.

    Examples
    --------
    >>> main(["derive", "nosuchcell"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except GradproofInputError as exc:
        print(f"gradproof: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a folder that cannot be made, a full disk: the user's to fix
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"gradproof: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except VerificationError as exc:
        print(f"gradproof: verification failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
