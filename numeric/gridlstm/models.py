"""The 2D grid models the numeric side runs, by name.

``"gridlstm"`` is the 2D Grid LSTM of :mod:`symbolic.gridlstm.sequence_models`
(the paper's block or the stacked reading of it, with biases, as the weight
files have them), ``"stacked-lstm"`` and ``"stacked-rnn"`` the stacked models
it is compared with.
"""

from __future__ import annotations

from symbolic.gridlstm.sequence_models import (
    GridSequenceModel,
    grid_lstm_2d,
    stacked_lstm_2d,
    stacked_rnn_2d,
)

from ..errors import GradproofInputError

__all__ = ["GRID_MODELS", "grid_model"]

#: Models the numeric side runs, by name.
GRID_MODELS = ("gridlstm", "stacked-lstm", "stacked-rnn")


def grid_model(
    name: str = "gridlstm",
    *,
    output_form: str | None = None,
    priority: str | None = None,
    variant: str = "paper",
) -> GridSequenceModel:
    """The symbolic model behind a numeric run.

    ``"gridlstm"`` is :func:`~symbolic.gridlstm.sequence_models.grid_lstm_2d`
    of ``variant`` (``"paper"`` or ``"stacked"``), always with biases (the
    weight files have them); options not given are the variant's own, so
    ``variant="stacked"`` runs the stacked reading's output form, and a
    conflicting option raises a one-line :class:`GradproofInputError`.
    ``"stacked-lstm"`` and ``"stacked-rnn"`` are the comparison models.

    Examples
    --------
    >>> grid_model("stacked-rnn").name
    'stacked-rnn'
    >>> grid_model(variant="stacked").block.transform.output_form
    'standard'
    >>> grid_model(variant="stacked", output_form="paper")
    Traceback (most recent call last):
    ...
    numeric.errors.GradproofInputError: variant stacked uses output form standard; drop --output-form or choose variant paper
    """
    if name == "gridlstm":
        try:
            return grid_lstm_2d(variant, output_form, priority, True)
        except ValueError as exc:
            raise GradproofInputError(str(exc)) from None
    if name == "stacked-lstm":
        return stacked_lstm_2d("standard")
    if name == "stacked-rnn":
        return stacked_rnn_2d()
    raise GradproofInputError(
        f"unknown grid model {name!r}; choose one of {', '.join(GRID_MODELS)}"
    )
