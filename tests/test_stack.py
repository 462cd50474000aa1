"""Stacked networks against PyTorch's multi-layer nn.RNN, nn.LSTM and nn.GRU in float64.

:class:`TorchStack` (the real module and autograd) is shared with the depth and spectra tests.
"""

import numpy as np
import pytest

from numeric.bounds import EvaluatedBound, evaluate_bound
from numeric.check import RTOL, check_jacobian
from numeric.compile import compile_cell
from numeric.errors import GradproofInputError
from numeric.flow import gradient_flow
from numeric.lyapunov import check_lyapunov_bound, lyapunov_exponents
from numeric.stack import (
    StackedCell,
    layer_lyapunov_exponents,
    step_and_input_jacobian,
    torch_stack,
)
from symbolic.gru import gru
from symbolic.lstm import lstm
from symbolic.rnn import elman_rnn

torch = pytest.importorskip("torch")

KINDS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
HIDDEN, INPUT, STEPS = 3, 2, 6


class TorchStack:
    """A real multi-layer torch module and what autograd says about it."""

    def __init__(self, kind: str, layers: int, seed: int = 0, hidden: int = HIDDEN):
        torch.manual_seed(seed)
        self.kind, self.layers, self.hidden = kind, layers, hidden
        self.cls = KINDS[kind]
        self.module = self.cls(INPUT, hidden, num_layers=layers, dtype=torch.float64)
        self.state = {k: v.detach().numpy() for k, v in self.module.state_dict().items()}
        self.width = 2 * hidden if kind == "lstm" else hidden

    def unpack(self, s, layers=None):
        """Stacked state ``[s^(0); ...]`` to the module's (h0, c0) or h0."""
        s = s.reshape(layers or self.layers, self.width)
        h = s[:, : self.hidden].contiguous()
        return (h, s[:, self.hidden :].contiguous()) if self.kind == "lstm" else h

    def pack(self, final):
        """The module's (h_n, c_n) or h_n to a stacked state."""
        if self.kind == "lstm":
            return torch.cat(final, dim=1).reshape(-1)
        return final.reshape(-1)

    def run(self, module, inputs, s):
        return module(inputs, self.unpack(s, module.num_layers))

    def states(self, inputs):
        """``s_0 .. s_T`` of the real module, stepped one input at a time."""
        xs = torch.as_tensor(inputs)
        states = [torch.zeros(self.layers * self.width, dtype=torch.float64)]
        with torch.no_grad():
            for t in range(len(inputs)):
                states.append(self.pack(self.run(self.module, xs[t : t + 1], states[-1])[1]))
        return states

    def products(self, inputs):
        """``ds_T/ds_{T-k}`` for k = 1..T by ``torch.autograd.functional.jacobian``."""
        xs, states, T = torch.as_tensor(inputs), self.states(inputs), len(inputs)
        out = []
        for k in range(1, T + 1):

            def f(s, k=k):
                return self.pack(self.run(self.module, xs[T - k :], s)[1])

            out.append(torch.autograd.functional.jacobian(f, states[T - k]).numpy())
        return out

    def step_jacobians(self, inputs):
        """``ds_t/ds_{t-1}`` for t = 1..T by autograd, one step of the module each."""
        xs, states = torch.as_tensor(inputs), self.states(inputs)
        return [
            torch.autograd.functional.jacobian(
                lambda s, t=t: self.pack(self.run(self.module, xs[t : t + 1], s)[1]), states[t]
            ).numpy()
            for t in range(len(inputs))
        ]

    def part(self, first: int, last: int):
        """Layers ``first..last-1`` of the module as a module of their own."""
        inputs = INPUT if first == 0 else self.hidden
        part = self.cls(inputs, self.hidden, num_layers=last - first, dtype=torch.float64)
        part.load_state_dict(
            {
                f"{name}_l{layer - first}": torch.as_tensor(self.state[f"{name}_l{layer}"])
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                for layer in range(first, last)
            }
        )
        return part

    def node_jacobian(self, inputs, t: int, layer: int):
        """``dh^(L-1)_T/dh^(layer)_t``: perturb layer ``layer``'s output at ``t`` in both its uses.

        Real modules only: the layers up to ``layer`` go on from ``t`` with
        the perturbed hidden vector, the layers above read it at ``t``.
        """
        xs, states, T = torch.as_tensor(inputs), self.states(inputs), len(inputs)
        cut = (layer + 1) * self.width
        lower, upper = self.part(0, layer + 1), None
        if layer + 1 < self.layers:
            upper = self.part(layer + 1, self.layers)
        h = slice(layer * self.width, layer * self.width + self.hidden)

        def top_output(delta):
            s = states[t].clone()
            s[h] = s[h] + delta
            outputs = s[h].reshape(1, -1)
            if t < T:
                later = self.run(lower, xs[t:], s[:cut])[0]
                outputs = torch.cat([outputs, later])
            if upper is None:
                return outputs[-1]
            return self.run(upper, outputs, states[t - 1][cut:])[0][-1]

        return torch.autograd.functional.jacobian(
            top_output, torch.zeros(self.hidden, dtype=torch.float64)
        ).numpy()


