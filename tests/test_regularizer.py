"""Omega and clipping in PyTorch against autograd in float64; the numeric check of the factor."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
from example_cells import no_input_cell, own, two_input_cell

import numeric.regularizer as regularizer
from numeric.matrix_code import _NAMESPACE
from numeric.regularizer import (
    check_vector_jacobian,
    clip_grad_norm,
    norm_ratios,
    omega,
    symbolic_params,
    torch_function,
)
from numeric.weights import random_params, torch_weights
from symbolic.gru import gru
from symbolic.lstm import lstm
from symbolic.registry import family
from symbolic.regularizer import VectorJacobianClaim, adjoints, regularizer_derivation
from symbolic.rnn import elman_rnn

torch = pytest.importorskip("torch")

#: Relative tolerance against autograd: both sides are exact float64 computations.
RTOL = 1e-10
T, BATCH, HIDDEN, INPUTS = 5, 3, 4, 2

#: PyTorch's modules and the cell each computes, with the full state each carries.
MODULES = {
    "rnn": (elman_rnn("tanh"), "RNNCell"),
    "lstm": (lstm(), "LSTMCell"),
    "gru": (gru(), "GRUCell"),
}


def _relative(a, b) -> float:
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))


def _module(name: str, seed: int = 0):
    torch.manual_seed(seed)
    module = getattr(torch.nn, MODULES[name][1])(INPUTS, HIDDEN, dtype=torch.float64)
    with torch.no_grad():  # spread the weights so that some gates saturate
        for p in module.parameters():
            p.mul_(3.0)
    return module


def _module_step(name, module):
    """``(s, x) -> s'`` over the full state, ``[h; c]`` for the LSTM."""
    if name != "lstm":
        return lambda s, x: module(x, s)

    def step(s, x):
        h, c = module(x, (s[:, :HIDDEN], s[:, HIDDEN:]))
        return torch.cat([h, c], dim=-1)

    return step


