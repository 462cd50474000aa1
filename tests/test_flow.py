"""The flow engine: products, log space, the bound, streaming, and PyTorch parity."""

import math
import tracemalloc

import mpmath
import numpy as np
import pytest

from numeric import flow as flow_module
from numeric.bounds import verdict
from numeric.chain import chain_log10_norms
from numeric.check import FD_RTOL, RTOL, check_jacobian
from numeric.compile import compile_cell
from numeric.errors import GradproofInputError
from numeric.flow import backward_step_jacobians, decay_rate, gradient_flow
from symbolic.rnn import elman_rnn


def _rnn_params(n, m, scale, seed, orthogonal=False):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n))
    if orthogonal:
        W = np.linalg.qr(W)[0]
    W *= scale / np.linalg.norm(W, 2)
    return {"W": W, "U": rng.standard_normal((n, m)), "b": 0.1 * rng.standard_normal(n)}


def _numpy_products(params, inputs, act):
    """``ds_T/ds_{T-k}`` for every k, by hand: forward, then J_T J_{T-1} ... ."""
    W, U, b = params["W"], params["U"], params["b"]
    h = np.zeros(len(W))
    jacobians = []
    for x in inputs:
        a = W @ h + U @ x + b
        h = np.tanh(a) if act == "tanh" else np.maximum(a, 0)
        slope = 1 - h**2 if act == "tanh" else (a > 0).astype(float)
        jacobians.append(slope[:, None] * W)
    P, products = np.eye(len(W)), []
    for J in reversed(jacobians):
        P = P @ J
        products.append(P)
    return products


@pytest.mark.parametrize("act", ["tanh", "relu"])
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_flow_equals_a_direct_numpy_product(act, chunk):
    params = _rnn_params(4, 2, scale=1.3, seed=0)
    inputs = np.random.default_rng(1).standard_normal((10, 2))
    flow = gradient_flow(elman_rnn(act), params, inputs, matrices=True, chunk=chunk)
    expected = _numpy_products(params, inputs, act)
    for k, P in enumerate(expected, start=1):
        np.testing.assert_allclose(flow.product(k), P, rtol=RTOL, atol=RTOL * np.abs(P).max())
    np.testing.assert_allclose(
        flow.log10_norm, [np.log10(np.linalg.norm(P, 2)) for P in expected], rtol=RTOL
    )


def test_flow_equals_finite_differences_and_catches_a_wrong_order():
    cell = elman_rnn("tanh")
    params = _rnn_params(3, 2, scale=1.1, seed=2)
    inputs = np.random.default_rng(3).standard_normal((6, 2))
    cc = compile_cell(cell, n=3, m=2)
    states = [np.zeros(3)]
    for x in inputs:
        states.append(cc.step(states[-1], x, params))
    flow = gradient_flow(cc, params, inputs, matrices=True)
    T = len(inputs)
    step_jacobians = [cc.jacobian(states[t - 1], inputs[t - 1], params) for t in range(1, T + 1)]
    for k in range(1, T + 1):

        def run(s, k=k):
            for x in inputs[T - k :]:
                s = cc.step(s, x, params)
            return s

        assert check_jacobian(run, flow.product(k), states[T - k]).passed
        if k > 1:
            # The reversed product (J_{T-k+1} ... J_T) is what a wrong chain rule gives.
            wrong = np.linalg.multi_dot(step_jacobians[T - k :])
            assert not check_jacobian(run, wrong, states[T - k], rtol=FD_RTOL).passed


def test_full_engine_reaches_minus_457_at_ten_thousand_steps():
    # Zero inputs, biases and state keep tanh at its linear point: J_t = W = 0.9 Q.
    n = 3
    Q = np.linalg.qr(np.random.default_rng(5).standard_normal((n, n)))[0]
    params = {"W": 0.9 * Q, "U": np.zeros((n, 1)), "b": np.zeros(n)}
    flow = gradient_flow(elman_rnn("tanh"), params, np.zeros((10_000, 1)))
    exact = float(10_000 * mpmath.log10(mpmath.mpf(0.9)))
    assert flow.log10_norm[-1] == pytest.approx(exact, rel=RTOL)
    assert flow.log10_norm[-1] == pytest.approx(-457.5749, abs=1e-4)


