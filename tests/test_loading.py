"""Reading weight, input and initial-state files: one policy, and a one-line refusal for
every bad or extreme file, before anything large is allocated and without any warning."""

from __future__ import annotations

import io
import os
import pickle
import signal
import warnings
import zipfile

import numpy as np
import pytest

import numeric.budget
import numeric.torch_files as torch_files
from numeric.errors import GradproofInputError
from numeric.loading import load_inputs, load_npz, load_state0, load_state_dict, real_array


def refusal(load, *args) -> str:
    """The one-line message ``load(*args)`` refuses with; no warning on the way, no hang."""

    def hung(signum, frame):
        raise TimeoutError(f"{load.__name__}{args} blocked")

    # A loader that blocks (on a named pipe, say) fails the test instead of hanging it.
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(GradproofInputError) as err:
                load(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert [str(w.message) for w in caught] == []
    message = str(err.value)
    assert "\n" not in message and "\x1b" not in message and "; " in message  # what to do
    assert "allow_pickle" not in message and "weights_only=False" not in message
    return message


def _npz(tmp_path, name="w.npz", **arrays):
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


def _pt(tmp_path, name="w.pt", **tensors):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notices on writing prototype tensor kinds
        torch.save(tensors, tmp_path / name)
    return tmp_path / name


class _Payload:
    """Creates a file when unpickled: the file must never appear."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


# (4) One dtype policy for .npz and .pt.

ACCEPTED = ["int8", "uint8", "int16", "int32", "int64", "uint64", "float16", "float32", "float64"]


@pytest.mark.parametrize("dtype", ACCEPTED)
def test_real_dtypes_load_alike_from_npz_and_pt(tmp_path, dtype):
    torch = pytest.importorskip("torch")
    values = np.array([[0, 1, 2], [3, 100, 7]], dtype=dtype)
    from_npz = load_state_dict(_npz(tmp_path, w=values))["w"]
    from_pt = load_state_dict(_pt(tmp_path, w=torch.from_numpy(values)))["w"]
    assert from_npz.dtype == from_pt.dtype == np.float64
    np.testing.assert_array_equal(from_npz, values.astype(np.float64))
    np.testing.assert_array_equal(from_pt, from_npz)


@pytest.mark.parametrize(
    ("dtype", "message"),
    [
        ("complex64", "has complex dtype complex64, expected real numbers"),
        ("complex128", "has complex dtype complex128, expected real numbers"),
        ("bool", "has dtype bool, expected real numbers; a boolean array is a mask"),
    ],
)
def test_refusals_are_worded_alike_for_npz_and_pt(tmp_path, dtype, message):
    torch = pytest.importorskip("torch")
    values = np.eye(2, dtype=dtype)
    from_npz = refusal(load_state_dict, _npz(tmp_path, w=values))
    from_pt = refusal(load_state_dict, _pt(tmp_path, w=torch.from_numpy(values)))
    assert from_npz == from_pt
    assert from_npz.startswith(f"weights file key 'w' {message}")


@pytest.mark.parametrize(
    "values",
    [
        np.ones(2, dtype="m8[s]"),
        np.ones(2, dtype="M8[D]"),
        np.array([b"ab", b"c"]),
        np.array(["ab", "c"]),
        np.zeros(2, dtype=[("a", "f8")]),
    ],
    ids=["timedelta64", "datetime64", "bytes", "str", "structured"],
)
def test_non_numbers_are_refused(tmp_path, values):
    message = refusal(load_npz, _npz(tmp_path, w=values))
    assert message.startswith(f"weights file key 'w' has dtype {values.dtype}, expected real")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            np.array([2**53, 2**53 + 1]),
            "an integer beyond 2**53 in magnitude (first at index (1,): 9007199254740993)",
        ),
        (np.array([-(2**53), -(2**53) - 1]), "(first at index (1,): -9007199254740993)"),
        (
            np.array([2**53, 2**64 - 1], dtype=np.uint64),
            "(first at index (1,): 18446744073709551615)",
        ),
    ],
)
def test_integers_must_be_exact_in_float64(tmp_path, values, message):
    exact = load_npz(_npz(tmp_path, w=values[:1]))["w"]
    assert exact[0] == values[0] and abs(exact[0]) == 2.0**53
    assert message in refusal(load_npz, _npz(tmp_path, w=values))


def test_longdouble_is_rounded_to_float64_but_never_overflows_or_underflows(tmp_path):
    third = np.longdouble(1) / 3
    assert load_npz(_npz(tmp_path, w=np.array([third])))["w"][0] == np.float64(third)
    for extreme in ("1e4000", "-1e4000", "1e-4000"):
        values = np.array([1, np.longdouble(extreme)], dtype=np.longdouble)
        message = refusal(load_npz, _npz(tmp_path, w=values))
        assert message.startswith("weights file key 'w' holds a value beyond float64's range")
        assert f"(first at index (1,): {values[1]!s})" in message
    # Teeth: the naive cast warns and yields inf, which the refusal above replaces.
    with pytest.warns(RuntimeWarning, match="overflow"):
        np.array([np.longdouble("1e4000")]).astype(np.float64)


def test_non_finite_values_name_the_first_index(tmp_path):
    values = np.zeros((2, 3))
    values[1, 2] = np.nan
    assert "contains NaN or inf (first at index (1, 2))" in refusal(
        load_npz, _npz(tmp_path, w=values)
    )


def test_real_array_refuses_what_a_file_would_refuse():
    with pytest.raises(GradproofInputError, match="key 'k' has dtype bool"):
        real_array(np.array([True]), "key 'k'")
    with pytest.raises(GradproofInputError, match="key 'k' has dtype object"):
        real_array(np.array([1, None], dtype=object), "key 'k'")


# (7) Sizes past the machine, and declared sizes that the file does not hold.


def _npy_bytes(shape, data: bytes, descr="<f8") -> bytes:
    stream = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(stream, header)
    return stream.getvalue() + data


def test_a_tiny_npz_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("weight_hh.npy", _npy_bytes((10**11,), bytes(16)))
    assert path.stat().st_size < 400
    message = refusal(load_npz, path)
    assert message == (
        "weights file key 'weight_hh' declares shape (100000000000,) of float64 (800 GB) but "
        "stores 16 bytes; the file is truncated or damaged, save it again"
    )


def test_a_truncated_npy_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((50, 2)))
    data = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(data[:-8])
    assert "stores 792 bytes; the file is truncated" in refusal(load_inputs, tmp_path / "x.npy", 2)


def test_arrays_larger_than_the_available_memory_are_refused(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(numeric.budget, "available_memory", lambda: 1000)
    np.save(tmp_path / "x.npy", np.zeros((50, 2)))
    assert refusal(load_inputs, tmp_path / "x.npy", 2) == (
        f"loading inputs file '{tmp_path / 'x.npy'}' (shape (50, 2)) needs about 1.6 kB of "
        "memory, and 1 kB is available; use smaller arrays or a machine with more memory"
    )
    message = refusal(load_npz, _npz(tmp_path, a=np.zeros(10), b=np.zeros((10, 10))))
    assert "(key 'b' of shape (10, 10)) needs about 1.76 kB of memory" in message
    assert "needs about" in refusal(load_state_dict, _pt(tmp_path, w=torch.zeros(100)))
    monkeypatch.setattr(numeric.budget, "available_memory", lambda: None)  # the system says not
    assert load_inputs(tmp_path / "x.npy", 2).shape == (50, 2)


def test_an_oversized_npy_header_is_refused_without_numpys_advice(tmp_path):
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), " + b" " * 20000 + b"}\n"
    data = np.lib.format.MAGIC_PREFIX + b"\x02\x00" + len(header).to_bytes(4, "little") + header
    (tmp_path / "x.npy").write_bytes(data + bytes(8))
    message = refusal(load_inputs, tmp_path / "x.npy", 1)
    assert "has a damaged or unsupported .npy header" in message


# (10) Clear messages for files of the wrong kind.


def test_text_and_pickles_passed_as_npz_get_a_plain_answer(tmp_path):
    (tmp_path / "text.npz").write_text("weight_hh = [[1, 0], [0, 1]]\n")
    assert refusal(load_npz, tmp_path / "text.npz").startswith(
        f"weights file '{tmp_path / 'text.npz'}' is not an .npz archive; write weights"
    )
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"weight_hh": [[1.0]]}))
    assert "is a Python pickle (gradproof never unpickles: that can run code)" in refusal(
        load_npz, tmp_path / "pickle.npz"
    )
    objects = _npz(tmp_path, w=np.array([None, 1], dtype=object))
    assert refusal(load_npz, objects).startswith("weights file key 'w' has dtype object")


def test_files_under_the_wrong_suffix_say_which_suffix(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.eye(2)}, tmp_path / "torch.npz")
    assert refusal(load_state_dict, tmp_path / "torch.npz") == (
        f"weights file '{tmp_path / 'torch.npz'}' is a torch.save file, not an .npz archive; "
        "give it a name ending in .pt"
    )
    np.savez(tmp_path / "numpy.npz", w=np.eye(2))
    (tmp_path / "numpy.pt").write_bytes((tmp_path / "numpy.npz").read_bytes())
    assert refusal(load_state_dict, tmp_path / "numpy.pt").endswith(
        "is an .npz archive, not a torch.save file; give it a name ending in .npz"
    )
    np.save(tmp_path / "single.npy", np.eye(2))
    assert "is an .npy array, not an .npz archive" in refusal(load_npz, tmp_path / "single.npy")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive:
        archive.writestr("notes.txt", "hello")
    assert "is a zip archive of other files than arrays" in refusal(
        load_npz, tmp_path / "other.npz"
    )
    (tmp_path / "text.pt").write_text("hello")
    assert "is not a torch.save file" in refusal(load_state_dict, tmp_path / "text.pt")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 but no archive")
    assert refusal(load_npz, tmp_path / "junk.npz").startswith("cannot read weights file")


def test_inputs_and_initial_states_from_files(tmp_path):
    xs = np.random.default_rng(1).standard_normal((5, 2))
    np.save(tmp_path / "x.npy", xs)
    np.testing.assert_array_equal(load_inputs(tmp_path / "x.npy", 2), xs)
    assert "shape (5, 2), expected (T, in) = (T, 3)" in refusal(load_inputs, tmp_path / "x.npy", 3)
    np.save(tmp_path / "empty.npy", np.zeros((0, 2)))
    assert "T >= 1" in refusal(load_inputs, tmp_path / "empty.npy", 2)
    xs[2, 1] = np.inf
    np.save(tmp_path / "inf.npy", xs)
    assert "contains NaN or inf (first at index (2, 1))" in refusal(
        load_inputs, tmp_path / "inf.npy", 2
    )
    np.savez(tmp_path / "x.npz", x=xs)
    assert "is an .npz archive, not an .npy array" in refusal(load_inputs, tmp_path / "x.npz", 2)
    assert not load_state0(None, 4).any()
    np.save(tmp_path / "h0.npy", np.arange(4, dtype=np.int16))
    np.testing.assert_array_equal(load_state0(tmp_path / "h0.npy", 4), np.arange(4.0))
    assert "shape (4,), expected (N,) = (3,)" in refusal(load_state0, tmp_path / "h0.npy", 3)
    np.save(tmp_path / "fortran.npy", np.asfortranarray(np.arange(6.0).reshape(3, 2)))
    np.testing.assert_array_equal(
        load_inputs(tmp_path / "fortran.npy", 2), np.arange(6.0).reshape(3, 2)
    )


# (11) Only regular files are opened.


@pytest.mark.parametrize("kind", ["fifo", "directory", "device", "missing"])
def test_non_regular_files_are_refused_without_reading(tmp_path, kind):
    path = {"device": "/dev/zero", "missing": str(tmp_path / "missing")}.get(kind)
    if kind == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)  # opening it for reading would block until a writer comes
    elif kind == "directory":
        path = tmp_path
    what = {
        "fifo": "is a named pipe, not a file",
        "directory": "is a directory, not a file",
        "device": "is a device, not a file",
        "missing": ": No such file or directory",
    }[kind]
    for load, args in [
        (load_state_dict, ()),
        (load_npz, ()),
        (torch_files.load_torch, ()),
        (load_inputs, (2,)),
        (load_state0, (2,)),
    ]:
        assert what in refusal(load, path, *args)


# Malicious pickles never run.


def test_pickled_payloads_are_refused_and_never_run(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "payload-ran"
    payload = _Payload(marker)
    torch.save({"weight_hh": torch.eye(2), "extra": payload}, tmp_path / "evil.pt")
    assert "holds pickled Python objects (io.open), which gradproof never loads" in refusal(
        load_state_dict, tmp_path / "evil.pt"
    )
    (tmp_path / "evil.npz").write_bytes(pickle.dumps(payload))
    (tmp_path / "evil.npy").write_bytes(pickle.dumps(payload))
    (tmp_path / "legacy.pt").write_bytes(pickle.dumps(payload, protocol=2))
    np.savez(tmp_path / "objects.npz", w=np.array([payload, 1], dtype=object))
    refusal(load_npz, tmp_path / "evil.npz")
    refusal(load_inputs, tmp_path / "evil.npy", 2)
    refusal(load_state_dict, tmp_path / "legacy.pt")
    refusal(load_npz, tmp_path / "objects.npz")
    assert not marker.exists()
    # Teeth: unpickling the same bytes does run the payload.
    pickle.loads((tmp_path / "evil.npz").read_bytes()).close()
    assert marker.exists()