def _sequence(state_size: int, input_size: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    draw = lambda *shape: torch.randn(*shape, generator=g, dtype=torch.float64)  # noqa: E731
    return draw(T, BATCH, state_size), draw(T, BATCH, input_size), draw(T, BATCH, state_size)


def _autograd_omega(step, states, inputs, errors):
    """Omega with each ``(dE/ds_t) J_t`` from ``torch.autograd.grad`` of ``s_t`` by ``s_{t-1}``."""
    N = states.shape[-1]
    s = states.reshape(-1, N)
    new = step(s, inputs.reshape(len(s), inputs.shape[-1]))
    flat_errors = errors.reshape(-1, N)
    (row,) = torch.autograd.grad(new, s, grad_outputs=flat_errors, create_graph=True)
    ratios = torch.linalg.vector_norm(row, dim=-1) / torch.linalg.vector_norm(flat_errors, dim=-1)
    return ((ratios.reshape(states.shape[:-1]) - 1) ** 2).sum(dim=0).mean()


def _both(name: str):
    """Our Omega and autograd's, both as functions of the module's parameters."""
    cell, _ = MODULES[name]
    module = _module(name)
    N = HIDDEN * len(cell.state)
    states, inputs, errors = _sequence(N, INPUTS)
    states.requires_grad_()
    params = symbolic_params(dict(module.named_parameters()), name)
    ours = omega(cell, params, states, inputs, errors)
    reference = _autograd_omega(_module_step(name, module), states, inputs, errors)
    return module, states, ours, reference


@pytest.mark.parametrize("name", sorted(MODULES))
def test_omega_equals_autograd(name):
    """The LSTM's ratio is over the full state [h; c]: the error reaches s_{t-1}
    through both vectors, and the memory path is the one that carries it far."""
    _, _, ours, reference = _both(name)
    assert 0.1 < reference.item() < 1e3  # a non-trivial value
    assert abs((ours - reference).item()) <= RTOL * abs(reference.item())


@pytest.mark.parametrize("name", sorted(MODULES))
def test_gradient_of_omega_equals_autograd(name):
    """Differentiable: by the module's weights and by the states, as autograd's double backward."""
    module, states, ours, reference = _both(name)
    wrt = [states, *module.parameters()]
    for a, b in zip(
        torch.autograd.grad(ours, wrt), torch.autograd.grad(reference, wrt), strict=True
    ):
        assert _relative(a, b) <= RTOL


@pytest.fixture
def fresh_cache():
    regularizer._vjp.cache_clear()
    yield
    regularizer._vjp.cache_clear()


def test_a_wrong_factor_fails(monkeypatch, fresh_cache):
    """Teeth: W^T v, without diag(tanh'(a_t)), is far from autograd."""
    rnn = elman_rnn("tanh")
    W, (v,) = rnn.params[0], adjoints(rnn)
    monkeypatch.setattr(regularizer, "vector_jacobian_product", lambda cell: (W.T * v,))
    _, _, ours, reference = _both("rnn")
    assert abs((ours - reference).item()) > 1e-3 * abs(reference.item())


def test_lstm_without_the_memory_path_fails(monkeypatch, fresh_cache):
    """Teeth: dropping the error that reaches c_{t-1} through c_t (the carousel) is caught."""
    cell = lstm()
    right = regularizer.vector_jacobian_product(cell)
    _, v_c = adjoints(cell)
    no_carousel = sp.MatAdd(*(term for term in right[1].args if not term.has(v_c)))
    monkeypatch.setattr(regularizer, "vector_jacobian_product", lambda c: (right[0], no_carousel))
    _, _, ours, reference = _both("lstm")
    assert abs((ours - reference).item()) > 1e-3 * abs(reference.item())


def _any_cells():
    """Every registered single-step family and option, and the worked user cells."""
    cells = []
    for name in ("rnn", "lstm", "gru"):
        fam = family(name)
        (option, values), *_ = fam.options.items()
        cells += [fam.cell(**{option: value}) for value in values]
    cells += [own(name) for name in ("indrnn", "mgu", "peephole_lstm", "antisymmetric_rnn")]
    return [*cells, no_input_cell(), two_input_cell()]


@pytest.mark.parametrize("cell", _any_cells(), ids=lambda c: c.title)
def test_any_compiled_cell_equals_autograd_of_its_equations(cell):
    """Against autograd of the cell's own equations, compiled to PyTorch: the forward
    map is independent of the derived Jacobian, so this checks the factor for any cell."""
    sizes = {str(d): 3 for d in cell.dims}
    params = {
        k: torch.as_tensor(v, dtype=torch.float64)
        for k, v in random_params(cell, sizes, scale=1.5, seed=2).items()
    }
    model = regularizer.compile_cell(cell, **sizes)
    forward = torch_function(
        [*cell.state_symbols, *cell.input_symbols, *cell.params],
        cell.new_state_symbols,
        cell.definitions,
        cell.with_sizes(**sizes),
    )
    values = [params[name] for name in model.param_names]

    def step(s, x):
        states = torch.split(s, list(model.state_sizes), dim=-1)
        inputs = torch.split(x, list(model.input_sizes), dim=-1) if model.input_sizes else ()
        return torch.cat(forward(*states, *inputs, *values), dim=-1)

    states, inputs, errors = _sequence(model.state_size, model.input_size)
    ours = omega(cell, params, states, inputs, errors)
    reference = _autograd_omega(step, states.requires_grad_(), inputs, errors)
    assert abs((ours - reference).item()) <= RTOL * abs(reference.item())


def test_relu_cell_matches_pytorch():
    module = torch.nn.RNNCell(INPUTS, HIDDEN, nonlinearity="relu", dtype=torch.float64)
    cell = elman_rnn("relu")
    states, inputs, errors = _sequence(HIDDEN, INPUTS)
    params = symbolic_params(dict(module.named_parameters()), "rnn")
    ours = omega(cell, params, states, inputs, errors)
    reference = _autograd_omega(lambda s, x: module(x, s), states.requires_grad_(), inputs, errors)
    assert abs((ours - reference).item()) <= RTOL * abs(reference.item())


def test_ratios_survive_errors_below_float32_range():
    """The ratio does not depend on the error's scale, nor loses it to underflow."""
    cell = elman_rnn("tanh")
    params = {
        k: torch.as_tensor(v, dtype=torch.float32)
        for k, v in random_params(cell, {"n": 4, "m": 2}, seed=3).items()
    }
    states, inputs, errors = (a.float() for a in _sequence(4, 2))
    plain = norm_ratios(cell, params, states, inputs, errors)
    tiny = norm_ratios(cell, params, states, inputs, errors * 1e-41)  # subnormal in float32
    assert torch.allclose(plain, tiny, rtol=1e-2)
    assert plain.dtype == torch.float32


def test_zero_errors_count_as_kept_norm_and_leave_finite_gradients():
    cell = elman_rnn("tanh")
    params = {
        k: torch.as_tensor(v, dtype=torch.float64).requires_grad_()
        for k, v in random_params(cell, {"n": 4, "m": 2}, seed=3).items()
    }
    states, inputs, errors = _sequence(4, 2)
    errors[0] = 0.0
    ratios = norm_ratios(cell, params, states, inputs, errors)
    assert torch.all(ratios[0] == 1.0) and torch.all(ratios[1:] != 1.0)
    omega(cell, params, states, inputs, errors).backward()
    assert all(torch.all(torch.isfinite(p.grad)) for p in params.values())


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("name", sorted(MODULES))
def test_symbolic_params_match_the_numpy_weight_reader(name, bias):
    module_name = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[name]
    module = getattr(torch.nn, module_name)(INPUTS, HIDDEN, num_layers=2, bias=bias)
    tensors = dict(module.named_parameters())
    arrays = {k: v.detach().numpy() for k, v in tensors.items()}
    ours = symbolic_params(tensors, name, layer=1)
    expected = torch_weights(arrays, name, layer=1).params
    assert sorted(ours) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(ours[key].detach().numpy(), value)


def test_torch_namespace_covers_the_compiled_code():
    """Every name the printed code may use (numeric.compile's namespace) has a PyTorch twin."""
    assert set(_NAMESPACE) <= set(regularizer._namespace(torch, torch.float64))


def test_clip_is_algorithm_1():
    torch.manual_seed(0)
    f64 = {"dtype": torch.float64, "requires_grad": True}
    params = [torch.zeros(3, **f64), torch.zeros(2, 2, **f64)]
    grads = [torch.randn(3, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)]
    norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))
    for threshold in (0.5 * float(norm), 2.0 * float(norm)):
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        assert float(clip_grad_norm(params, threshold)) == pytest.approx(float(norm), rel=1e-15)
        scale = min(1.0, threshold / float(norm))
        for p, g in zip(params, grads, strict=True):
            torch.testing.assert_close(p.grad, scale * g, rtol=1e-15, atol=0)