def test_streaming_equals_matrices_mode_and_chunks_are_bounded():
    params = _rnn_params(5, 2, scale=1.2, seed=8)
    inputs = np.random.default_rng(9).standard_normal((50, 2))
    full = gradient_flow(elman_rnn("tanh"), params, inputs, matrices=True)
    for chunk in (1, 7, 50, 64):
        streamed = gradient_flow(elman_rnn("tanh"), params, inputs, chunk=chunk)
        assert streamed.mantissa is None
        np.testing.assert_allclose(streamed.log10_norm, full.log10_norm, rtol=RTOL)
        np.testing.assert_allclose(streamed.final_state, full.final_state, rtol=RTOL)
    cc = compile_cell(elman_rnn("tanh"), n=5, m=2)
    sizes = [len(c) for c in backward_step_jacobians(cc, params, inputs, np.zeros(5), chunk=7)]
    assert max(sizes) == 7 and sum(sizes) == 50


def test_norms_only_memory_does_not_grow_with_the_horizon():
    params = _rnn_params(40, 2, scale=1.0, seed=10)
    cell = elman_rnn("tanh")
    peaks = []
    for steps in (300, 3000):
        inputs = np.random.default_rng(11).standard_normal((steps, 2))
        gradient_flow(cell, params, inputs[:2], chunk=16)  # compile outside the measurement
        tracemalloc.start()
        gradient_flow(cell, params, inputs, chunk=16)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # Ten times the horizon: only the checkpoints and the T log-norms grow.
    assert peaks[1] < 1.5 * peaks[0]


def test_exactly_zero_product_gives_minus_infinity():
    # ReLU with every pre-activation negative: every step Jacobian is zero.
    params = {"W": np.eye(2), "U": np.zeros((2, 1)), "b": -np.ones(2)}
    flow = gradient_flow(elman_rnn("relu"), params, np.zeros((4, 1)), matrices=True)
    assert np.all(flow.log10_norm == -np.inf)
    assert not flow.product(3).any()
    assert decay_rate(flow.log10_norm) == -math.inf
    assert "exactly zero from k = 1" in verdict(None, flow.log10_norm).summary


def test_bad_inputs_to_the_engine():
    params = _rnn_params(3, 2, 1.0, seed=0)
    cell = elman_rnn("tanh")
    with pytest.raises(GradproofInputError, match="expected \\(T, in\\)"):
        gradient_flow(cell, params, np.zeros((0, 2)))
    with pytest.raises(GradproofInputError, match="NaN or inf"):
        gradient_flow(cell, params, np.full((3, 2), np.nan))
    with pytest.raises(GradproofInputError, match="initial state has shape"):
        gradient_flow(cell, params, np.zeros((3, 2)), s0=np.zeros(4))
    with pytest.raises(GradproofInputError, match="parameter 'U' has shape"):
        gradient_flow(cell, {**params, "U": np.zeros((4, 2))}, np.zeros((3, 2)))
    huge = {**params, "W": 1e3 * np.eye(3), "b": np.ones(3)}
    with pytest.raises(GradproofInputError, match="left float64"):
        gradient_flow(elman_rnn("relu"), huge, np.zeros((200, 2)))


