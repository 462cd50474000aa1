"""The LSTM cells: structure, exact Jacobians at n = 2, finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.check import check_jacobian
from numeric.compile import compile_cell
from symbolic.explicit import entries, explicit, jacobian_mismatches
from symbolic.jacobians import step_jacobian, step_jacobian_blocks
from symbolic.lstm import LSTM_VARIANTS, lstm

VARIANTS = list(LSTM_VARIANTS)


def _vector(cell, name):
    n = cell.dims[0]
    return sp.MatrixSymbol(name, n, 1)


def _random_params(cell, rng, scale=1.0, **sizes):
    subs = cell.with_sizes(**sizes)
    params = {}
    for p in cell.params:
        rows, cols = (int(d.xreplace(subs)) for d in p.shape)
        vector = p.shape[1] == 1  # a bias; an input matrix at m = 1 stays 2-D
        params[p.name] = scale * rng.standard_normal(rows if vector else (rows, cols))
    return params


def test_pytorch_lstm_has_four_gates_and_full_state_h_then_c():
    cell = lstm()
    assert [str(s) for s in cell.state_symbols] == ["h_{t-1}", "c_{t-1}"]
    assert [str(s) for s in cell.new_state_symbols] == ["h_{t}", "c_{t}"]
    names = {p.name for p in cell.params}
    for gate in "ifgo":
        assert {f"W_{{i{gate}}}", f"W_{{h{gate}}}", f"b_{{{gate}}}"} <= names
    assert len(cell.params) == 12
    assert any("i, f, g, o" in note for note in cell.notes)


def test_no_forget_variant_drops_the_forget_gate():
    cell = lstm("no_forget")
    names = {p.name for p in cell.params}
    assert not {"W_{if}", "W_{hf}", "b_{f}"} & names
    assert len(cell.params) == 9
    assert cell != lstm("pytorch")


def test_unknown_variant_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="pytorch, no_forget, peephole"):
        lstm("peepholes")


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_jacobian_equals_elementwise_jacobian_at_n2(variant):
    cell = lstm(variant)
    assert jacobian_mismatches(cell, cell.with_sizes(n=2, m=1)) == []


def test_memory_path_is_diag_f_with_forget_gate_and_identity_without():
    with_forget = step_jacobian_blocks(lstm("pytorch"))[1][1]
    without = step_jacobian_blocks(lstm("no_forget"))[1][1]
    assert with_forget == DiagMatrix(_vector(lstm(), "f_{t}"))
    assert without == sp.Identity(lstm().dims[0])


@pytest.mark.parametrize(
    ("variant", "block", "wrong"),
    [
        # The carousel without its gate: claiming dc_t/dc_{t-1} = I for the PyTorch cell.
        ("pytorch", (1, 1), lambda cell: sp.Identity(cell.dims[0])),
        # Forgetting the path through h_t's output gate.
        ("pytorch", (0, 1), lambda cell: DiagMatrix(_vector(cell, "f_{t}"))),
        # A forget gate where the 1997 cell has none.
        ("no_forget", (1, 1), lambda cell: DiagMatrix(_vector(cell, "i_{t}"))),
    ],
)
def test_a_wrong_block_is_caught(variant, block, wrong):
    cell = lstm(variant)
    blocks = [list(row) for row in step_jacobian_blocks(cell)]
    blocks[block[0]][block[1]] = wrong(cell)
    assert jacobian_mismatches(cell, cell.with_sizes(n=2, m=1), blocks=blocks) == [block]


def test_new_memory_is_f_c_plus_i_g_entry_by_entry():
    cell = lstm()
    sizes = cell.with_sizes(n=2, m=1)
    c_new = explicit(cell.new_state_symbols[1], sizes, cell.definitions)
    gates = {k: explicit(_vector(cell, f"{k}_{{t}}"), sizes, cell.definitions) for k in "fig"}
    c_old = entries(_vector(cell, "c_{t-1}"), sizes)
    expected = gates["f"].multiply_elementwise(c_old) + gates["i"].multiply_elementwise(gates["g"])
    assert sp.simplify(c_new - expected) == sp.zeros(2, 1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_compiled_jacobian_matches_finite_differences(variant):
    cell = lstm(variant)
    rng = np.random.default_rng(1)
    compiled = compile_cell(cell, n=4, m=3)
    params = _random_params(cell, rng, n=4, m=3)
    s = rng.standard_normal((6, compiled.state_size))
    x = rng.standard_normal((6, 3))
    result = check_jacobian(
        lambda v: compiled.step(v, x, params), lambda v: compiled.jacobian(v, x, params), s
    )
    assert result.passed, result.detail
    broken = lambda v: compiled.jacobian(v, x, params) * 1.001  # noqa: E731
    assert not check_jacobian(lambda v: compiled.step(v, x, params), broken, s).passed


def test_compiled_jacobian_blocks_are_laid_out_h_then_c():
    cell = lstm()
    rng = np.random.default_rng(2)
    compiled = compile_cell(cell, n=3, m=2)
    params = _random_params(cell, rng, n=3, m=2)
    s, x = rng.standard_normal(6), rng.standard_normal(2)
    J = compiled.jacobian(s, x, params)
    forget = 1 / (1 + np.exp(-(params["W_{if}"] @ x + params["W_{hf}"] @ s[:3] + params["b_{f}"])))
    np.testing.assert_allclose(J[3:, 3:], np.diag(forget), rtol=1e-12)
    assert step_jacobian(cell).blockshape == (2, 2)