def test_torch_clip_falls_short_of_algorithm_1():
    """PyTorch's clip_grad_norm_ divides by ||g|| + 1e-6: close to Algorithm 1, not equal."""
    g = torch.tensor([3.0, 4.0], dtype=torch.float64)
    f64 = {"dtype": torch.float64, "requires_grad": True}
    ours, theirs = torch.zeros(2, **f64), torch.zeros(2, **f64)
    ours.grad, theirs.grad = g.clone(), g.clone()
    clip_grad_norm([ours], 1.0)
    torch.nn.utils.clip_grad_norm_([theirs], 1.0)
    assert float(torch.linalg.vector_norm(ours.grad)) == pytest.approx(1.0, rel=1e-15)
    expected = 5.0 / (5.0 + 1e-6)
    assert float(torch.linalg.vector_norm(theirs.grad)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cell", [elman_rnn("tanh"), lstm(), gru()], ids=lambda c: c.title)
def test_numeric_check_of_each_claim_passes(cell):
    for step in regularizer_derivation(cell, sizes=(2,)).steps:
        if isinstance(step.claim, VectorJacobianClaim):
            outcome = check_vector_jacobian(step.claim)
            assert outcome.passed, outcome.detail


def test_numeric_check_fails_a_wrong_factor():
    rnn = elman_rnn("tanh")
    (v,) = adjoints(rnn)
    wrong = VectorJacobianClaim(rnn, rnn.state_symbols[0], rnn.params[0].T * v)
    assert not check_vector_jacobian(wrong).passed


def test_import_without_torch_then_a_clear_error():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numeric.regularizer as r\n"
        "try:\n    r.clip_grad_norm([], 1.0)\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "gradproof[torch]"' in out.stdout


def test_a_vanished_row_has_ratio_zero_and_a_finite_gradient():
    """relu with every unit off: (dE/ds_t) J_t = 0, and the gradient of Omega stays finite."""
    cell = elman_rnn("relu")
    W = torch.eye(3, dtype=torch.float64, requires_grad=True)
    params = {"W": W, "U": torch.zeros(3, 1, dtype=torch.float64), "b": -torch.ones(3).double()}
    states, inputs, errors = (
        torch.zeros(2, 3).double(),
        torch.zeros(2, 1).double(),
        torch.ones(2, 3).double(),
    )
    assert torch.all(norm_ratios(cell, params, states, inputs, errors) == 0.0)
    omega(cell, params, states, inputs, errors).backward()
    assert torch.all(torch.isfinite(W.grad))
