"""Our restricted unpickler (no torch, never runs code) against `torch.load(weights_only=True)` on
the same files, so the two cannot drift: every file torch's safe loader reads we read to the same
structure, dtypes and values; every file it refuses for a foreign global we refuse too."""

from __future__ import annotations

import collections
import datetime
import io
from pathlib import Path

import numpy as np
import pytest

import torch  # noqa: E402

from bridge_helpers import random_weights  # noqa: E402
from groupvit.weights_bridge import CheckpointFormatError  # noqa: E402
from groupvit.weights_bridge.torch_pickle import load_torch_file  # noqa: E402
from tiny_configs import tiny_config  # noqa: E402

BIN_FIXTURE = Path(__file__).resolve().parents[1] / "data" / "pytorch_bin" / "pytorch_model.bin"
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32,
          torch.int16, torch.int8, torch.uint8, torch.bool]


def _tensor_zoo() -> dict:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(5, 7, generator=g)
    zoo = {f"dtype_{str(d).split('.')[-1]}": (base * 10).to(d) for d in DTYPES}
    shared = torch.arange(30, dtype=torch.float32)
    zoo.update(
        view=base[1:4, ::3],  # offset and strides into a shared storage
        transposed=base.t(),
        expanded_then_cloned=base[:1].expand(3, 7).clone(),
        scalar=torch.tensor(2.5),
        empty=torch.zeros(0, 4),
        high_rank=torch.randn(2, 1, 3, 1, 2, generator=g),
        same_storage_a=shared[:10],
        same_storage_b=shared[10:].view(4, 5),
        parameter=torch.nn.Parameter(torch.ones(3)),
    )
    return zoo


def _plain(obj):
    """torch.load's result in our reader's terms: tensors -> numpy (bfloat16 widened to float32)."""
    if isinstance(obj, torch.Tensor):
        obj = obj.detach()
        return (obj.float() if obj.dtype == torch.bfloat16 else obj).numpy()
    if isinstance(obj, (torch.device, torch.dtype)):
        return str(obj)
    if isinstance(obj, torch.Size):
        return tuple(obj)
    if isinstance(obj, dict):
        return type(obj)(dict((k, _plain(v)) for k, v in obj.items()))
    if isinstance(obj, (set, frozenset)):
        return obj
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    return obj


def _assert_same(ours, theirs, where="root"):
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), where
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (where, ours.dtype, theirs.dtype)
        np.testing.assert_array_equal(ours, theirs, err_msg=where)
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs), (where, type(ours), type(theirs))
        for key in theirs:
            _assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    else:
        assert type(ours) is type(theirs) and ours == theirs, (where, ours, theirs)


def _optimizer_state() -> dict:
    param = torch.nn.Parameter(torch.ones(4))
    optimizer = torch.optim.AdamW([param], lr=1e-3)
    param.square().sum().backward()
    optimizer.step()
    return optimizer.state_dict()


def _model_state() -> dict:
    return {k: torch.from_numpy(v) for k, v in random_weights(tiny_config(), seed=1).items()}


READABLE = {
    "state_dict": _model_state,
    "tensor_zoo": _tensor_zoo,
    "containers": lambda: {"list": [torch.ones(2), 3, 4.5, "text", None, True],
                           "tuple": (torch.zeros(1), (1, 2)), "nested": {"a": {"b": [torch.eye(2)]}},
                           "ordered": collections.OrderedDict(x=torch.ones(1)), "bytes": b"\x00\x01\xff",
                           "set": {1, 2, "a"}, "bytearray": bytearray(b"ab"),
                           "complex": 1.5 - 2j, "counter": collections.Counter("aab")},
    "torch_values": lambda: {"size": torch.Size([2, 3]), "cpu": torch.device("cpu"),
                             "cuda": torch.device("cuda", 1), "dtypes": [torch.float16, torch.bfloat16, torch.int64],
                             "complex64": torch.randn(3, dtype=torch.complex64),
                             "complex128": torch.randn(2, 2, dtype=torch.complex128)},
    "authors_like_checkpoint": lambda: {"model": _model_state(), "optimizer": _optimizer_state(),
                                        "lr_scheduler": {"last_epoch": 3}, "epoch": 29, "max_accuracy": 0.5},
}


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("name", sorted(READABLE))
def test_files_torch_reads_safely_read_the_same(tmp_path, name, zip_format):
    obj = READABLE[name]()
    if not zip_format:  # torch's legacy writer cannot store bfloat16
        obj = {k: v for k, v in obj.items() if not (isinstance(v, torch.Tensor) and v.dtype == torch.bfloat16)}
    path = tmp_path / f"{name}.bin"
    torch.save(obj, path, _use_new_zipfile_serialization=zip_format)
    theirs = _plain(torch.load(path, weights_only=True))
    _assert_same(load_torch_file(path), theirs)


def test_the_committed_fixture_reads_the_same():
    _assert_same(load_torch_file(BIN_FIXTURE), _plain(torch.load(BIN_FIXTURE, weights_only=True)))


class _Foreign:
    def __init__(self) -> None:
        self.value = 1


REFUSED = {
    "foreign_class": lambda: {"w": torch.ones(2), "obj": _Foreign()},
    "datetime": lambda: {"when": datetime.datetime(2024, 1, 1)},
    "numpy_array": lambda: {"arr": np.ones(3)},  # a numpy reconstruct global, not a torch tensor
    "module": lambda: torch.nn.Linear(2, 2),
    "frozenset": lambda: {"f": frozenset({3})},
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_files_torch_refuses_we_refuse_naming_the_global(tmp_path, name):
    path = tmp_path / f"{name}.bin"
    torch.save(REFUSED[name](), path)
    with pytest.raises(Exception) as torch_error:
        torch.load(path, weights_only=True)
    assert "weights_only" in str(torch_error.value) or "Unsupported" in str(torch_error.value)
    with pytest.raises(CheckpointFormatError, match="refused global") as ours:
        load_torch_file(path)
    assert str(path) in str(ours.value)


def test_tensor_kinds_we_do_not_read_are_refused_by_name(tmp_path):
    """torch reads sparse tensors safely; a weight file never holds one, so we refuse it, clearly."""
    path = tmp_path / "sparse.bin"
    torch.save({"w": torch.eye(3).to_sparse()}, path)
    assert torch.load(path, weights_only=True)["w"].is_sparse
    with pytest.raises(CheckpointFormatError, match="_rebuild_sparse_tensor"):
        load_torch_file(path)


def test_bytes_in_memory_equal_the_file(tmp_path):
    buffer = io.BytesIO()
    torch.save(_tensor_zoo(), buffer)
    (tmp_path / "zoo.bin").write_bytes(buffer.getvalue())
    _assert_same(load_torch_file(tmp_path / "zoo.bin"), _plain(torch.load(io.BytesIO(buffer.getvalue()),
                                                                         weights_only=True)))
