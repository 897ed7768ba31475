"""Our safetensors reader (no memory map) against the safetensors library, and its errors."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from groupvit.weights_bridge.errors import CheckpointFormatError
from groupvit.weights_bridge.safetensors_io import read_safetensors


def test_every_dtype_and_shape_as_the_library_reads_them(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "f32": rng.standard_normal((3, 5)).astype(np.float32),
        "f16": rng.standard_normal((7,)).astype(np.float16),
        "f64": rng.standard_normal((2, 2, 2)),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3),
        "i32": np.array([-1, 5], dtype=np.int32),
        "u8": np.array([0, 255], dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    path = tmp_path / "model.safetensors"
    save_file(arrays, str(path), metadata={"format": "pt"})
    ours, library = read_safetensors(path), load_file(str(path))
    assert set(ours) == set(library) == set(arrays)
    for key, value in library.items():
        assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
        np.testing.assert_array_equal(ours[key], value, err_msg=key)
        assert ours[key].flags.writeable and ours[key].flags.c_contiguous
    lazy = read_safetensors(path, lazy=True)
    assert list(lazy) == list(ours)
    for key, value in library.items():
        assert not isinstance(lazy[key], np.ndarray), key  # nothing read yet
        assert lazy[key].dtype == value.dtype and lazy[key].shape == value.shape and np.shape(lazy[key]) == value.shape
        np.testing.assert_array_equal(np.asarray(lazy[key]), value, err_msg=key)


def _write(path, header: dict, data: bytes) -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)


@pytest.mark.parametrize("entry, message", [
    ({"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}, "dtype must be one of"),
    ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, r"need 8 bytes"),
    ({"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, r"of a 8-byte data section"),
    ({"dtype": "F32", "shape": ["a"], "data_offsets": [0, 8]}, "malformed entry"),
    ({"dtype": "F32", "shape": [2], "data_offsets": 8}, "malformed entry"),
    ({"shape": [2], "data_offsets": [0, 8]}, "dtype must be one of"),
])
def test_malformed_entries_are_named(tmp_path, entry, message):
    path = tmp_path / "model.safetensors"
    _write(path, {"w": entry}, b"\0" * 8)
    with pytest.raises(CheckpointFormatError, match=message):
        read_safetensors(path)
    with pytest.raises(CheckpointFormatError, match=message):  # checked before anything is read
        read_safetensors(path, lazy=True)


def test_header_that_is_not_json(tmp_path):
    path = tmp_path / "model.safetensors"
    raw = b"{not json"
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)
    with pytest.raises(CheckpointFormatError, match="not JSON"):
        read_safetensors(path)