def test_matrices_mode_refuses_what_does_not_fit(monkeypatch):
    monkeypatch.setattr(flow_module, "MATRIX_BYTES", 1000)
    params = _rnn_params(3, 2, 1.0, seed=0)
    with pytest.raises(GradproofInputError, match="norms-only"):
        gradient_flow(elman_rnn("tanh"), params, np.zeros((100, 2)), matrices=True)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_flow_matches_torch_autograd_on_an_rnncell(nonlinearity):
    torch = pytest.importorskip("torch")
    from numeric.weights import torch_weights

    torch.manual_seed(0)
    module = torch.nn.RNNCell(3, 5, nonlinearity=nonlinearity, dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    tw = torch_weights(state, "rnn")
    inputs = np.random.default_rng(14).standard_normal((8, 3))
    h0 = np.random.default_rng(15).standard_normal(5)
    flow = gradient_flow(elman_rnn(nonlinearity), tw.params, inputs, h0, matrices=True)
    xs = torch.as_tensor(inputs)
    with torch.no_grad():
        hs = [torch.as_tensor(h0)]
        for x in xs:
            hs.append(module(x, hs[-1]))
    np.testing.assert_allclose(flow.final_state, hs[-1].numpy(), rtol=RTOL)
    T = len(inputs)
    for k in range(1, T + 1):

        def run(h, k=k):
            for x in xs[T - k :]:
                h = module(x, h)
            return h

        expected = torch.autograd.functional.jacobian(run, hs[T - k]).numpy()
        np.testing.assert_allclose(
            flow.product(k), expected, rtol=RTOL, atol=RTOL * np.abs(expected).max()
        )


def test_keeping_every_state_equals_recomputing_them():
    params = _rnn_params(5, 2, scale=1.2, seed=18)
    inputs = np.random.default_rng(19).standard_normal((40, 2))
    cc = compile_cell(elman_rnn("tanh"), n=5, m=2)

    class Counting:
        state_size, steps = 5, 0

        def step(self, s, x, params):
            self.steps += 1
            return cc.step(s, x, params)

        def jacobian(self, s, x, params):
            return cc.jacobian(s, x, params)

    kept, recomputed = Counting(), Counting()
    # 40 states fit in a chunk of 8 Jacobians of 5 x 5, not in one of 7.
    flows = [
        gradient_flow(model, params, inputs, chunk=c) for model, c in ((kept, 8), (recomputed, 7))
    ]
    assert kept.steps == 40 and recomputed.steps == 40 + 40 - 6
    np.testing.assert_allclose(flows[0].log10_norm, flows[1].log10_norm, rtol=RTOL)


@pytest.mark.parametrize("factored", [True, False])
def test_only_one_chunk_of_jacobians_is_alive_at_a_time(factored):
    n, chunk = 64, 64
    params = _rnn_params(n, 2, scale=1.0, seed=20)
    inputs = np.random.default_rng(21).standard_normal((5000, 2))
    cc = compile_cell(elman_rnn("tanh"), n=n, m=2)
    model = cc if factored else _Generic(cc)
    gradient_flow(model, params, inputs[:2], chunk=chunk)
    tracemalloc.start()
    gradient_flow(model, params, inputs, chunk=chunk)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Without factors, one chunk of Jacobians; with them, no Jacobian at all.
    assert peak < (0.5 if factored else 1.5) * chunk * n * n * 8


# --- diag(d) W factors: the engine never forms the step Jacobian ---


class _Generic:
    """A compiled cell seen through the plain protocol: no ``jacobian_factors``."""

    def __init__(self, cc):
        self.cc, self.state_size = cc, cc.state_size

    def step(self, s, x, params):
        return self.cc.step(s, x, params)

    def jacobian(self, s, x, params):
        return self.cc.jacobian(s, x, params)


class _WrongFactors(_Generic):
    """Factors of the transposed Jacobian, ``diag(d) W^T``: what the engine must catch."""

    def jacobian_factors(self, s, x, params):
        d, W = self.cc.jacobian_factors(s, x, params)
        return d, W.T


@pytest.mark.parametrize("act", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("matrices", [False, True])
def test_factored_and_generic_paths_agree_and_a_wrong_factor_shows(act, matrices):
    params = _rnn_params(64, 2, scale=1.2, seed=30)
    inputs = np.random.default_rng(31).standard_normal((300, 2))
    cc = compile_cell(elman_rnn(act), n=64, m=2)
    flows = [
        gradient_flow(model, params, inputs, matrices=matrices, chunk=16)
        for model in (cc, _Generic(cc), _WrongFactors(cc))
    ]
    np.testing.assert_allclose(flows[0].log10_norm, flows[1].log10_norm, rtol=0, atol=1e-9)
    if matrices:
        np.testing.assert_allclose(flows[0].mantissa, flows[1].mantissa, rtol=0, atol=1e-9)
    assert np.max(np.abs(flows[2].log10_norm - flows[1].log10_norm)) > 1e-3


def test_a_flow_with_subnormal_recurrent_weights():
    # gradproof flow rnn --scale 5e-324 with some entries left: ds_T/ds_(T-k) = prod diag(d) W.
    n, m, T = 48, 2, 60
    rng = np.random.default_rng(34)
    integers = rng.integers(-2, 3, (n, n)).astype(float)
    params = {"W": integers * 5e-324, "U": rng.standard_normal((n, m)), "b": np.zeros(n)}
    inputs = rng.standard_normal((T, m))
    cc = compile_cell(elman_rnn("tanh"), n=n, m=m)
    flow = gradient_flow(cc, params, inputs)  # a warning would fail the test
    states = [np.zeros(n)]
    for x in inputs[:-1]:
        states.append(cc.step(states[-1], x, params))
    d, _ = cc.jacobian_factors(np.array(states), inputs, params)
    expected = chain_log10_norms([d[::-1, :, None] * integers])
    expected -= np.arange(1, T + 1) * 1074 * math.log10(2)
    np.testing.assert_allclose(flow.log10_norm, expected, rtol=0, atol=1e-9)
    assert np.all(np.isfinite(flow.log10_norm))
