"""What every command that names a cell shares: the lookup and its options.

A cell on the command line is a registered family (``rnn``, ``lstm``,
``gru``, ``gridlstm``) or a user's cell as ``path/to/file.py:function`` or
``package.module:function``; both go through :func:`symbolic.registry.family`.
"""

from __future__ import annotations

import argparse

from symbolic.registry import CellFamily, family, family_names

from .errors import GradproofInputError

__all__ = ["CELL_HELP", "CELL_OPTIONS", "chosen_options", "lookup"]

#: Options a family may take (argparse attribute names).
CELL_OPTIONS = ("activation", "variant", "output_form", "priority")
#: Help for the ``cell`` argument.
CELL_HELP = (
    f"a built-in cell ({', '.join(family_names())}) or your own as file.py:function "
    "or package.module:function (a function returning a Cell)"
)


def lookup(spec: str) -> CellFamily:
    """The family for a built-in name or a user's ``file.py:function``; one-line errors.

    Examples
    --------
    >>> lookup("lstm").name
    'lstm'
    >>> lookup("nosuchcell")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: cell 'nosuchcell' is neither a registered name (gridlstm, gru, lstm, rnn) nor file.py:function or package.module:function
    """
    try:
        return family(spec)
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None


def chosen_options(fam: CellFamily, args: argparse.Namespace) -> dict[str, str]:
    """The family's options from the command line, defaults filled in, others refused.

    Examples
    --------
    >>> chosen_options(lookup("gru"), argparse.Namespace(variant="textbook"))
    {'variant': 'textbook'}
    """
    try:
        return fam.resolve({name: getattr(args, name, None) for name in CELL_OPTIONS})
    except ValueError as exc:
        raise GradproofInputError(str(exc)) from None
