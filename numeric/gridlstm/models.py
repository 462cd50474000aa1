"""The 2D grid models the numeric side runs, by name.

``"gridlstm"`` is the 2D Grid LSTM of :mod:`symbolic.gridlstm.sequence_models`
(with biases, as the weight files have them), ``"stacked-lstm"`` and
``"stacked-rnn"`` the stacked models it is compared with.
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
    output_form: str = "paper",
    priority: str = "none",
    variant: str = "paper",
) -> GridSequenceModel:
    """The symbolic model behind a numeric run.

    ``"gridlstm"`` always carries biases (the weight files have them);
    ``"stacked-lstm"`` and ``"stacked-rnn"`` are the comparison models.

    Examples
    --------
    >>> grid_model("stacked-rnn").name
    'stacked-rnn'
    """
    if name == "gridlstm":
        return grid_lstm_2d(variant, output_form, None if variant == "seed" else priority, True)
    if name == "stacked-lstm":
        return stacked_lstm_2d("standard")
    if name == "stacked-rnn":
        return stacked_rnn_2d()
    raise GradproofInputError(
        f"unknown grid model {name!r}; choose one of {', '.join(GRID_MODELS)}"
    )
