"""N-dimensional grids over sequences: step, block and depth Jacobians against torch and FD.

The reference is an explicit float64 PyTorch implementation of the Grid LSTM
(Kalchbrenner, Danihelka and Graves 2016) written here from the weight-file
format alone, not from the symbolic block: per layer, the dimensions are
computed non-priority first, then priority in order, each priority dimension
reading the new hidden vectors of those computed before it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from numeric.check import RTOL, check_jacobian
from numeric.errors import GradproofInputError
from numeric.gridlstm.compiled import compile_grid
from numeric.gridlstm.flows import depth_flow_map, peephole_runs, time_flow
from numeric.gridlstm.models import grid_model, grid_nd
from numeric.gridlstm.sequence_grids import SequenceGrid, sequence_grid
from numeric.gridlstm.weight_files import random_grid_weights
from numeric.weights import random_inputs

torch = pytest.importorskip("torch")

HIDDEN, INPUT, LAYERS = 3, 2, 2

# (dims, grid_nd options, tied across layers): 1-D, 2-D and 3-D, LSTM and non-LSTM
# dimensions, priority, tying within (layers) and across dimensions, separate projections.
CONFIGS = [
    pytest.param(("time",), {}, False, id="1d-time"),
    pytest.param(("depth",), {"memory_input": "projection"}, True, id="1d-depth"),
    pytest.param(
        ("time", "depth"),
        {"non_lstm": {"depth": "relu"}, "priority": ["depth"]},
        False,
        id="2d-relu-depth-priority",
    ),
    pytest.param(
        ("time", "depth"),
        {"non_lstm": {"time": "tanh"}, "memory_input": "projection", "output_form": "standard"},
        True,
        id="2d-tanh-time",
    ),
    pytest.param(
        ("depth", "time", "time2"),
        {"non_lstm": {"depth": "relu"}, "priority": ["depth"], "tied": True},
        False,
        id="3d-tensorflow-like-tied",
    ),
    pytest.param(
        ("time", "depth", "depth2"),
        {"non_lstm": {"depth2": "tanh"}, "priority": ["depth"], "memory_input": "projection"},
        False,
        id="3d-two-depths",
    ),
    pytest.param(
        ("time", "depth", "time2"),
        {"priority": ["time2", "depth"], "tied": True, "memory_input": "projection"},
        True,
        id="3d-lstm-two-priorities",
    ),
    pytest.param(
        ("time", "depth"),
        {"peepholes": True, "priority": ["depth"], "memory_input": "projection"},
        False,
        id="2d-peepholes",
    ),
    pytest.param(
        ("depth", "time", "time2"),
        {"peepholes": True, "tied": True, "output_form": "standard"},
        True,
        id="3d-peepholes-tied",
    ),
]

_ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "identity": lambda v: v}


def _reference(
    dims, options, arrays, tied_layers, *, ignore_priority=False, memory=None, old_peephole=False
):
    """The Grid LSTM over one time step, in torch, from the weight-file arrays.

    ``ignore_priority``, ``memory`` ("zero", "hidden") and ``old_peephole``
    make deliberately wrong variants: priority dimensions reading the old
    hidden vectors, the input dimension's memory not projected by its own
    ``P_m``, the output gate's peephole reading the old memory.
    """
    kind = {n: options.get("non_lstm", {}).get(n, "lstm") for n in dims}
    priority = [] if ignore_priority else list(options.get("priority", ()))
    order = [n for n in dims if n not in priority] + priority
    time = [n for n in dims if n.startswith("time")]
    depth = [n for n in dims if n.startswith("depth")]
    paper = options.get("output_form", "paper") == "paper"
    memory = memory or options.get("memory_input", "zero")
    A = {k: torch.tensor(v, dtype=torch.float64) for k, v in arrays.items()}

    def array(prefix, n, layer):
        name = kind[n] if options.get("tied") else n
        return A[f"{prefix}_{name}{'' if tied_layers else f'_l{layer}'}"]

    def block(layer, h_in, m_in):
        h_new, m_new = {}, {}
        for n in order:
            H = torch.cat([h_new[j] if n in priority and j in h_new else h_in[j] for j in dims])
            a = array("weight", n, layer) @ H + array("bias", n, layer)
            if kind[n] != "lstm":
                h_new[n] = _ACT[kind[n]](a)
                continue
            ai, af, ag, ao = torch.split(a, HIDDEN)
            if options.get("peepholes"):
                pi, pf, po = torch.split(array("peephole", n, layer), HIDDEN)
                ai, af = ai + pi * m_in[n], af + pf * m_in[n]
            m = torch.sigmoid(af) * m_in[n] + torch.sigmoid(ai) * torch.tanh(ag)
            if options.get("peepholes"):
                ao = ao + po * (m_in[n] if old_peephole else m)
            o = torch.sigmoid(ao)
            h_new[n], m_new[n] = (torch.tanh(o * m) if paper else o * torch.tanh(m)), m
        return h_new, m_new

    def bottom(x):
        h = {n: torch.zeros(HIDDEN, dtype=torch.float64) for n in depth}
        m = {n: h[n] for n in depth if kind[n] == "lstm"}
        if depth:
            h[depth[0]] = A["input_projection"] @ x
            if memory == "projection" and kind[depth[0]] == "lstm":
                m[depth[0]] = A["memory_projection"] @ x
            elif memory == "hidden":
                m[depth[0]] = h[depth[0]]
        return h, m

    def time_in(s, layer):
        """The time dimensions' incoming vectors of ``layer`` from the state ``s``."""
        h, m, k = {}, {}, layer * len(s) // LAYERS
        for n in time:
            h[n], k = s[k : k + HIDDEN], k + HIDDEN
            if kind[n] == "lstm":
                m[n], k = s[k : k + HIDDEN], k + HIDDEN
        return h, m

    def column(s, x, start=0, entering=None):
        """Layers ``start..L-1``: the new time vectors and the depth vectors entering each."""
        h_d, m_d = entering or bottom(x)
        out, levels = [], []
        for layer in range(start, LAYERS):
            levels.append((h_d, m_d))
            h_t, m_t = time_in(s, layer)
            h_new, m_new = block(layer, {**h_d, **h_t}, {**m_d, **m_t})
            for n in time:
                out += [h_new[n]] + ([m_new[n]] if kind[n] == "lstm" else [])
            h_d = {n: h_new[n] for n in depth}
            m_d = {n: m_new[n] for n in depth if kind[n] == "lstm"}
        return out, levels, h_d

    def step(s, x):
        """``s_{t-1} -> s_t``: per layer, the time dimensions' ``h`` (and ``m``)."""
        out = column(s, x)[0]
        return torch.cat(out) if out else s[:0]

    def block_map(layer, v):
        """One block as a map of ``[time vectors; depth vectors]``."""
        h_in, m_in, k = {}, {}, 0
        for n in time + depth:
            h_in[n], k = v[k : k + HIDDEN], k + HIDDEN
            if kind[n] == "lstm":
                m_in[n], k = v[k : k + HIDDEN], k + HIDDEN
        h_new, m_new = block(layer, h_in, m_in)
        return torch.cat(
            [u for n in time + depth for u in [h_new[n]] + ([m_new[n]] if n in m_new else [])]
        )

    def top(layer, s, x):
        """The top output as a function of the input dimension's ``h`` entering ``layer``."""
        h_d, m_d = column(s, x)[1][layer]

        def output(h):
            return column(s, x, layer, ({**h_d, depth[0]: h}, m_d))[2][depth[0]]

        return output, h_d[depth[0]]

    return step, block_map, top


