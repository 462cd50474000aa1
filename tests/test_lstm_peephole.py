"""The peephole LSTM: its equations, its blocks (each shown to catch a wrong one), the
carousel's extra terms, its weight layout, and its compiled step against a float64 torch cell.

PyTorch has no peephole cell, so the reference is written here from Gers, Schraudolph and
Schmidhuber (2002), in the form of TensorFlow's ``LSTMCell(use_peepholes=True)``, reading a
``state_dict`` as a user's module would store it: an ``LSTMCell``'s four tensors (gates
``i, f, g, o``) and the vectors ``weight_ci``, ``weight_cf``, ``weight_co``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions import DiagMatrix

from numeric.compile import compile_cell
from numeric.weights import random_state_dict, torch_weights
from symbolic.derivation import EqualityClaim, JacobianClaim
from symbolic.explicit import elementwise_jacobian
from symbolic.gated import ClosedFormClaim
from symbolic.jacobians import step_jacobian_blocks
from symbolic.lstm import FAMILY, lstm, lstm_jacobian_derivation, peephole_carousel_derivation

FAST = (2,)


def _symbol(cell, name):
    return sp.MatrixSymbol(name, cell.dims[0], 1)


def test_input_and_forget_gates_read_the_old_memory_and_the_output_gate_the_new():
    cell = lstm("peephole")
    (_, c_prev), (_, c) = cell.state_symbols, cell.new_state_symbols
    pre = {k: cell.definitions[_symbol(cell, f"a^{{{k}}}_{{t}}")] for k in "ifgo"}
    peepholes = {k: _symbol(cell, f"w_{{c{k}}}") for k in "ifo"}
    for k in "if":
        assert pre[k].has(sp.HadamardProduct(c_prev, peepholes[k])) and not pre[k].has(c)
    assert pre["o"].has(sp.HadamardProduct(c, peepholes["o"])) and not pre["o"].has(c_prev)
    assert not pre["g"].has(c_prev)
    order = [str(eq.lhs) for eq in cell.equations]
    assert order.index("c_{t}") < order.index("a^{o}_{t}")
    assert [p.name for p in cell.params][-3:] == ["w_{ci}", "w_{cf}", "w_{co}"]
    assert all(p.shape[1] == 1 for p in cell.params[-3:])
    # the other variants keep their parameters and their equation order
    assert [str(eq.lhs) for eq in lstm().equations][-2:] == ["c_{t}", "h_{t}"]
    assert not {"w_{ci}", "w_{cf}", "w_{co}"} & {p.name for p in lstm().params}


def _claim(derivation, kind, out, wrt):
    """The derivation's claim of ``kind`` about the block ``d out / d wrt``."""
    cell = lstm("peephole")
    rows, cols = [str(v) for v in cell.new_state_symbols], [str(v) for v in cell.state_symbols]
    block = step_jacobian_blocks(cell)[rows.index(out)][cols.index(wrt)]
    for step in derivation.steps:
        claim = step.claim
        if kind is JacobianClaim and isinstance(claim, kind):
            if (str(claim.out), str(claim.wrt)) == (out, wrt):
                return claim
        if kind is ClosedFormClaim and isinstance(claim, kind) and claim.lhs == block:
            return claim
    raise LookupError(f"no {kind.__name__} for d{out}/d{wrt}")


@pytest.fixture(scope="module")
def derivation():
    return lstm_jacobian_derivation("peephole", FAST)


def test_the_memory_path_without_its_peephole_terms_fails(derivation):
    claim = _claim(derivation, JacobianClaim, "c_{t}", "c_{t-1}")
    closed = _claim(derivation, ClosedFormClaim, "c_{t}", "c_{t-1}")
    assert claim.check_exact().passed and closed.check_exact().passed
    forget = DiagMatrix(_symbol(claim.cell, "f_{t}"))
    assert not dataclasses.replace(claim, expr=forget).check_exact().passed
    # either peephole term dropped: still wrong
    for name in ("w_{ci}", "w_{cf}"):
        peephole = DiagMatrix(_symbol(claim.cell, name))
        dropped = sp.MatAdd(*(t for t in closed.rhs.args if not t.has(peephole)))
        assert len(dropped.args) == 2 and dropped.has(forget)
        assert not dataclasses.replace(closed, rhs=dropped).check_exact().passed


