"""Case study: the adding problem, trained, and the gradient flow of the trained weights.

The adding problem (Hochreiter and Schmidhuber 1997, experiment 4; here in the
form of Le, Jaitly and Hinton 2015): each step carries a pair (value, marker),
the values uniform in [0, 1]; exactly two markers are 1, one in the first half
of the sequence and one in the second; the target, read after the last step,
is the sum of the two marked values.  Predicting the mean, 1, scores a mean
squared error of 1/6; a prediction counts as correct when it is within 0.04 of
the target.  The first marked value must be carried for at least T/2 steps.

Trained at two horizons T: a tanh RNN, an LSTM and a GRU (PyTorch's modules,
their default initialisation), each without and with gradient-norm clipping
(Pascanu, Mikolov and Bengio 2013, Algorithm 1), and the tanh RNN with their
vanishing-gradient regulariser Omega as well as clipping.  Every run with the
same cell starts from the same weights and sees the same batches.

Written to ``--out`` (examples/adding_problem/ by default):

- ``init_<cell>.npz`` and ``<run>.npz``: the model's ``state_dict`` before and
  after training (keys ``rnn.weight_ih_l0``, ..., ``fc.weight``, ``fc.bias``,
  float32), written byte for byte the same on every run;
- ``results.json``: the configuration, what every field means, and per run
  the task error and accuracy, the measured gradient flow of the recurrent
  weights before and after training, and the training time.

CPU, one thread, deterministic seeds; ``python examples/adding_problem.py``.
Needs the ``torch`` extra (``pip install "gradproof[torch]"``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from numeric.flow import decay_rate, gradient_flow, json_floats
from numeric.regularizer import clip_grad_norm, omega, symbolic_params
from numeric.weights import torch_weights
from symbolic.registry import family


@dataclass(frozen=True)
class Config:
    """Everything that decides the results, stored with them."""

    horizons: tuple[int, ...] = (20, 100)
    hidden: int = 32
    batch: int = 64
    iterations: int = 2000
    learning_rate: float = 3e-3
    clip_threshold: float = 1.0
    omega_weight: float = 0.05
    test_sequences: int = 1000
    flow_sequences: int = 8
    tolerance: float = 0.04
    eval_every: int = 100
    init_seed: int = 0
    data_seed: int = 1
    test_seed: int = 2


@dataclass(frozen=True)
class Run:
    """One training run: a cell, with or without clipping, with or without Omega."""

    cell: str
    clip: bool
    omega: bool = False

    def name(self, horizon: int) -> str:
        remedies = "_clip" if self.clip else ""
        remedies += "_omega" if self.omega else ""
        return f"{self.cell}_T{horizon}{remedies}"


RUNS = (
    Run("rnn", clip=False),
    Run("rnn", clip=True),
    Run("rnn", clip=True, omega=True),
    Run("lstm", clip=False),
    Run("lstm", clip=True),
    Run("gru", clip=False),
    Run("gru", clip=True),
)
#: Singular values below this fraction of the largest are rounding noise of the product.
RESOLVED = 1e-12
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}

FIELDS = {
    "run": "<cell>_T<horizon>, then _clip with clipping, _omega with the regulariser",
    "cell, horizon, clip, omega": "the cell (rnn: tanh), T, and the remedies used",
    "before, after": "measured on the initial and on the trained weights",
    "mse": "mean squared error of the prediction on the test sequences",
    "accuracy": "fraction of test sequences predicted within tolerance of the target",
    "log10_norm": "entry k-1: log10 ||ds_T/ds_{T-k}||_2 for k = 1..T, the full state's "
    "Jacobian chain (s = h for the RNN and GRU, [h; c] for the LSTM), from the recurrent "
    "weights alone (the readout does not enter), averaged over flow_sequences test "
    "sequences; numeric.flow.gradient_flow",
    "decay_rate": "least-squares slope of log10_norm per step, with log10 1 = 0 at k = 0 "
    "(numeric.flow.decay_rate): decades per step, negative when the gradient vanishes",
    "log10_singular_values": "log10 of the singular values of ds_T/ds_0 on the first test "
    "sequence, largest first, down to RESOLVED times the largest: smaller ones are below the "
    "rounding error of the float64 product",
    "curve": "test mse every eval_every iterations (iteration 0: before training)",
    "gradient_norm": "median and largest ||g||_2 of the task gradient over training, before "
    "clipping",
    "clipped_fraction": "fraction of iterations whose gradient was clipped",
    "omega": "Pascanu et al.'s regulariser on the last training batch (runs with omega only)",
    "train_seconds": "wall-clock seconds of the training loop, one CPU thread",
    "checkpoint": "the trained state_dict, float32, in this directory; init_<cell>.npz holds "
    "the weights every run of that cell starts from",
    "wall_seconds": "wall-clock seconds of the whole script, evaluation and flow included",
}


def adding_batch(generator: torch.Generator, size: int, horizon: int):
    """``size`` sequences ``(size, T, 2)`` of (value, marker) pairs and their targets."""
    values = torch.rand(size, horizon, generator=generator)
    first = torch.randint(0, horizon // 2, (size,), generator=generator)
    second = torch.randint(horizon // 2, horizon, (size,), generator=generator)
    markers = torch.zeros(size, horizon)
    rows = torch.arange(size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    return torch.stack([values, markers], dim=-1), (values * markers).sum(1, keepdim=True)


class Model(torch.nn.Module):
    """A one-layer recurrent module and a linear readout of its last hidden vector."""

    def __init__(self, cell: str, hidden: int):
        super().__init__()
        self.rnn = MODULES[cell](2, hidden, batch_first=True)
        self.fc = torch.nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


def loss_and_omega(model: Model, x: torch.Tensor, y: torch.Tensor):
    """The task loss and Omega of the tanh RNN.

    The RNN is unrolled step by step with the module's own weights, so each
    hidden vector is a node of the graph and ``autograd.grad`` gives
    ``dE/dh_t`` for every t.  As Pascanu et al. do, Omega is differentiated
    through the weights only: states and errors enter as constants.
    """
    w = dict(model.rnn.named_parameters())
    h = x.new_zeros(len(x), model.rnn.hidden_size)
    states = []
    for t in range(x.shape[1]):
        states.append(h)
        h = torch.tanh(
            F.linear(x[:, t], w["weight_ih_l0"], w["bias_ih_l0"])
            + F.linear(h, w["weight_hh_l0"], w["bias_hh_l0"])
        )
    loss = F.mse_loss(model.fc(h), y)
    errors = torch.autograd.grad(loss, [*states[1:], h], retain_graph=True)
    params = symbolic_params(w, "rnn", layer=0)
    cell = family("rnn").cell()
    previous = torch.stack(states).detach()
    return loss, omega(cell, params, previous, x.transpose(0, 1), torch.stack(errors))


def evaluate(model: Model, x: torch.Tensor, y: torch.Tensor, tolerance: float) -> dict:
    with torch.no_grad():
        error = model(x) - y
    return {
        "mse": float((error**2).mean()),
        "accuracy": float((error.abs() < tolerance).float().mean()),
    }


def arrays(model: Model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def save_npz(path: Path, state: dict[str, np.ndarray]) -> None:
    """``numpy.savez_compressed`` with a fixed timestamp: the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(state):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.ascontiguousarray(state[key]))


