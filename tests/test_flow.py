"""The flow engine: products, log space, the bound, streaming, and PyTorch parity."""

import math
import tracemalloc

import mpmath
import numpy as np
import pytest

from numeric import flow as flow_module
from numeric import spectral
from numeric.bounds import verdict
from numeric.check import FD_RTOL, RTOL, check_jacobian
from numeric.compile import compile_cell
from numeric.errors import GradproofInputError
from numeric.flow import backward_step_jacobians, chain_log10_norms, decay_rate, gradient_flow
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


def _orthogonal_chain(n, steps, factor, seed, chunk):
    """Chunks of ``factor * Q_t`` with random orthogonal ``Q_t``: norms are ``factor^k``."""
    rng = np.random.default_rng(seed)
    for start in range(0, steps, chunk):
        size = min(chunk, steps - start)
        yield factor * np.linalg.qr(rng.standard_normal((size, n, n)))[0]


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


def test_log_space_matches_mpmath_at_ten_thousand_steps():
    steps = 10_000
    for factor in (0.9, 1.1):
        logs = chain_log10_norms(_orthogonal_chain(3, steps, factor, seed=4, chunk=512))
        exact = [float(k * mpmath.log10(mpmath.mpf(factor))) for k in (1, 5000, steps)]
        np.testing.assert_allclose(logs[[0, 4999, steps - 1]], exact, rtol=RTOL)
        assert np.all(np.isfinite(logs))
    assert logs[-1] == pytest.approx(414.0, abs=0.1)


def test_full_engine_reaches_minus_457_at_ten_thousand_steps():
    # Zero inputs, biases and state keep tanh at its linear point: J_t = W = 0.9 Q.
    n = 3
    Q = np.linalg.qr(np.random.default_rng(5).standard_normal((n, n)))[0]
    params = {"W": 0.9 * Q, "U": np.zeros((n, 1)), "b": np.zeros(n)}
    flow = gradient_flow(elman_rnn("tanh"), params, np.zeros((10_000, 1)))
    exact = float(10_000 * mpmath.log10(mpmath.mpf(0.9)))
    assert flow.log10_norm[-1] == pytest.approx(exact, rel=RTOL)
    assert flow.log10_norm[-1] == pytest.approx(-457.5749, abs=1e-4)