def test_the_output_path_without_the_output_peephole_fails(derivation):
    for wrt in ("c_{t-1}", "h_{t-1}"):
        closed = _claim(derivation, ClosedFormClaim, "h_{t}", wrt)
        assert closed.check_exact().passed
        o_peephole = DiagMatrix(_symbol(closed.cell, "w_{co}"))
        without = sp.MatAdd(*(t for t in closed.rhs.args if not t.has(o_peephole)))
        assert without != closed.rhs
        assert not dataclasses.replace(closed, rhs=without).check_exact().passed


def test_the_carousel_shows_what_the_peepholes_add():
    carousel = peephole_carousel_derivation(FAST)
    claims = [s.claim for s in carousel.steps if s.claim is not None]
    assert all(c.check_exact().passed for c in claims)
    memory = [c for c in claims if isinstance(c, JacobianClaim) and str(c.out) == "c_{t}"]
    (plain, with_peepholes) = memory
    assert plain.expr == DiagMatrix(_symbol(plain.cell, "f_{t}"))
    assert with_peepholes.cell == lstm("peephole")
    # diag(f_t), then one term per peephole on c_{t-1}
    assert with_peepholes.expr.args[0] == plain.expr and len(with_peepholes.expr.args) == 3
    assert not dataclasses.replace(with_peepholes, expr=plain.expr).check_exact().passed


def test_the_memory_path_exceeds_one_at_the_stated_point_and_not_without_peepholes():
    carousel = peephole_carousel_derivation(FAST)
    (witness,) = [s.claim for s in carousel.steps if isinstance(s.claim, EqualityClaim)]
    assert witness.rhs == sp.Rational(3, 2) and witness.check_exact().passed
    assert not dataclasses.replace(witness, rhs=sp.Integer(1)).check_exact().passed
    # The same point in the cell without peepholes: diag(f_t) = sigmoid(-4) < 1.
    plain = lstm("pytorch")
    (_, c_prev), (_, c) = plain.state_symbols, plain.new_state_symbols
    one = {d: 1 for d in plain.dims}
    entry = elementwise_jacobian(c, c_prev, one, plain.definitions)[0, 0]
    point = {"c_{t-1}": 2, "b_{f}": -4}
    value = entry.xreplace({s: point.get(s.name.split("[")[0], 0) for s in entry.free_symbols})
    assert sp.simplify(value - 1 / (1 + sp.exp(4))) == 0


def test_the_layout_adds_three_vectors_and_no_torch_module():
    layout = FAMILY.layout
    assert layout.vectors == {"w_{ci}": "weight_ci", "w_{cf}": "weight_cf", "w_{co}": "weight_co"}
    assert layout.module(variant="peephole") is None
    assert layout.module(variant="pytorch") == ("LSTMCell", {})
    cell = FAMILY.cell(variant="peephole")
    assert {p.name for p in cell.params} == set(layout.params) | set(layout.vectors)


def test_torch_parity_has_no_module_for_the_peephole_cell():
    pytest.importorskip("torch")
    from numeric.torch_parity import torch_cell

    state = {k: v for k, v in _state_dict(2, 1, seed=0).items() if not k.startswith("weight_c")}
    assert torch_cell(lstm("pytorch"), state) is not None
    with pytest.raises(ValueError, match="PyTorch has no cell"):
        torch_cell(lstm("peephole"), state)


# --- the compiled cell against a float64 torch implementation ------------------------


def _state_dict(hidden, inputs, seed):
    """An LSTMCell's tensors and the three peephole vectors, as a user's module stores them."""
    state = random_state_dict("lstm", hidden, inputs, scale=1.5, seed=seed)
    rng = np.random.default_rng(seed)
    state.update({f"weight_c{g}": rng.standard_normal(hidden) for g in "ifo"})
    return state


