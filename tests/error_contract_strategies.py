"""Command lines of ``gradproof`` and the files they name, for tests/test_error_contract.py.

A :class:`Scenario` is an argument list and the files to make before the
run.  ``flow`` and ``sweep`` scenarios start from a valid command line
(random weights or a right weight file, ``.npz`` or, where torch is
installed, ``.pt``; steps or an inputs file; options the cell takes, with
extreme but valid values among them: 5e-324, 1e-320, 1.7976931348623157e308,
seeds past 2**64), then add faults: an option set wrong (0, negative, nan,
inf, a word, an option the cell does not take, an unwritable plot path) or a
file broken (values nan/inf/1e308/5e-324/the dtype's maximum, dtypes from
bool to timedelta64, empty and 0-d shapes, keys missing or extra, another
cell's file, junk, the wrong format for the name).  Sizes stay small, so
that every run takes well under a second; the sizes past the machine are
tested in a subprocess instead.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

HAS_TORCH = importlib.util.find_spec("torch") is not None

#: The built-in cells and their PyTorch gate counts (the Grid LSTM has its own layout).
GATES = {"rnn": 1, "lstm": 4, "gru": 3}
CELLS = (*GATES, "gridlstm")

#: An existing file's bytes, and the name of the existing plot a run may replace.
OLD_BYTES = b"an existing file\n"
OLD_PLOT = "old.png"

FLOAT_DTYPES = ("float64", "float32", "float16")
NPZ_DTYPES = (
    *FLOAT_DTYPES,
    *("longdouble", "int64", "int8", "uint8", "bool", "complex128"),
    *("timedelta64[s]", "datetime64[s]", "<U3", "|S3", "object"),
)
PT_DTYPES = (*FLOAT_DTYPES, "bfloat16", "int64", "int8", "uint8", "bool", "complex128")
SPECIAL = {
    "nan": np.nan,
    "inf": np.inf,
    "-inf": -np.inf,
    "1e308": 1e308,
    "-1e308": -1e308,
    "5e-324": 5e-324,
}
FILLS = ("normal", "zeros", "max", *SPECIAL)


@dataclass(frozen=True)
class ArraySpec:
    """An array: shape, dtype, values (``fill`` in the first entry, or in all)."""

    shape: tuple[int, ...]
    dtype: str = "float64"
    fill: str = "normal"
    everywhere: bool = False

    def array(self) -> np.ndarray:
        """The array, the same bytes every time (0-d arrays stay arrays)."""
        base = np.random.default_rng(sum(self.shape)).normal(scale=0.5, size=self.shape)
        base = np.zeros(self.shape) if self.fill == "zeros" else np.asarray(base)
        dtype = "float32" if self.dtype == "bfloat16" else self.dtype
        kind = np.dtype(dtype).kind
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # overflow to inf on a cast is the point
            if kind in "iu":
                arr = np.asarray(np.round(3 * base)).astype(dtype)
                value = np.iinfo(dtype).max if self.fill == "max" else None
            elif kind in "fc":
                arr = base.astype(dtype)
                value = np.finfo(dtype).max if self.fill == "max" else SPECIAL.get(self.fill)
            elif kind == "b":
                arr, value = np.asarray(base > 0), None
            elif kind in "mM":
                arr, value = np.asarray(np.round(10 * base)).astype("int64").astype(dtype), None
            elif kind == "O":
                arr, value = np.array(base.tolist(), dtype=object), None
            else:  # strings and bytes
                arr, value = base.astype(dtype), None
            if value is not None:
                self._put(arr, value)
        return arr

    def _put(self, arr: np.ndarray, value: object) -> None:
        if self.everywhere:
            arr[...] = value
        elif arr.size:
            arr.flat[0] = value


@dataclass(frozen=True)
class Arrays:
    """A file of arrays: ``npz``/``pt`` (named arrays) or ``npy`` (the first array)."""

    fmt: str
    arrays: tuple[tuple[str, ArraySpec], ...]

    def write(self, path: Path) -> None:
        """Write the file at ``path``, whatever its extension."""
        arrays = {name: spec.array() for name, spec in self.arrays}
        with open(path, "wb") as f:
            if self.fmt == "npy":
                np.save(f, next(iter(arrays.values())), allow_pickle=True)
            elif self.fmt == "npz":
                np.savez(f, **arrays)
            else:
                import torch

                specs = dict(self.arrays)
                torch.save(
                    {
                        name: torch.from_numpy(arr).to(torch.bfloat16)
                        if specs[name].dtype == "bfloat16"
                        else torch.from_numpy(arr)
                        for name, arr in arrays.items()
                    },
                    f,
                )


@dataclass(frozen=True)
class Raw:
    """A file of given bytes."""

    data: bytes

    def write(self, path: Path) -> None:
        """Write the bytes at ``path``."""
        path.write_bytes(self.data)


@dataclass(frozen=True)
class Folder:
    """A folder where a file is expected."""

    def write(self, path: Path) -> None:
        """Make the folder."""
        path.mkdir()


@dataclass(frozen=True)
class Scenario:
    """A command line, the files to make first, and the files a success may write."""

    argv: tuple[str, ...]
    files: tuple[tuple[str, Arrays | Raw | Folder], ...] = ()
    outputs: tuple[str, ...] = ()

    def make_files(self, root: Path) -> None:
        """Make the scenario's files under ``root``; plain files 0644."""
        for name, spec in self.files:
            spec.write(root / name)
            if not isinstance(spec, Folder):
                (root / name).chmod(0o644)


