"""The LSTM transform: the two output forms, and peepholes placed as in Gers et al. (2002)."""

from __future__ import annotations

import pytest
import sympy as sp
from sympy.matrices.expressions import HadamardProduct

from symbolic.gridlstm.block import Dimension, grid_block
from symbolic.gridlstm.description import describe
from symbolic.gridlstm.sequence_models import grid_lstm_2d
from symbolic.gridlstm.transform import GATE_ROLES, OUTPUT_FORMS, LSTMTransform


def _peephole_block(output_form="standard"):
    i, j = sp.symbols("i j", integer=True)
    transform = LSTMTransform(output_form, biases=True, peepholes=True)
    return grid_block([Dimension("1", "one", i), Dimension("2", "two", j)], transform=transform)


def _param(block, name):
    (found,) = [p for p in block.cell.params if p.name == name]
    return found


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


def test_peepholes_are_off_by_default_and_nothing_reads_a_memory_through_them():
    assert not LSTMTransform().peepholes
    model = grid_lstm_2d()
    assert not [p for p in model.cell.params if p.name.startswith("p^")]


@pytest.mark.parametrize("output_form", sorted(OUTPUT_FORMS))
def test_peepholes_read_the_incoming_memory_in_u_and_f_and_the_new_memory_in_o(output_form):
    block = _peephole_block(output_form)
    defs = block.cell.definitions
    for label in ("1", "2"):
        m_in, m_new = block.vector("m", label, "in"), block.vector("m", label, "new")
        p = {r: _param(block, f"p^{{{label}}}_{{{r}}}") for r in "ufo"}
        pre = {
            letter: defs[block.preactivation(label, role)]
            for role, letter in zip(GATE_ROLES, "ufco", strict=True)
        }
        for r in "uf":
            assert pre[r].has(HadamardProduct(p[r], m_in)) and not pre[r].has(m_new)
        assert pre["o"].has(HadamardProduct(p["o"], m_new)) and not pre["o"].has(m_in)
        assert not pre["c"].has(m_in) and not pre["c"].has(m_new)
        order = [eq.lhs for eq in block.cell.equations]
        assert order.index(m_new) < order.index(block.preactivation(label, "output"))
