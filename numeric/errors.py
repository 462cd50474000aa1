"""The project's exception for bad user input.

Everything a user hands to the numeric side (weight files, inputs, sizes,
step counts) is validated where it is read; a problem raises
:class:`GradproofInputError` with a one-line message that names the problem
and what to do.  The command line turns it into that line on stderr and exit
code 2, so no traceback is shown for a mistake in the input.
"""

from __future__ import annotations

__all__ = ["GradproofInputError"]


class GradproofInputError(ValueError):
    """Bad input: a missing key, a wrong shape, a non-finite value, an unreadable file.

    Subclasses ``ValueError`` so library callers that already catch
    ``ValueError`` keep working.

    Examples
    --------
    >>> err = GradproofInputError("--steps must be positive, got 0; pass --steps T with T >= 1")
    >>> isinstance(err, ValueError)
    True
    >>> str(err)
    '--steps must be positive, got 0; pass --steps T with T >= 1'
    """

    def __init__(self, message: str) -> None:
        # One line: the CLI prints the message as is, and a newline would
        # split one error into what looks like several.
        super().__init__(" ".join(str(message).split()))
