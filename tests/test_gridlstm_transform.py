"""The LSTM transform: the two output forms."""

from __future__ import annotations

import pytest

from symbolic.gridlstm.description import describe
from symbolic.gridlstm.sequence_models import grid_lstm_2d
from symbolic.gridlstm.transform import LSTMTransform


def test_output_forms_differ_as_stated():
    tanh_of_product = grid_lstm_2d(output_form="paper")
    product_of_tanh = grid_lstm_2d(output_form="standard")
    h = tanh_of_product.block.vector("h", "T", "new")
    assert dict(describe(tanh_of_product).output_form)["T"] == "tanh(output gate ⊙ new memory)"
    assert dict(describe(product_of_tanh).output_form)["T"] == "output gate ⊙ tanh(new memory)"
    assert any("tanh(g^o ⊙ m')" in n for n in tanh_of_product.notes)
    assert any("g^o ⊙ tanh(m')" in n for n in product_of_tanh.notes)
    assert tanh_of_product.cell.definitions[h] != product_of_tanh.cell.definitions[h]
    with pytest.raises(ValueError, match="output_form"):
        LSTMTransform("tanh-outside")
