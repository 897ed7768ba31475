"""torch.save files read without torch: the committed .bin fixture, malicious pickles, authors' .pth."""

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bridge_helpers import Global, Reduce, assert_same_weights, torch_zip_bytes
from groupvit.weights_bridge import CheckpointFormatError, expected_shapes, load_checkpoint
from groupvit.weights_bridge.nvlabs_pth import canonical_to_authors
from groupvit.weights_bridge.torch_pickle import load_torch_file
from tiny_configs import tiny_config

BIN_FIXTURE = Path(__file__).resolve().parent / "data" / "pytorch_bin"


def test_committed_pytorch_bin_reads_without_torch():
    """Written by tests/fixtures/scripts/make_pytorch_bin.py with torch.save of a state dict."""
    config, weights = load_checkpoint(BIN_FIXTURE)
    assert config.text_config.hidden_size == 16
    shapes = expected_shapes(config)
    assert sorted(weights) == sorted(shapes)  # position_ids dropped
    for index, (key, shape) in enumerate(shapes.items()):
        if key.endswith("num_batches_tracked"):
            assert weights[key].dtype == np.int64 and weights[key] == 17
            continue
        n = int(np.prod(shape)) if shape else 1
        expected = (np.arange(n, dtype=np.float32) / np.float32(1000) + np.float32(index)).reshape(shape)
        assert weights[key].dtype == np.float32 and weights[key].shape == shape
        np.testing.assert_array_equal(weights[key], expected, err_msg=key)


def test_torch_zip_of_numpy_arrays_round_trips(tmp_path, config, weights):
    (tmp_path / "pytorch_model.bin").write_bytes(torch_zip_bytes(weights))
    _, loaded = load_checkpoint(tmp_path / "pytorch_model.bin", config=config)
    assert_same_weights(weights, loaded)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("as_authors_file", [False, True])
def test_malicious_pickle_is_refused_without_running(tmp_path, as_authors_file):
    marker = tmp_path / "marker"
    payload = {"model": {"x": _RunsCode(marker)}} if as_authors_file else {"x": _RunsCode(marker)}
    data = torch_zip_bytes(payload)
    path = tmp_path / ("evil.pth" if as_authors_file else "pytorch_model.bin")
    path.write_bytes(data)
    with pytest.raises(CheckpointFormatError, match="system") as info:
        load_checkpoint(path, config=tiny_config())
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("in_header", [False, True])
def test_malicious_legacy_stream_is_refused_without_running(tmp_path, in_header):
    marker = tmp_path / "marker"
    header = [0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}]
    parts = [_RunsCode(marker)] + header[1:] if in_header else header + [_RunsCode(marker)]
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(b"".join(pickle.dumps(p, protocol=2) for p in parts))
    with pytest.raises(CheckpointFormatError, match="refused global (posix|os|nt).system"):
        load_torch_file(path)
    assert not marker.exists()


def test_builtins_eval_is_refused_by_name(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(torch_zip_bytes({"x": Reduce(Global("builtins", "eval"), ("1+1",))}))
    with pytest.raises(CheckpointFormatError, match="refused global builtins.eval"):
        load_torch_file(path)


@pytest.mark.parametrize("call, message", [
    (Reduce(Global("_codecs", "encode"), ("import os", "rot13")), "_codecs.encode"),  # only str -> latin-1
    (Reduce(Global("_codecs", "encode"), (b"raw", "latin1")), "_codecs.encode"),
    (Reduce(Global("torch", "device"), ({"not": "a name"},)), "torch.device"),
    (Reduce(Global("builtins", "set"), ([1], [2])), "set with 2 arguments"),
])
def test_data_globals_take_only_data_arguments(tmp_path, call, message):
    """The data-only globals torch.load(weights_only=True) also allows run nothing beyond their data."""
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(torch_zip_bytes({"x": call}))
    with pytest.raises(CheckpointFormatError, match=message):
        load_torch_file(path)


def test_data_globals_read_as_plain_values(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(torch_zip_bytes({
        "bytes": Reduce(Global("_codecs", "encode"), ("\x00\xff", "latin1")),
        "device": Reduce(Global("torch", "device"), ("cuda", 1)),
        "size": Reduce(Global("torch", "Size"), ((2, 3),)),
        "dtype": Global("torch", "bfloat16"),
    }))
    assert load_torch_file(path) == {"bytes": b"\x00\xff", "device": "cuda:1", "size": (2, 3),
                                     "dtype": "torch.bfloat16"}


def test_truncated_legacy_torch_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + b"rest")
    with pytest.raises(CheckpointFormatError, match="legacy"):
        load_torch_file(path)


def test_plain_pickle_is_not_a_torch_file(tmp_path):
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointFormatError, match="magic number"):
        load_torch_file(path)