def test_diagonal_chain_whose_leading_entry_changes_matches_mpmath(monkeypatch):
    # Force Lanczos (with its warm start) onto small matrices; the leading
    # diagonal entry switches along the chain, so a warm start is orthogonal
    # to the answer unless the dither rescues it.
    monkeypatch.setattr(spectral, "EXACT_BELOW", 1)
    rng = np.random.default_rng(6)
    steps, n = 10_000, 3
    diag = rng.uniform(0.6, 1.05, size=(steps, n))
    diag[: steps // 2, 0] *= 1.02
    chunks = (
        np.stack([np.diag(d) for d in diag[s : s + 1000][::-1]]) for s in range(0, steps, 1000)
    )
    logs = chain_log10_norms(reversed(list(chunks)))
    sums = [mpmath.mpf(0)] * n
    exact = []
    with mpmath.workdps(40):
        for d in diag[::-1]:
            sums = [
                acc + mpmath.log10(mpmath.mpf(float(v))) for acc, v in zip(sums, d, strict=True)
            ]
            exact.append(float(max(sums)))
    np.testing.assert_allclose(logs, exact, rtol=RTOL, atol=RTOL)


def test_random_chain_below_float64_range_matches_mpmath():
    rng = np.random.default_rng(7)
    steps, n = 300, 3
    jacobians = 0.05 * rng.standard_normal((steps, n, n))
    logs = chain_log10_norms([jacobians.copy()])
    assert logs[-1] < -320  # the plain float64 product would be zero
    with mpmath.workdps(50):
        P = mpmath.eye(n)
        for k, J in enumerate(jacobians, start=1):
            P = P * mpmath.matrix(J.tolist())
            top = max(mpmath.eigsy(P.T * P, eigvals_only=True))
            assert logs[k - 1] == pytest.approx(float(mpmath.log10(top) / 2), rel=RTOL, abs=RTOL)


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


def _tanh_like_jacobians(n, steps, seed):
    """``diag(tanh'(.)) W`` for random pre-activations: a realistic, decaying chain."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((n, n)) / np.sqrt(n)
    slopes = 1 - np.tanh(rng.standard_normal((steps, n))) ** 2
    return slopes[:, :, None] * W


@pytest.mark.parametrize("matrices", [False, True])
def test_norms_match_the_exact_svd_to_the_log10_tolerance(matrices):
    # n = 64 is above EXACT_BELOW: the norms come from ChainNorms, certified or Lanczos.
    n, steps = 64, 300
    jacobians = _tanh_like_jacobians(n, steps, seed=16)
    mantissa = np.empty((steps, n, n)) if matrices else None
    logs = chain_log10_norms(
        (jacobians[i : i + 32] for i in range(0, steps, 32)), mantissa=mantissa
    )
    P, exact = np.eye(n), []
    for J in jacobians:
        P = P @ J
        exact.append(math.log10(np.linalg.norm(P, 2)))
    assert np.max(np.abs(logs - exact)) <= spectral.LOG10_TOL
    if matrices:
        sigma = np.linalg.norm(mantissa, 2, axis=(1, 2))
        assert np.max(np.abs(np.log10(sigma))) <= spectral.LOG10_TOL


def test_norms_only_rescaling_over_nine_hundred_decades():
    # Orthogonal factors times 0.5: every singular value is 0.5^k, far below float64.
    logs = chain_log10_norms(_orthogonal_chain(48, 3000, 0.5, seed=17, chunk=256))
    exact = np.arange(1, 3001) * math.log10(0.5)
    assert logs[-1] < -900
    np.testing.assert_allclose(logs, exact, rtol=0, atol=spectral.LOG10_TOL)


def test_a_non_finite_jacobian_is_reported_with_its_k():
    jacobians = np.tile(0.5 * np.eye(3), (6, 1, 1))
    jacobians[4, 1, 2] = np.inf
    with pytest.raises(GradproofInputError, match="not finite at k = 5"):
        chain_log10_norms([jacobians])


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


def test_a_tiny_factor_is_not_mistaken_for_a_vanished_product():
    # 1e-200 I squares to below float64, yet the product is far from zero.
    jacobians = np.tile(0.5 * np.eye(3), (6, 1, 1))
    jacobians[2] *= 1e-200
    logs = chain_log10_norms([jacobians])
    exact = np.arange(1, 7) * math.log10(0.5) - 200 * (np.arange(1, 7) >= 3)
    np.testing.assert_allclose(logs, exact, rtol=RTOL)


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


def _orthogonal_factors(n, steps, seed):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return rng.uniform(0.5, 1.0, (steps, n)), Q


@pytest.mark.parametrize("n", [3, 64])
def test_huge_factors_stay_right_in_log_space(n):
    # W = 1e300 Q and 1e308 Q: the plain products overflow at the first
    # multiplication; in log space they are the unit-size chain plus k * 300.
    d, Q = _orthogonal_factors(n, 40, seed=32)
    reference = chain_log10_norms([flow_module.RowScaled(d, Q)])
    k = np.arange(1, 41)
    for magnitude in (1e300, 1e308):
        expected = reference + k * math.log10(magnitude)
        factored = chain_log10_norms([flow_module.RowScaled(d, magnitude * Q)])
        matrices = chain_log10_norms([d[:, :, None] * (magnitude * Q)])
        np.testing.assert_allclose(factored, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(matrices, expected, rtol=0, atol=1e-9)
    # Slopes of 1e300 times a weight of 1e-300: each factor alone is extreme.
    np.testing.assert_allclose(
        chain_log10_norms([flow_module.RowScaled(1e300 * d, 1e-300 * Q)]),
        reference,
        rtol=0,
        atol=1e-9,
    )


@pytest.mark.parametrize("n", [3, 64])
def test_subnormal_weights_stay_right_in_log_space(n):
    # Entries that are multiples of the smallest subnormal, 2^-1074: exact, but
    # any product of them underflows to zero unless normalised first.
    rng = np.random.default_rng(33)
    integers = rng.integers(-3, 4, (n, n)).astype(float)
    d = rng.uniform(0.5, 1.0, (30, n))
    tiny = integers * 5e-324
    assert np.all(tiny / 5e-324 == integers)
    shift = np.arange(1, 31) * 1074 * math.log10(2)
    expected = chain_log10_norms([d[:, :, None] * integers]) - shift
    np.testing.assert_allclose(
        chain_log10_norms([flow_module.RowScaled(d, tiny)]), expected, rtol=0, atol=1e-9
    )
    # As matrices, diag(d) W is itself rounded to the subnormal grid; scaled
    # by 2^1074 that rounded matrix is exact, and its chain is the reference.
    jacobians = d[:, :, None] * tiny
    expected = chain_log10_norms([np.ldexp(jacobians, 1074)]) - shift
    np.testing.assert_allclose(chain_log10_norms([jacobians]), expected, rtol=0, atol=1e-9)


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


def test_non_finite_factors_are_reported_with_their_k():
    d, Q = _orthogonal_factors(3, 6, seed=35)
    d[3, 1] = np.inf
    with pytest.raises(GradproofInputError, match="not finite at k = 4"):
        chain_log10_norms([flow_module.RowScaled(d, Q)])
    with pytest.raises(GradproofInputError, match="not finite at k = 1"):
        chain_log10_norms([flow_module.RowScaled(d[:2], np.full((3, 3), np.nan))])