#: Files that are no weight file at all.
JUNK = {
    "empty": Raw(b""),
    "text": Raw(b"weight_hh = [[1, 2], [3, 4]]\n"),
    "pickle": Raw(pickle.dumps({"weight_hh": [[1.0]]})),
    "zip header only": Raw(b"PK\x03\x04" + bytes(40)),
    "folder": Folder(),
}


def weight_arrays(
    cell: str, fmt: str, hidden: int, inputs: int, layers: int | None = None, tied: bool = False
) -> Arrays:
    """A right weight file: PyTorch names (``_lK`` with ``layers``), or the Grid LSTM's."""
    if cell == "gridlstm":
        shapes = {"input_projection": (hidden, inputs)}
        for suffix in [""] if tied else [f"_l{j}" for j in range(layers or 1)]:
            for dim in ("time", "depth"):
                shapes[f"weight_{dim}{suffix}"] = (4 * hidden, 2 * hidden)
                shapes[f"bias_{dim}{suffix}"] = (4 * hidden,)
    else:
        rows, shapes = GATES[cell] * hidden, {}
        for suffix in [""] if layers is None else [f"_l{j}" for j in range(layers)]:
            shapes |= {f"weight_ih{suffix}": (rows, inputs), f"weight_hh{suffix}": (rows, hidden)}
            shapes |= {f"bias_ih{suffix}": (rows,), f"bias_hh{suffix}": (rows,)}
    return Arrays(fmt, tuple((name, ArraySpec(shape)) for name, shape in shapes.items()))


def rnn_file(fmt: str = "npz", **changed: ArraySpec) -> tuple[tuple[str, Arrays]]:
    """``w.<fmt>``: an Elman RNN state_dict, hidden 3, input 2, some arrays replaced."""
    arrays = dict(weight_arrays("rnn", fmt, 3, 2).arrays) | changed
    return ((f"w.{fmt}", Arrays(fmt, tuple(arrays.items()))),)


def grid_file(fmt: str = "npz", **changed: ArraySpec) -> tuple[tuple[str, Arrays]]:
    """``w.<fmt>``: tied Grid LSTM weights, hidden 2, input 2, some arrays replaced."""
    arrays = dict(weight_arrays("gridlstm", fmt, 2, 2, tied=True).arrays) | changed
    return ((f"w.{fmt}", Arrays(fmt, tuple(arrays.items()))),)


def torch_file(kind: str) -> Raw:
    """A ``.pt`` that is no plain state_dict of dense CPU tensors (``layer 0`` names)."""
    import torch

    rnn = torch.nn.RNN(2, 3)
    state = {k: v.detach() for k, v in rnn.state_dict().items()}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # prototype and deprecation notices of the makers
        special = {
            "sparse": lambda: state["weight_hh_l0"].to_sparse(),
            "meta": lambda: torch.empty(3, 3, device="meta"),
            "quantized": lambda: torch.quantize_per_tensor(torch.eye(3), 0.1, 0, torch.qint8),
            "nested": lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
        }
        if kind == "module":
            torch.save(rnn, buffer)
        elif kind == "list":
            torch.save(list(state.values()), buffer)
        elif kind == "legacy":
            torch.save(state, buffer, _use_new_zipfile_serialization=False)
        else:
            torch.save(state | {"weight_hh_l0": special[kind]()}, buffer)
    return Raw(buffer.getvalue())