class _FakeDictConfig:
    """Pickled as omegaconf.dictconfig.DictConfig, a module the test environment does not have."""


def test_authors_checkpoint_reads_back_to_the_canonical_weights(tmp_path, config, weights, caplog):
    marker = tmp_path / "marker"
    authors = canonical_to_authors(config, weights)
    assert authors["img_projector.linear_hidden.0.weight"].ndim == 3
    assert "img_encoder.layers.0.blocks.0.attn.qkv.weight" in authors
    assert "text_encoder.transformer.resblocks.1.attn.in_proj_bias" in authors
    authors["multi_label_logit_scale"] = np.array(2.5, dtype=np.float32)
    omegaconf = Reduce(Global("omegaconf.dictconfig", "DictConfig"), (), {"_content": {"model": "groupvit"}})
    checkpoint = {
        "model": authors,
        "optimizer": {"state": {0: {"exp_avg": np.ones(3, np.float32)}}, "param_groups": [{"lr": 1e-3}]},
        "config": omegaconf,
        "hook": Reduce(Global("os", "system"), (f"touch {marker}",)),  # outside `model`: inert, never run
        "epoch": 30,
    }
    path = tmp_path / "group_vit_tiny.pth"
    path.write_bytes(torch_zip_bytes(checkpoint))
    loaded_config, loaded = load_checkpoint(path, config=config)
    assert loaded_config == config
    assert_same_weights(weights, loaded)
    assert not marker.exists()
    assert "multi_label_logit_scale" in caplog.text


def test_authors_checkpoint_without_config_uses_the_default_config(tmp_path):
    path = tmp_path / "ckpt.pth"
    path.write_bytes(torch_zip_bytes({"model": {"logit_scale": np.array(1.0, np.float32)}}))
    with pytest.raises(ValueError, match="missing") as info:
        load_checkpoint(path)
    assert "img_encoder" not in str(info.value)  # reported in our names, against the default config


def test_authors_checkpoint_with_unknown_key_is_refused(tmp_path, config, weights):
    authors = canonical_to_authors(config, weights)
    authors["img_encoder.head.weight"] = np.zeros((3, 3), np.float32)
    path = tmp_path / "ckpt.pth"
    path.write_bytes(torch_zip_bytes({"model": authors}))
    with pytest.raises(ValueError, match=r"unexpected 1: img_encoder\.head\.weight"):
        load_checkpoint(path, config=config)


def test_truncated_torch_zip_is_refused(tmp_path, config, weights):
    data = torch_zip_bytes(weights)
    path = tmp_path / "pytorch_model.bin"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointFormatError, match="pytorch_model.bin"):
        load_checkpoint(path, config=config)


def test_zip_without_data_pkl_is_refused(tmp_path, config):
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(CheckpointFormatError, match="data.pkl"):
        load_checkpoint(path, config=config)


@pytest.mark.parametrize("offset, size, stride", [
    (-1, (10,), (10,)),  # read 36 bytes before the storage into the weights
    (-(3 - 1) * 10**7, (3,), (10**7,)),  # passed the end check, read gigabytes past the buffer (a crash)
    (0, (2, -3), (3, 1)),
    (4, (3,), (-1,)),
    (0, (2, 3), (3,)),
])
def test_a_tensor_view_outside_its_storage_is_refused(offset, size, stride):
    from groupvit.weights_bridge.torch_pickle import _rebuild_tensor_v2, _Storage

    with pytest.raises(pickle.UnpicklingError, match="offset, sizes and strides >= 0"):
        _rebuild_tensor_v2(_Storage(np.arange(10, dtype=np.float32)), offset, size, stride)


def test_views_inside_their_storage_still_read():
    from groupvit.weights_bridge.torch_pickle import _rebuild_tensor_v2, _Storage

    storage = _Storage(np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(_rebuild_tensor_v2(storage, 1, (2, 3), (3, 1)), np.arange(1, 7).reshape(2, 3))
    np.testing.assert_array_equal(_rebuild_tensor_v2(storage, 0, (3,), (4,)), [0, 4, 8])  # strided, a view
    with pytest.raises(pickle.UnpicklingError, match="overrun"):
        _rebuild_tensor_v2(storage, 0, (3,), (5,))
