"""PyTorch files: unusual tensor kinds, torch's warnings, pickled modules, no torch at all."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_loading import _pt, refusal

from numeric.loading import load_state_dict

# (6) Unusual tensors in .pt files.


def _unusual_tensors(torch):
    eye = torch.eye(3, dtype=torch.float64)
    return {
        "sparse_coo": eye.to_sparse(),
        "sparse_csr": eye.to_sparse_csr(),
        "sparse_csc": eye.to_sparse_csc(),
        "sparse_bsr": eye.to_sparse_bsr((1, 1)),
        "sparse_bsc": eye.to_sparse_bsc((1, 1)),
        "requires_grad": torch.nn.Parameter(eye.clone()),
        "transposed": torch.arange(12.0).reshape(3, 4).T,
        "expanded": torch.arange(3.0).reshape(3, 1).expand(3, 4),
        "negative_view": torch.arange(4.0)._neg_view(),
        "bfloat16": eye.bfloat16(),
        "float8": eye.to(torch.float8_e4m3fn),
    }


def test_sparse_and_strided_variants_convert_to_the_same_dense_values(tmp_path):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "beta" notice on building CSR tensors
        tensors = _unusual_tensors(torch)
    loaded = load_state_dict(_pt(tmp_path, **tensors))
    for key, tensor in tensors.items():
        expected = tensor.detach().to_dense().resolve_neg().to(torch.float64).numpy()
        np.testing.assert_array_equal(loaded[key], expected, err_msg=key)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda t: t.empty(2, 2, device="meta"), "is a meta tensor, with a shape but no values"),
        (lambda t: t.nested.nested_tensor([t.ones(2), t.ones(3)]), "is a nested (ragged) tensor"),
        (
            lambda t: t.quantize_per_tensor(t.eye(2), 0.1, 0, t.qint8),
            "is quantized; save tensor.dequantize() instead",
        ),
        (lambda t: t.eye(2).to(t.complex32), "has complex dtype complex32"),
    ],
    ids=["meta", "nested", "quantized", "complex32"],
)
def test_tensors_without_plain_values_are_refused_by_key(tmp_path, make, message):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's prototype/deprecation notices on creation
        tensor = make(torch)
    assert refusal(load_state_dict, _pt(tmp_path, weight_hh=tensor)).startswith(
        f"weights file key 'weight_hh' {message}"
    )


def test_a_crafted_sparse_tensor_is_refused_not_written_out_of_bounds(tmp_path):
    torch = pytest.importorskip("torch")
    # Index 5 of a length-2 vector: made dense unchecked, it writes past the buffer.
    bad = torch.sparse_coo_tensor([[0, 5]], [1.0, 2.0], (2,), check_invariants=False)
    message = refusal(load_state_dict, _pt(tmp_path, w=bad))
    assert "size is 2 but found index 5" in message


def test_a_huge_sparse_tensor_is_refused_before_it_is_made_dense(tmp_path):
    torch = pytest.importorskip("torch")
    with torch.sparse.check_sparse_tensor_invariants(True):
        huge = torch.sparse_coo_tensor([[0, 1], [0, 1]], [1.0, 2.0], (10**7, 10**7))
    message = refusal(load_state_dict, _pt(tmp_path, w=huge))
    assert message.startswith(
        "loading weights file key 'w' (shape (10000000, 10000000)) needs about 1.2 PB"
    )


# (9) torch's warnings while loading never reach the user.


def test_pickle_protocol_warning_becomes_part_of_the_one_line_error(tmp_path):
    torch = pytest.importorskip("torch")
    for legacy in (False, True):
        torch.save(
            {"w": torch.eye(2)},
            tmp_path / "w.pt",
            pickle_protocol=4,
            _use_new_zipfile_serialization=not legacy,
        )
        message = refusal(load_state_dict, tmp_path / "w.pt")
        assert message.startswith(f"cannot read weights file '{tmp_path / 'w.pt'}' as a state_dict")
        assert message.endswith(
            "it was pickled with protocol 4: save module.state_dict() with torch.save and its "
            "default protocol"
        )


def test_a_file_that_loads_shows_no_torch_warning(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.eye(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        csr = torch.eye(2).to_sparse_csr()
    torch.save({"w": csr}, tmp_path / "csr.pt")  # loading it warns "in beta state" in torch
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("old.pt", "csr.pt"):
            np.testing.assert_array_equal(load_state_dict(tmp_path / name)["w"], np.eye(2))
    assert caught == []


def test_a_pickled_module_asks_for_its_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save(torch.nn.RNNCell(2, 2), tmp_path / "module.pt")
    assert refusal(load_state_dict, tmp_path / "module.pt") == (
        f"weights file '{tmp_path / 'module.pt'}' holds a pickled module "
        "(torch.nn.modules.rnn.RNNCell), not a state_dict; save module.state_dict() instead"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.script is deprecated, but still written
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), tmp_path / "script.pt")
    assert "is a TorchScript archive (torch.jit.save), not a state_dict" in refusal(
        load_state_dict, tmp_path / "script.pt"
    )


def test_a_state_dict_of_anything_but_named_tensors_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"weight_hh": torch.eye(2), "step": 3}, tmp_path / "mixed.pt")
    assert refusal(load_state_dict, tmp_path / "mixed.pt").startswith(
        "weights file key 'step' is a int, not a tensor"
    )
    torch.save([torch.eye(2)], tmp_path / "list.pt")
    assert "holds a list, not a state_dict of named tensors" in refusal(
        load_state_dict, tmp_path / "list.pt"
    )


def test_pt_without_torch_says_how_to_convert(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("no torch")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    (tmp_path / "w.pt").write_bytes(b"")
    assert "needs PyTorch, which is not installed; convert it to .npz" in refusal(
        load_state_dict, tmp_path / "w.pt"
    )


def test_every_dtype_is_refused_before_any_value_as_in_an_npz(tmp_path):
    torch = pytest.importorskip("torch")
    nan, flag = np.array([np.nan]), np.array([True])
    np.savez(tmp_path / "w.npz", bias_ih=nan, bias_hh=flag)
    torch.save(
        {"bias_ih": torch.from_numpy(nan), "bias_hh": torch.from_numpy(flag)}, tmp_path / "w.pt"
    )
    answers = [refusal(load_state_dict, tmp_path / name) for name in ("w.npz", "w.pt")]
    assert answers[0] == answers[1]
    assert answers[0].startswith("weights file key 'bias_hh' has dtype bool")