def _params(state):
    """The symbolic parameters: the gate slices by the layout, the vectors by their keys."""
    params = torch_weights(state, "lstm").params
    params.update({name: state[key] for name, key in FAMILY.layout.vectors.items()})
    return params


def _torch_step(state, output_reads="new"):
    """The peephole cell in torch, from the paper; ``output_reads="old"`` is a wrong one."""
    torch = pytest.importorskip("torch")
    P = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in state.items()}

    def step(s, x):
        n = s.shape[-1] // 2
        h, c = s[:n], s[n:]
        gates = P["weight_ih"] @ x + P["bias_ih"] + P["weight_hh"] @ h + P["bias_hh"]
        a_i, a_f, a_g, a_o = gates.split(n)
        i = torch.sigmoid(a_i + P["weight_ci"] * c)
        f = torch.sigmoid(a_f + P["weight_cf"] * c)
        c_new = f * c + i * torch.tanh(a_g)
        o = torch.sigmoid(a_o + P["weight_co"] * (c_new if output_reads == "new" else c))
        return torch.cat([o * torch.tanh(c_new), c_new])

    return step


def _worst_error(state, step, hidden, inputs, seed):
    """Largest relative difference of the compiled step and Jacobian from the torch ones."""
    torch = pytest.importorskip("torch")
    compiled = compile_cell(lstm("peephole"), n=hidden, m=inputs)
    params = _params(state)
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(5):
        s, x = rng.standard_normal(2 * hidden), rng.standard_normal(inputs)
        s_t, x_t = torch.as_tensor(s), torch.as_tensor(x)
        ours = (compiled.step(s, x, params), compiled.jacobian(s, x, params))
        theirs = (
            step(s_t, x_t).numpy(),
            torch.autograd.functional.jacobian(lambda v, x_t=x_t: step(v, x_t), s_t).numpy(),
        )
        for a, b in zip(ours, theirs, strict=True):
            worst = max(worst, float(np.max(np.abs(a - b)) / np.max(np.abs(b))))
    return worst


@pytest.mark.parametrize(("hidden", "inputs"), [(1, 1), (3, 2), (8, 5)])
def test_compiled_step_and_jacobian_equal_a_torch_peephole_cell(hidden, inputs):
    state = _state_dict(hidden, inputs, seed=hidden)
    assert _worst_error(state, _torch_step(state), hidden, inputs, seed=0) < 1e-12


def test_an_output_gate_reading_the_old_memory_fails_the_comparison():
    state = _state_dict(3, 2, seed=3)
    assert _worst_error(state, _torch_step(state, output_reads="old"), 3, 2, seed=0) > 1e-3


def test_the_flow_over_a_sequence_equals_torch_autograd_of_the_unrolled_cell():
    torch = pytest.importorskip("torch")
    hidden, inputs, steps = 4, 3, 30
    state = _state_dict(hidden, inputs, seed=7)
    compiled, params = compile_cell(lstm("peephole"), n=hidden, m=inputs), _params(state)
    rng = np.random.default_rng(7)
    xs, s0 = rng.standard_normal((steps, inputs)), 0.5 * rng.standard_normal(2 * hidden)
    s, product = s0, np.eye(2 * hidden)
    for x in xs:
        product = compiled.jacobian(s, x, params) @ product
        s = compiled.step(s, x, params)
    step = _torch_step(state)

    def unrolled(v):
        for x in torch.as_tensor(xs):
            v = step(v, x)
        return v

    reference = torch.autograd.functional.jacobian(unrolled, torch.as_tensor(s0)).numpy()
    np.testing.assert_allclose(s, unrolled(torch.as_tensor(s0)).numpy(), rtol=1e-12, atol=1e-14)
    assert np.linalg.norm(product - reference) <= 1e-9 * np.linalg.norm(reference)