def _setup(dims, options, tied_layers, seed=3):
    grid = grid_nd(dims, **options)
    weights = random_grid_weights(
        grid, HIDDEN, INPUT, LAYERS, tied=tied_layers, scale=1.5, forget_bias=0.5, seed=seed
    )
    return grid, compile_grid(grid, HIDDEN), weights


def _jacobian(f, v):
    return torch.autograd.functional.jacobian(f, torch.tensor(v, dtype=torch.float64)).numpy()


def _close(a, b) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=RTOL))


@pytest.mark.parametrize("dims, options, tied_layers", CONFIGS)
def test_step_and_block_jacobians_match_torch_and_finite_differences(dims, options, tied_layers):
    grid, cg, weights = _setup(dims, options, tied_layers)
    step, block_map, _ = _reference(dims, options, dict(weights.arrays), tied_layers)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(INPUT)
    xt = torch.tensor(x, dtype=torch.float64)
    if cg.time_vectors:
        model = cg.time_model(weights)
        s = 0.8 * rng.standard_normal(model.state_size)
        assert _close(model.step(s, x), step(torch.tensor(s), xt).numpy())
        J = model.jacobian(s, x)
        assert _close(J, _jacobian(lambda v: step(v, xt), s))
        assert check_jacobian(lambda v: model.step(v, x), lambda v: model.jacobian(v, x), s)
        # teeth: without the path through the layers below (without layers in between, the
        # path through the first hidden vector), the Jacobian fails both checks
        if cg.depth_vectors:
            wrong = np.triu(J, -cg.time_vectors * HIDDEN + 1)
        else:
            wrong = J.copy()
            wrong[:, :HIDDEN] = 0
        assert not _close(wrong, _jacobian(lambda v: step(v, xt), s))
        assert not check_jacobian(lambda v: model.step(v, x), wrong, s)
    else:
        with pytest.raises(GradproofInputError, match="no dimension along time"):
            cg.time_model(weights)
    n, k = (cg.time_vectors + cg.depth_vectors) * HIDDEN, cg.time_vectors
    v = 0.8 * rng.standard_normal(n)
    for layer in range(LAYERS):
        params = cg.block_params(weights, layer)

        def block(u, params=params, jacobian=False):
            parts = np.split(u, n // HIDDEN, axis=-1)
            time_out, depth_out, J = cg.block(parts[:k], parts[k:], params)
            return J if jacobian else np.concatenate(time_out + depth_out, axis=-1)

        J = block(v, jacobian=True)
        assert _close(block(v), block_map(layer, torch.tensor(v)).numpy())
        assert _close(J, _jacobian(lambda u, layer=layer: block_map(layer, u), v))
        assert check_jacobian(block, J, v)
        wrong = J.copy()
        wrong[:, :HIDDEN] = 0  # teeth: the block Jacobian without its first column block
        assert not check_jacobian(block, wrong, v)
        assert not _close(wrong, _jacobian(lambda u, layer=layer: block_map(layer, u), v))


@pytest.mark.parametrize("dims, options, tied_layers", CONFIGS[1:7])
def test_depth_flow_is_the_derivative_of_the_top_output(dims, options, tied_layers):
    grid, cg, weights = _setup(dims, options, tied_layers)
    *_, top = _reference(dims, options, dict(weights.arrays), tied_layers)
    x = np.random.default_rng(1).standard_normal((1, INPUT))
    flow = depth_flow_map(cg, weights, x)
    assert np.all(np.isfinite(flow.log10_norm_depth))  # no dead ReLU layer at this point
    s = torch.zeros(cg.time_vectors * HIDDEN * LAYERS, dtype=torch.float64)
    for layer in range(LAYERS):
        output, h = top(layer, s, torch.tensor(x[0]))
        J = torch.autograd.functional.jacobian(output, h).numpy()
        expected = np.log10(np.linalg.norm(J, 2))
        assert flow.log10_norm_depth[layer] == pytest.approx(expected, rel=RTOL, abs=RTOL)


@pytest.mark.parametrize(
    "wrong, dims, options",
    [
        ({"ignore_priority": True}, ("time", "depth"), {"priority": ["depth"]}),
        (
            {"ignore_priority": True},
            ("depth", "time", "time2"),
            {"priority": ["depth"], "non_lstm": {"depth": "relu"}},
        ),
        ({"memory": "zero"}, ("time", "depth"), {"memory_input": "projection"}),
        ({"memory": "hidden"}, ("time", "depth"), {"memory_input": "projection"}),
        ({"memory": "projection"}, ("time", "depth"), {}),
        ({"old_peephole": True}, ("time", "depth"), {"peepholes": True}),
    ],
)
def test_a_wrong_reference_fails(wrong, dims, options):
    grid, cg, weights = _setup(dims, options, False)
    model = cg.time_model(weights)
    right, *_ = _reference(dims, options, dict(weights.arrays), False)
    broken, *_ = _reference(dims, options, _with_memory_projection(weights), False, **wrong)
    rng = np.random.default_rng(1)
    s, x = rng.standard_normal(model.state_size), rng.standard_normal(INPUT)
    st, xt = torch.tensor(s), torch.tensor(x)
    assert _close(model.step(s, x), right(st, xt).numpy())
    assert not _close(model.step(s, x), broken(st, xt).numpy())
    assert not _close(model.jacobian(s, x), _jacobian(lambda v: broken(v, xt), s))


def _with_memory_projection(weights):
    arrays = dict(weights.arrays)
    arrays.setdefault("memory_projection", np.ones((HIDDEN, INPUT)))
    return arrays


def test_a_separate_memory_projection_changes_the_output():
    # With P_m = P_h the projection and the stacked reading's shared memory agree;
    # with different projections they do not.
    grid = grid_nd(memory_input="projection")
    cg = compile_grid(grid, HIDDEN)
    weights = random_grid_weights(grid, HIDDEN, INPUT, LAYERS, seed=0)
    shared = compile_grid(dataclasses.replace(grid, memory_input="shared"), HIDDEN)
    x = np.random.default_rng(0).standard_normal(INPUT)
    separate, same = cg.bottom(weights, x), shared.bottom(weights, x)
    assert _close(separate[0], same[0]) and not _close(separate[1], same[1])
    arrays = dict(weights.arrays, memory_projection=weights.arrays["input_projection"])
    equal = dataclasses.replace(weights, arrays=arrays)
    assert _close(cg.bottom(equal, x)[1], same[1])


def test_the_2d_models_keep_their_draws_and_their_placement():
    # The draws the 2D models had before N-d grids: the projection, then per dimension
    # and layer the weights N(0, scale^2 / 2d) (biases draw nothing), from one generator.
    scale = 1.3
    for name, options in [
        ("gridlstm", {}),
        ("gridlstm", {"variant": "stacked"}),
        ("stacked-rnn", {}),
    ]:
        model = grid_model(name, **options)
        for tied in (False, True):
            weights = random_grid_weights(
                model, HIDDEN, INPUT, LAYERS, tied=tied, scale=scale, seed=5
            )
            rng = np.random.default_rng(5)
            expected = {"input_projection": rng.standard_normal((HIDDEN, INPUT)) / np.sqrt(INPUT)}
            rows = HIDDEN * (1 if name == "stacked-rnn" else 4)
            for prefix in ("time", "depth") if name == "gridlstm" else ("time",):
                for suffix in [""] if tied else [f"_l{j}" for j in range(LAYERS)]:
                    draw = rng.standard_normal((rows, 2 * HIDDEN))
                    expected[f"weight_{prefix}{suffix}"] = scale * draw / np.sqrt(2 * HIDDEN)
            drawn = {k: a for k, a in weights.arrays.items() if not k.startswith("bias")}
            assert drawn.keys() == expected.keys()
            assert all(np.array_equal(drawn[k], expected[k]) for k in drawn)
    # pinned: the default model's draws at seed 5, as committed before the move
    weights = random_grid_weights(grid_model(), HIDDEN, INPUT, LAYERS, seed=5)
    assert sum(float(np.sum(a)) for a in weights.arrays.values()) == pytest.approx(
        7.2759921363110935, rel=1e-14
    )
    grid = sequence_grid(grid_model())
    assert (grid.time, grid.depth, grid.input, grid.memory_input) == (("T",), ("D",), "D", "zero")


def test_the_paper_2d_grid_built_as_an_n_d_grid_is_the_2d_model():
    nd, old = grid_nd(), grid_model()
    assert nd.block.cell.equations == old.block.cell.equations
    weights = random_grid_weights(old, HIDDEN, INPUT, LAYERS, seed=1)
    inputs = np.random.default_rng(3).standard_normal((6, INPUT))
    a = time_flow(compile_grid(nd, HIDDEN), weights, inputs).log10_norm
    b = time_flow(compile_grid(old, HIDDEN), weights, inputs).log10_norm
    np.testing.assert_array_equal(a, b)


def test_a_grid_must_place_every_dimension_once():
    grid = grid_nd(("time", "depth"))
    with pytest.raises(ValueError, match="exactly once"):
        SequenceGrid(grid.block, time=("T",), depth=())
    with pytest.raises(ValueError, match="first of depth"):
        SequenceGrid(grid.block, time=("T",), depth=("D",), input="T")
    with pytest.raises(ValueError, match="all be LSTM or all not"):
        relu = grid_nd(("time", "depth"), non_lstm={"depth": "relu"})
        SequenceGrid(relu.block, time=("T",), depth=("D",), shared=(("all", ("T", "D")),))


def test_peephole_runs_measure_the_memory_blocks_of_the_grids_they_name():
    # numeric.gridlstm.flows.peephole_runs: the 2D Grid LSTM without and with peepholes
    scale, steps = 4.0, 4
    runs = peephole_runs(HIDDEN, INPUT, LAYERS, steps, scales=(0.0, scale), seed=0)
    plain = grid_nd()
    weights = random_grid_weights(plain, HIDDEN, INPUT, LAYERS, seed=0)
    inputs = random_inputs(steps, INPUT, 0)
    compiled = compile_grid(plain, HIDDEN)
    np.testing.assert_array_equal(
        runs[0.0].time.log10_norm, time_flow(compiled, weights, inputs).log10_norm
    )
    np.testing.assert_array_equal(
        runs[0.0].depth.log10_norm, depth_flow_map(compiled, weights, inputs).log10_norm
    )
    # with peepholes: the same weights plus peephole vectors, drawn as documented
    rng = np.random.default_rng([0, 1])
    peepholes = {
        f"peephole_{name}_l{j}": scale * rng.standard_normal(3 * HIDDEN) / np.sqrt(HIDDEN)
        for name in ("time", "depth")
        for j in range(LAYERS)
    }
    arrays = {**weights.arrays, **peepholes}
    with_peepholes = dataclasses.replace(weights, arrays=arrays)
    compiled = compile_grid(grid_nd(peepholes=True), HIDDEN)
    np.testing.assert_array_equal(
        runs[scale].time.log10_norm, time_flow(compiled, with_peepholes, inputs).log10_norm
    )
    # the memories' own blocks are those of the torch reference's block Jacobian, diagonal
    _, block_map, _ = _reference(("time", "depth"), {"peepholes": True}, arrays, False)
    state = [[np.zeros(HIDDEN)] * 2 for _ in range(LAYERS)]
    for t in range(steps):
        depth = compiled.bottom(with_peepholes, inputs[t])
        for j in range(LAYERS):
            J = _jacobian(lambda u, j=j: block_map(j, u), np.concatenate(state[j] + depth))
            for name, index in (("time", 1), ("depth", 3)):
                rows = slice(index * HIDDEN, (index + 1) * HIDDEN)
                assert _close(J[rows, rows], np.diag(runs[scale].carousel[name][t, j]))
            params = compiled.block_params(with_peepholes, j)
            state[j], depth, _ = compiled.block(state[j], depth, params, jacobian=False)
    # without peepholes each entry is a forget gate, in (0, 1); the peepholes leave it
    assert all(np.all((c > 0) & (c < 1)) for c in runs[0.0].carousel.values())
    assert any(np.any((c <= 0) | (c >= 1)) for c in runs[scale].carousel.values())
