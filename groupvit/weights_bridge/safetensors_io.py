"""`model.safetensors`: the PyTorch names and layouts, read and written with safetensors.numpy."""

from __future__ import annotations

import json
import os

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError

EXPECTED = "a safetensors file (8-byte header length, JSON header, tensor data)"


# safetensors dtype tag -> numpy dtype (little-endian, as the format stores them)
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?"}


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array, keyed by its stored name.

    Reads each tensor straight into its own array, without mapping the file: a mapped file's
    pages count toward the process's memory while they are copied, so the peak would hold the
    weights twice (measured at the default size: 646 MiB peak through safetensors' `safe_open`,
    for 213 MiB of weights).
    """
    _check_header(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CheckpointFormatError(path, EXPECTED, f"a header that is not JSON ({err})") from None
        if not isinstance(header, dict):
            raise CheckpointFormatError(path, EXPECTED, f"a JSON header of type {type(header).__name__}")
        header.pop("__metadata__", None)
        data_start, data_len = 8 + header_len, size - 8 - header_len
        entries = sorted(((_entry(path, key, info, data_len), key) for key, info in header.items()))
        out: dict[str, np.ndarray] = {}
        for (begin, _, dtype, shape), key in entries:
            array = np.empty(shape, dtype=dtype)
            f.seek(data_start + begin)
            if array.nbytes and f.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
                raise CheckpointFormatError(path, EXPECTED, f"a file that ends inside tensor {key!r}")
            out[key] = array
    return {key: out[key] for key in header}  # the file's own order


def _entry(path, key: str, info, data_len: int) -> tuple[int, int, str, tuple[int, ...]]:
    """(begin, end, numpy dtype, shape) of one header entry, checked against the data section."""
    try:
        dtype, shape, (begin, end) = DTYPES[info["dtype"]], tuple(int(d) for d in info["shape"]), info["data_offsets"]
    except KeyError as err:
        raise CheckpointFormatError(
            path, EXPECTED, f"tensor {key!r} with an entry {info!r} (dtype must be one of {sorted(DTYPES)}; "
            f"missing or unknown: {err})"
        ) from None
    except (TypeError, ValueError):
        raise CheckpointFormatError(path, EXPECTED, f"tensor {key!r} with a malformed entry {info!r}") from None
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if not (0 <= begin <= end <= data_len) or end - begin != nbytes:
        raise CheckpointFormatError(
            path, EXPECTED,
            f"tensor {key!r} at bytes [{begin}, {end}) of a {data_len}-byte data section; "
            f"its dtype and shape {shape} need {nbytes} bytes",
        )
    return begin, end, dtype, shape


def write_safetensors(weights: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Writes `weights` with `format: pt` metadata, as the PyTorch port's loader expects."""
    from safetensors.numpy import save_file

    # np.ascontiguousarray would turn a () scalar into (1,); np.require keeps the shape.
    arrays = {key: np.require(np.asarray(value), requirements="C") for key, value in weights.items()}
    save_file(arrays, os.fspath(path), metadata={"format": "pt"})


def _check_header(path: str | os.PathLike) -> None:
    """A cheap sniff so a foreign file gets a message about what it is, not a parser error."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        raise CheckpointFormatError(path, EXPECTED, f"a file of {size} bytes")
    header_len = int.from_bytes(head[:8], "little")
    if head[8:9] != b"{" or header_len > size - 8:
        raise CheckpointFormatError(
            path, EXPECTED, f"a file of {size} bytes starting with {head[:9]!r} (header length {header_len})"
        )