def _inputs(seed=1, steps=STEPS):
    return np.random.default_rng(seed).standard_normal((steps, INPUT))


def _norm_ratio(log10_values, matrices):
    """Measured over exact spectral norms (1 when they agree)."""
    exact = np.array([np.linalg.norm(P, 2) for P in matrices])
    return 10.0 ** np.asarray(log10_values) / exact


@pytest.mark.parametrize("layers", [2, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_stacked_flow_equals_autograd_of_the_torch_module(kind, layers):
    ref = TorchStack(kind, layers)
    stack = torch_stack(ref.state, kind)
    inputs = _inputs()
    expected = ref.products(inputs)
    flow = gradient_flow(stack, {}, inputs, matrices=True)
    np.testing.assert_allclose(flow.final_state, ref.states(inputs)[-1].numpy(), rtol=RTOL)
    for k, P in enumerate(expected, start=1):
        np.testing.assert_allclose(flow.product(k), P, rtol=RTOL, atol=RTOL * np.abs(P).max())
    norms_only = gradient_flow(stack, {}, inputs)
    np.testing.assert_allclose(_norm_ratio(norms_only.log10_norm, expected), 1.0, rtol=RTOL)


class OldInputStack:
    """The wrong wiring: layer l reads h^(l-1)_{t-1}, the hidden vector of the step before.

    Its Jacobian is right *for its own wiring* (checked against central
    differences), so only a comparison with the real module can catch it.
    """

    def __init__(self, stack: StackedCell):
        self.stack = stack
        self.state_size = stack.state_size

    def _inputs(self, s, x):
        st = self.stack
        return [x] + [s[..., st.layer_hidden(j)] for j in range(st.depth - 1)]

    def step(self, s, x, params=None):
        st = self.stack
        parts = zip(st.layers, st.params, self._inputs(s, x), strict=True)
        return np.concatenate(
            [cc.step(s[..., st.layer_state(j)], xj, p) for j, (cc, p, xj) in enumerate(parts)],
            axis=-1,
        )

    def jacobian(self, s, x, params=None):
        st = self.stack
        J = np.zeros(np.shape(s)[:-1] + (st.state_size, st.state_size))
        parts = zip(st.layers, st.params, self._inputs(s, x), strict=True)
        for j, (cc, p, xj) in enumerate(parts):
            rows, s_j = st.layer_state(j), s[..., st.layer_state(j)]
            J[..., rows, rows] = cc.jacobian(s_j, xj, p)
            if j:
                J[..., rows, st.layer_hidden(j - 1)] = step_and_input_jacobian(cc, s_j, xj, p)[1]
        return J


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_stack_wired_from_the_old_hidden_vector_fails_the_autograd_comparison(kind):
    ref = TorchStack(kind, layers=2, seed=4)
    stack = torch_stack(ref.state, kind)
    wrong = OldInputStack(stack)
    s = np.random.default_rng(5).standard_normal(stack.state_size)
    x = np.random.default_rng(6).standard_normal(INPUT)
    assert check_jacobian(lambda v: wrong.step(v, x), lambda v: wrong.jacobian(v, x), s)
    inputs = _inputs(seed=7)
    expected = ref.products(inputs)
    ratio = _norm_ratio(gradient_flow(wrong, {}, inputs).log10_norm, expected)
    assert np.max(np.abs(ratio - 1.0)) > 1e-3
    right = _norm_ratio(gradient_flow(stack, {}, inputs).log10_norm, expected)
    np.testing.assert_allclose(right, 1.0, rtol=RTOL)


@pytest.mark.parametrize(
    ("cell", "sizes"),
    [(elman_rnn("tanh"), {"n": 3, "m": 2}), (lstm(), {"n": 2, "m": 3}), (gru(), {"n": 2, "m": 3})],
)
def test_input_jacobian_equals_central_differences_and_a_wrong_one_fails(cell, sizes):
    from numeric.weights import random_params

    cc = compile_cell(cell, **sizes)
    params = random_params(cell, sizes, scale=1.2, seed=8)
    rng = np.random.default_rng(9)
    s, x = rng.standard_normal((4, cc.state_size)), rng.standard_normal((4, cc.input_size))
    state, B = step_and_input_jacobian(cc, s, x, params)
    np.testing.assert_allclose(state, cc.step(s, x, params), rtol=RTOL)
    assert check_jacobian(lambda v: cc.step(s, v, params), B, x)
    assert not check_jacobian(lambda v: cc.step(s, v, params), 1.01 * B, x)


def test_bad_stacks_are_refused_in_one_line():
    ref = TorchStack("lstm", layers=3)
    holed = {k: v for k, v in ref.state.items() if not k.endswith("_l1")}
    with pytest.raises(GradproofInputError, match="layers 0, 2 but not 1"):
        torch_stack(holed, "lstm")
    torch.manual_seed(0)
    both = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True, dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in both.state_dict().items()}
    with pytest.raises(GradproofInputError, match="bidirectional"):
        torch_stack(state, "lstm")
    with pytest.raises(GradproofInputError, match="not available for rnn"):
        torch_stack(ref.state, "rnn", activation="softsign_nope")


def test_relu_stack_and_one_layer_names():
    torch.manual_seed(12)
    module = torch.nn.RNN(INPUT, HIDDEN, num_layers=2, nonlinearity="relu", dtype=torch.float64)
    state = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    stack = torch_stack(state, "rnn", activation="relu")
    inputs = _inputs(seed=13)
    with torch.no_grad():
        out, _ = module(torch.as_tensor(inputs))
    top = stack.layer_hidden(1)
    s = np.zeros(stack.state_size)
    for t, x in enumerate(inputs):
        s = stack.step(s, x)
        np.testing.assert_allclose(s[top], out[t].numpy(), rtol=RTOL, atol=1e-15)
    single = torch_stack({k.removesuffix("_l0"): v for k, v in state.items() if "_l0" in k}, "rnn")
    assert single.depth == 1 and single.state_size == HIDDEN


def _rnn_stack_state(scales, coupling, seed):
    """A tanh ``nn.RNN`` state_dict: ``weight_hh_l{j}`` with ``sigma_max = scales[j]``."""
    rng = np.random.default_rng(seed)
    state = {}
    for j, scale in enumerate(scales):
        W = rng.standard_normal((HIDDEN, HIDDEN))
        state[f"weight_hh_l{j}"] = scale * W / np.linalg.norm(W, 2)
        width = INPUT if j == 0 else HIDDEN
        state[f"weight_ih_l{j}"] = (coupling if j else 1.0) * rng.standard_normal((HIDDEN, width))
        state[f"bias_ih_l{j}"] = 0.1 * rng.standard_normal(HIDDEN)
        state[f"bias_hh_l{j}"] = np.zeros(HIDDEN)
    return state


def test_each_layers_exponents_meet_its_bound_and_a_smaller_bound_fails():
    stack = torch_stack(_rnn_stack_state((1.3, 0.8), coupling=1.0, seed=14), "rnn")
    inputs = _inputs(seed=15, steps=300)
    for j, exponents in enumerate(layer_lyapunov_exponents(stack, inputs)):
        bound = evaluate_bound(stack.layers[j].cell, stack.params[j])
        assert check_lyapunov_bound(exponents, bound).passed
    # Orthogonal weight_hh times 1.3 and 0.8, at the origin with zero inputs and
    # biases: every A^(j)_t is that matrix, so lambda_1 = ln B_j exactly.
    rotations = np.linalg.qr(np.random.default_rng(16).standard_normal((2, HIDDEN, HIDDEN)))[0]
    state = {
        **{f"weight_hh_l{j}": scale * rotations[j] for j, scale in enumerate((1.3, 0.8))},
        "weight_ih_l0": np.ones((HIDDEN, INPUT)),
        "weight_ih_l1": np.ones((HIDDEN, HIDDEN)),
    }
    stack = torch_stack(state, "rnn")
    for j, exponents in enumerate(layer_lyapunov_exponents(stack, np.zeros((50, INPUT)))):
        bound = evaluate_bound(stack.layers[j].cell, stack.params[j])
        np.testing.assert_allclose(exponents, np.log(bound.value), rtol=0, atol=1e-12)
        assert check_lyapunov_bound(exponents, bound).passed
        smaller = EvaluatedBound(bound.value * (1 - 1e-6), bound.formula, None, None, None)
        assert not check_lyapunov_bound(exponents, smaller).passed


def test_without_coupling_the_stack_exponents_are_the_layers_exponents():
    # weight_ih_l1 = 0: the stacked Jacobian is block diagonal, and so is the QR method.
    stack = torch_stack(_rnn_stack_state((1.2, 0.9), coupling=0.0, seed=17), "rnn")
    inputs = _inputs(seed=18, steps=200)
    layers = layer_lyapunov_exponents(stack, inputs)
    np.testing.assert_allclose(
        lyapunov_exponents(stack, {}, inputs), np.concatenate(layers), rtol=0, atol=1e-12
    )


def test_layer_exponents_are_the_qr_method_on_the_diagonal_blocks_in_one_pass():
    from numeric.lyapunov import forward_step_jacobians, qr_lyapunov_exponents

    stack = torch_stack(_rnn_stack_state((1.1, 0.9, 0.7), coupling=1.0, seed=19), "rnn")
    inputs = _inputs(seed=20, steps=120)
    layers = layer_lyapunov_exponents(stack, inputs, chunk=7)
    for j, exponents in enumerate(layers):
        rows = stack.layer_state(j)
        blocks = (c[:, rows, rows] for c in forward_step_jacobians(stack, {}, inputs, chunk=50))
        np.testing.assert_allclose(exponents, qr_lyapunov_exponents(blocks), rtol=0, atol=1e-12)
    tops = layer_lyapunov_exponents(stack, inputs, count=1)
    assert [len(t) for t in tops] == [1, 1, 1]
    np.testing.assert_allclose([t[0] for t in tops], [e[0] for e in layers], rtol=0, atol=1e-12)
    # teeth: the whole stacked Jacobian's exponents are not the layers'
    assert not np.allclose(lyapunov_exponents(stack, {}, inputs)[:3], [e[0] for e in layers])