def flow(cell_name: str, state: dict[str, np.ndarray], inputs: np.ndarray) -> dict:
    """Gradient flow of the recurrent layer's weights over test sequences, float64."""
    layer = {k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")}
    params = torch_weights(layer, cell_name, layer=0).params
    cell = family(cell_name).cell()
    logs = np.mean([gradient_flow(cell, params, seq).log10_norm for seq in inputs], axis=0)
    first = gradient_flow(cell, params, inputs[0], matrices=True)
    singular = np.linalg.svd(first.mantissa[-1], compute_uv=False)
    resolved = singular[singular >= RESOLVED * singular[0]]
    log_singular = np.log10(resolved) + first.log10_norm[-1]
    return {
        "decay_rate": decay_rate(logs),
        "log10_norm": json_floats(logs),
        "log10_singular_values": json_floats(log_singular),
    }


def train(run: Run, horizon: int, config: Config, test, flow_inputs, out: Path) -> dict:
    torch.manual_seed(config.init_seed)
    model = Model(run.cell, config.hidden)
    before = arrays(model)
    result = {
        "run": run.name(horizon),
        **asdict(run),
        "horizon": horizon,
        "before": {
            **evaluate(model, *test, config.tolerance),
            **flow(run.cell, before, flow_inputs),
        },
    }
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    data = torch.Generator().manual_seed(config.data_seed)
    curve, norms, last_omega = [result["before"]["mse"]], [], None
    start = time.perf_counter()
    for iteration in range(1, config.iterations + 1):
        x, y = adding_batch(data, config.batch, horizon)
        optimizer.zero_grad()
        if run.omega:
            loss, regulariser = loss_and_omega(model, x, y)
            last_omega = float(regulariser.detach())
            loss = loss + config.omega_weight * regulariser
        else:
            loss = F.mse_loss(model(x), y)
        loss.backward()
        threshold = config.clip_threshold if run.clip else float("inf")
        norms.append(float(clip_grad_norm(model.parameters(), threshold)))
        optimizer.step()
        if iteration % config.eval_every == 0:
            curve.append(evaluate(model, *test, config.tolerance)["mse"])
    seconds = time.perf_counter() - start
    after = arrays(model)
    save_npz(out / f"{run.name(horizon)}.npz", after)
    norms = np.array(norms)
    result.update(
        after={**evaluate(model, *test, config.tolerance), **flow(run.cell, after, flow_inputs)},
        curve=curve,
        gradient_norm={"median": float(np.median(norms)), "max": float(norms.max())},
        clipped_fraction=float(np.mean(norms >= config.clip_threshold)) if run.clip else 0.0,
        omega=last_omega,
        train_seconds=round(seconds, 1),
        checkpoint=f"{run.name(horizon)}.npz",
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(""))
    parser.add_argument("--horizons", type=int, nargs="+", default=list(Config.horizons))
    parser.add_argument("--iterations", type=int, default=Config.iterations)
    parser.add_argument("--omega-weight", type=float, default=Config.omega_weight)
    parser.add_argument("--only", nargs="+", help="train only these runs (e.g. rnn_clip_omega)")
    args = parser.parse_args(argv)
    config = Config(
        horizons=tuple(args.horizons), iterations=args.iterations, omega_weight=args.omega_weight
    )
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    args.out.mkdir(parents=True, exist_ok=True)
    wall = time.perf_counter()
    for cell in sorted({run.cell for run in RUNS}):
        torch.manual_seed(config.init_seed)
        save_npz(args.out / f"init_{cell}.npz", arrays(Model(cell, config.hidden)))
    results = []
    for horizon in config.horizons:
        test = adding_batch(
            torch.Generator().manual_seed(config.test_seed), config.test_sequences, horizon
        )
        flow_inputs = test[0][: config.flow_sequences].double().numpy()
        for run in RUNS:
            if args.only and run.name(horizon).replace(f"_T{horizon}", "") not in args.only:
                continue
            result = train(run, horizon, config, test, flow_inputs, args.out)
            results.append(result)
            b, a = result["before"], result["after"]
            print(
                f"{result['run']:<22} mse {b['mse']:.4f} -> {a['mse']:.4f}  "
                f"acc {b['accuracy']:.2f} -> {a['accuracy']:.2f}  "
                f"rate {b['decay_rate']:+.3f} -> {a['decay_rate']:+.3f}  "
                f"{result['train_seconds']:.0f} s",
                flush=True,
            )
    report = {
        "task": "adding problem (Hochreiter and Schmidhuber 1997; form of Le, Jaitly and Hinton "
        "2015): inputs (value, marker) per step, values uniform in [0, 1], one marker in each "
        "half of the sequence, target the sum of the two marked values, read after step T",
        "baseline_mse": 1 / 6,
        "models": "PyTorch nn.RNN (tanh), nn.LSTM, nn.GRU, one layer, input 2, default "
        "initialisation, then nn.Linear(hidden, 1) on the last hidden vector; Adam; loss: mse",
        "remedies": "clip: Pascanu, Mikolov and Bengio (2013) Algorithm 1 on the gradient of "
        "every parameter as one vector; omega: their regulariser, sum over steps of "
        "(||(dE/dh_t) J_t|| / ||dE/dh_t|| - 1)^2, averaged over the batch, added with weight "
        "omega_weight, differentiated through the weights only",
        "config": {**asdict(config), "RESOLVED": RESOLVED},
        "fields": FIELDS,
        "environment": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "threads": torch.get_num_threads(),
        },
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "runs": results,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}/results.json; wall time {report['wall_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
