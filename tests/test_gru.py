"""The GRU cells: structure, exact Jacobians at n = 2, finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.check import check_jacobian
from numeric.compile import compile_cell
from symbolic.explicit import entries, exactly_equal, explicit, jacobian_mismatches
from symbolic.gru import GRU_VARIANTS, gru
from symbolic.jacobians import step_jacobian_blocks

VARIANTS = list(GRU_VARIANTS)


def _random_params(cell, rng, **sizes):
    subs = cell.with_sizes(**sizes)
    params = {}
    for p in cell.params:
        rows, cols = (int(d.xreplace(subs)) for d in p.shape)
        vector = p.shape[1] == 1  # a bias; an input matrix at m = 1 stays 2-D
        params[p.name] = rng.standard_normal(rows if vector else (rows, cols))
    return params


def test_gru_keeps_the_two_candidate_biases_apart():
    cell = gru()
    names = [p.name for p in cell.params]
    assert {"b_{in}", "b_{hn}", "b_{r}", "b_{z}"} <= set(names)
    assert len(names) == 10
    assert [str(s) for s in cell.state_symbols] == ["h_{t-1}"]
    assert any("r, z, n" in note for note in cell.notes)


def test_unknown_variant_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="pytorch, textbook"):
        gru("minimal")


@pytest.mark.parametrize("variant", VARIANTS)
def test_step_jacobian_equals_elementwise_jacobian_at_n2(variant):
    cell = gru(variant)
    assert jacobian_mismatches(cell, cell.with_sizes(n=2, m=1)) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_dropping_the_z_carry_is_caught(variant):
    cell = gru(variant)
    ((block,),) = step_jacobian_blocks(cell)
    z_t = sp.MatrixSymbol("z_{t}", cell.dims[0], 1)
    wrong = block - DiagMatrix(z_t)
    assert jacobian_mismatches(cell, cell.with_sizes(n=2, m=1), blocks=((wrong,),)) == [(0, 0)]


def test_the_variants_differ_only_in_where_r_sits():
    pytorch, textbook = gru("pytorch"), gru("textbook")
    sizes = pytorch.with_sizes(n=2, m=1)
    new = [explicit(c.new_state_symbols[0], sizes, c.definitions) for c in (pytorch, textbook)]
    assert not exactly_equal(*new)
    # At n = 1 with b_hn = 0, r * (W_hn h) == W_hn * (r * h): the forms coincide.
    sizes = pytorch.with_sizes(n=1, m=1)
    zero_bias = {entries(sp.MatrixSymbol("b_{hn}", 1, 1))[0, 0]: 0}
    new = [
        explicit(c.new_state_symbols[0], sizes, c.definitions).xreplace(zero_bias)
        for c in (pytorch, textbook)
    ]
    assert exactly_equal(*new)


@pytest.mark.parametrize("variant", VARIANTS)
def test_compiled_jacobian_matches_finite_differences(variant):
    cell = gru(variant)
    rng = np.random.default_rng(3)
    compiled = compile_cell(cell, n=5, m=2)
    params = _random_params(cell, rng, n=5, m=2)
    s = rng.standard_normal((6, 5))
    x = rng.standard_normal((6, 2))
    result = check_jacobian(
        lambda v: compiled.step(v, x, params), lambda v: compiled.jacobian(v, x, params), s
    )
    assert result.passed, result.detail
    no_carry = lambda v: compiled.jacobian(v, x, params) - np.eye(5)  # noqa: E731
    assert not check_jacobian(lambda v: compiled.step(v, x, params), no_carry, s).passed


def test_z_near_one_copies_the_state():
    cell = gru()
    rng = np.random.default_rng(4)
    compiled = compile_cell(cell, n=3, m=1)
    params = _random_params(cell, rng, n=3, m=1)
    params["b_{z}"] = np.full(3, 50.0)
    h, x = rng.standard_normal(3), rng.standard_normal(1)
    np.testing.assert_allclose(compiled.step(h, x, params), h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled.jacobian(h, x, params), np.eye(3), atol=1e-12)