def declared_shape_npz() -> Raw:
    """A few hundred bytes whose one member declares shape (10**11,): 745 GiB of float64."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as members:
        members.writestr("weight_hh.npy", header.getvalue())
    return Raw(archive.getvalue())


def _maybe(values: tuple, absent: int = 3) -> st.SearchStrategy:
    """One of ``values`` or, ``absent`` times as likely as each, nothing (shrinks to nothing)."""
    return st.sampled_from((None,) * absent + tuple(values))


#: Valid values, the extreme ones included: each run with them must succeed or refuse in a line.
SCALES = ("1", "0.5", "2", "5e-324", "1e-320", "1e-300", "1e300", "1e308", "1.7976931348623157e308")
SEEDS = ("0", "1", "1000000000000", "18446744073709551616")
NONNEGATIVE = ("0", "1", "0.5", "5e-324", "1e308")
SWEEP_SCALES = (
    "0.5,1",
    "1",
    "0.5:1.5:3",
    "5e-324,1",
    "1e-320",
    "1e308,1",
    "1.7976931348623157e308",
)
ACTIVATIONS = ("tanh", "relu", "sigmoid", "identity")
VARIANTS = {"lstm": ("pytorch", "no_forget"), "gru": ("pytorch", "textbook")}
PLOTS = ("out.png", "out.svg", "out.pdf", OLD_PLOT)
#: Faults: an option set to a value that is wrong (or wrong for the cell); files go wrong apart.
BAD = {
    "--steps": ("0", "-2", "x", "2.5"),
    "--hidden": ("0", "-1", "x"),
    "--input": ("0", "-1", "x"),
    "--scale": ("0", "-1", "nan", "inf", "-inf", "1e400", "x"),
    "--seed": ("-1", "x"),
    "--layer": ("0", "1", "-1", "1000000000000"),
    "--layers": ("0", "-1", "1", "3"),
    "--tied": (True,),
    "--init": ("uniform", "orthogonal"),
    "--activation": ("relu", "softsign"),
    "--variant": ("textbook", "no_forget", "stacked"),
    "--output-form": ("standard", "both"),
    "--priority": ("depth", "width"),
    "--size": ("n=2",),
    "--plot": ("out.txt", "out", "sub/out.png", "folder.png", "/sys/gp.png", "/proc/gp.png", "."),
    "--weights": ("missing.npz", "x.npy"),
}
SWEEP_BAD = {
    "--seeds": ("0", "-1", "x"),
    "--scales": ("0,1", "nan,1", "inf", "0.5:1.5:0", "1:2:3:4", "a,b", "", "-1:1:3", "1e400"),
    "--input-scale": ("-1", "nan", "inf", "x"),
    "--bias-scale": ("-1", "nan", "inf", "x"),
    **{k: BAD[k] for k in ("--steps", "--hidden", "--input", "--init", "--variant", "--size")},
    "--plot": BAD["--plot"],
}
FILE_FAULTS = ("fill", "fill", "dtype", "shape", "drop", "extra", "other cell", "junk", "rename")


def _argv(command: str, cell: str, options: dict) -> tuple[str, ...]:
    argv = [command, cell]
    for flag, value in options.items():
        if value is True:
            argv.append(flag)
        elif value is not None and value is not False:
            argv += [flag, value]
    return tuple(argv)


@st.composite
def _broken(draw, spec: Arrays, cell: str) -> Arrays | Raw | Folder:
    """``spec`` with one thing wrong or extreme: values, dtype, shape, keys, the whole file."""
    fault = draw(st.sampled_from(FILE_FAULTS))
    arrays = dict(spec.arrays)
    name = draw(st.sampled_from(sorted(arrays)))
    old = arrays[name]
    if fault == "fill":
        fill = draw(st.sampled_from(FILLS))
        arrays[name] = ArraySpec(old.shape, old.dtype, fill, draw(st.booleans()))
    elif fault == "dtype":
        dtypes = NPZ_DTYPES if spec.fmt in ("npz", "npy") else PT_DTYPES
        arrays[name] = ArraySpec(old.shape, draw(st.sampled_from(dtypes)))
    elif fault == "shape":
        shape = draw(st.sampled_from(((), (0,), (0, 0), (1,), (2, 2), (1, 2, 2), (4, 0))))
        arrays[name] = ArraySpec(shape, old.dtype)
    elif fault == "drop":
        if len(arrays) == 1:
            return JUNK["empty"]
        del arrays[name]
    elif fault == "extra":
        arrays["extra"] = ArraySpec((2,))
    elif fault == "other cell":
        other = draw(st.sampled_from([c for c in CELLS if c != cell]))
        return weight_arrays(other, spec.fmt, 2, 2, draw(st.sampled_from((None, 1))))
    elif fault == "junk":
        return JUNK[draw(st.sampled_from(sorted(JUNK)))]
    else:  # the arrays under another extension's format
        formats = [f for f in ("npz", "pt", "npy") if f != spec.fmt and (f != "pt" or HAS_TORCH)]
        fmt = draw(st.sampled_from(formats))
        return Arrays(fmt, (("x", old),) if fmt == "npy" else spec.arrays)
    return Arrays(spec.fmt, tuple(arrays.items()))


@st.composite
def flow_scenario(draw) -> Scenario:
    """``gradproof flow CELL``: a valid command line, then up to two faults."""
    cell = draw(st.sampled_from(CELLS))
    grid = cell == "gridlstm"
    hidden, inputs, steps = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 5)),
    )
    layers, tied = draw(st.integers(1, 2)), grid and draw(st.booleans())
    options: dict = {"--layers": str(layers) if tied or (grid and draw(st.booleans())) else None}
    options["--tied"] = tied
    files: dict = {}
    if draw(st.booleans()):
        options |= {"--hidden": str(hidden), "--input": str(inputs)}
        options["--scale"] = draw(_maybe(SCALES))
        options["--init"] = None if grid else draw(_maybe(("gaussian", "orthogonal")))
    else:
        fmt = draw(st.sampled_from(("npz", "pt", "pth") if HAS_TORCH else ("npz",)))
        stacked = None if grid else draw(st.sampled_from((None, 1, 2)))
        spec = weight_arrays(
            cell, fmt.replace("pth", "pt"), hidden, inputs, layers if grid else stacked, tied
        )
        files[f"w.{fmt}"], options["--weights"] = spec, f"w.{fmt}"
        options["--layer"] = None if stacked is None else str(draw(st.integers(0, stacked - 1)))
    if draw(st.booleans()):
        options["--steps"] = str(steps)
    else:
        files["x.npy"] = Arrays("npy", (("x", ArraySpec((steps, inputs))),))
        options["--inputs"] = "x.npy"
    if not grid and draw(st.integers(0, 3)) == 0:
        files["h0.npy"] = Arrays(
            "npy", (("x", ArraySpec((hidden * (2 if cell == "lstm" else 1),))),)
        )
        options["--h0"] = "h0.npy"
    options["--seed"] = draw(_maybe(SEEDS))
    options["--activation"] = draw(_maybe(ACTIVATIONS)) if cell == "rnn" else None
    options["--variant"] = draw(_maybe(VARIANTS[cell])) if cell in VARIANTS else None
    options["--output-form"] = draw(_maybe(("paper", "standard"))) if grid else None
    options["--priority"] = draw(_maybe(("none", "depth"))) if grid else None
    options["--json"] = draw(st.booleans())
    options["--plot"] = draw(_maybe(PLOTS, 20))
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2)))):
        fault = draw(st.sampled_from(tuple(BAD)))
        options[fault] = draw(st.sampled_from(BAD[fault]))
    for name in ("w.npz", "w.pt", "w.pth", "x.npy", "h0.npy"):
        if name in files and draw(st.sampled_from((False, True) if name[0] == "w" else (0, 0, 1))):
            files[name] = draw(_broken(files[name], cell))
    return _scenario("flow", cell, options, files)


@st.composite
def sweep_scenario(draw) -> Scenario:
    """``gradproof sweep rnn``, small: a valid command line, then up to two faults."""
    cell = "rnn"
    options: dict = {
        "--steps": str(draw(st.integers(1, 5))),
        "--seeds": str(draw(st.integers(1, 2))),
        "--scales": draw(st.sampled_from(SWEEP_SCALES)),
        "--hidden": str(draw(st.integers(1, 3))),
        "--input": str(draw(st.integers(1, 3))),
        "--init": draw(_maybe(("gaussian", "orthogonal"))),
        "--input-scale": draw(_maybe(NONNEGATIVE)),
        "--bias-scale": draw(_maybe(NONNEGATIVE)),
        "--activation": draw(_maybe(ACTIVATIONS)),
        "--json": draw(st.booleans()),
        "--plot": draw(_maybe(PLOTS, 20)),
    }
    for _ in range(draw(st.sampled_from((0, 0, 1, 1, 2)))):
        fault = draw(st.sampled_from((*SWEEP_BAD, "cell")))
        if fault == "cell":
            cell = draw(st.sampled_from(("lstm", "gru", "gridlstm", "nosuchcell")))
        else:
            options[fault] = draw(st.sampled_from(SWEEP_BAD[fault]))
    return _scenario("sweep", cell, options, {})


def _scenario(command: str, cell: str, options: dict, files: dict) -> Scenario:
    plot = options.get("--plot")
    if plot == OLD_PLOT:
        files[plot] = Raw(OLD_BYTES)
    elif plot == "folder.png":
        files[plot] = Folder()
    return Scenario(_argv(command, cell, options), tuple(files.items()), (plot,) if plot else ())


@st.composite
def params_scenario(draw) -> Scenario:
    """``gradproof params CELL`` with the cell options, valid or not."""
    options = {
        "--activation": draw(_maybe(("tanh", "relu", "softsign"))),
        "--variant": draw(_maybe(("pytorch", "no_forget", "textbook", "stacked", "paper"))),
        "--output-form": draw(_maybe(("paper", "standard", "both"))),
        "--priority": draw(_maybe(("none", "depth", "width"))),
    }
    return Scenario(_argv("params", draw(st.sampled_from((*CELLS, "nosuchcell"))), options))


#: Options of ``derive`` that are always refused: a derivation takes about a second, so the
#: property test derives in full only now and then.
DERIVE_ERRORS = (
    ("--format", "html"),
    ("--standalone",),
    ("--bold",),
    ("--activation", "softsign"),
    ("--variant", "stacked", "--priority", "none"),
    ("--priority", "width"),
    ("--output-form", "both"),
)


@st.composite
def derive_scenario(draw) -> Scenario:
    """``gradproof derive CELL``, nearly always with an option that is refused."""
    options = {"--format": draw(_maybe(("latex", "markdown", "text"), 1))}
    error = draw(st.sampled_from((*DERIVE_ERRORS, *DERIVE_ERRORS, ())))
    return Scenario((*_argv("derive", draw(st.sampled_from(CELLS)), options), *error))


#: The dtypes both an ``.npz`` and a ``.pt`` file hold.
COMMON_DTYPES = tuple(d for d in PT_DTYPES if d != "bfloat16")


@st.composite
def loader_pair(draw) -> tuple[tuple[str, ...], Arrays]:
    """``flow`` arguments but ``--weights``, and arrays an ``.npz`` and a ``.pt`` both hold."""
    cell = draw(st.sampled_from(CELLS))
    tied = cell == "gridlstm" and draw(st.booleans())
    layers = 1 if cell == "gridlstm" else None
    spec = weight_arrays(cell, "pt", draw(st.integers(1, 3)), draw(st.integers(1, 3)), layers, tied)
    arrays = dict(spec.arrays)
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(arrays)))
        shape = draw(st.sampled_from((arrays[name].shape,) * 3 + ((), (0,), (1, 2, 2))))
        dtype, fill = draw(st.sampled_from(COMMON_DTYPES)), draw(st.sampled_from(FILLS))
        arrays[name] = ArraySpec(shape, dtype, fill, draw(st.booleans()))
    argv = ("flow", cell, "--steps", "3", *("--tied", "--layers", "1") * tied)
    return (*argv, *("--json",) * draw(st.booleans())), Arrays("pt", tuple(arrays.items()))


scenarios = st.one_of(
    flow_scenario(),
    flow_scenario(),
    flow_scenario(),
    sweep_scenario(),
    params_scenario(),
    derive_scenario(),
)
