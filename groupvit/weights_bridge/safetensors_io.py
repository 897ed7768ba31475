"""`model.safetensors`: the PyTorch names and layouts, read and written with safetensors.numpy."""

from __future__ import annotations

import json
import os

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError

EXPECTED = "a safetensors file (8-byte header length, JSON header, tensor data)"


# safetensors dtype tag -> numpy dtype (little-endian, as the format stores them)
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U8": "u1", "BOOL": "?", "BF16": "<u2"}
# numpy has no bfloat16: its 16 bits are read as uint16 and widened to float32, exactly (the top half).
WIDENED = {"BF16": np.dtype("<f4")}


def read_safetensors(path: str | os.PathLike, *, lazy: bool = False) -> dict[str, np.ndarray]:
    """Every tensor of a safetensors file as a numpy array, keyed by its stored name.

    Reads each tensor straight into its own array, without mapping the file: a mapped file's
    pages count toward the process's memory while they are copied, so the peak would hold the
    weights twice (measured at the default size: 646 MiB peak through safetensors' `safe_open`,
    for 213 MiB of weights).

    `lazy=True` reads nothing but the header: each value is a `StoredArray` (shape and dtype known)
    whose data is read when it is converted (`np.asarray(value)` or `value.read()`). A loader that
    casts each tensor as it arrives (a bfloat16 model) then never holds the float32 weights all at
    once. The header and every entry's extent are checked either way.
    """
    path = os.fspath(path)
    data_start, header, entries, _ = _read_header(path)
    if lazy:
        stored = {key: StoredArray(path, key, data_start + begin, tag, shape)
                  for (begin, _, tag, shape), key in entries}
        return {key: stored[key] for key in header}
    out: dict[str, np.ndarray] = {}
    with open(path, "rb") as f:
        for (begin, _, tag, shape), key in entries:
            out[key] = _read_into(f, path, key, data_start + begin, tag, shape)
    return {key: out[key] for key in header}  # the file's own order


def read_metadata(path: str | os.PathLike) -> dict:
    """The header's `__metadata__` ({} when absent): `{"format": "tf"}` marks the old TensorFlow port's
    variable names and layouts, `"pt"` (or nothing) PyTorch's."""
    return _read_header(os.fspath(path))[3]


class StoredArray:
    """One tensor of a safetensors file, read from the file only when its data is asked for."""

    __slots__ = ("path", "key", "offset", "tag", "dtype", "shape")

    def __init__(self, path: str, key: str, offset: int, tag: str, shape: tuple[int, ...]) -> None:
        self.path, self.key, self.offset, self.tag = path, key, offset, tag
        self.dtype, self.shape = WIDENED.get(tag, np.dtype(DTYPES[tag])), tuple(shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def read(self) -> np.ndarray:
        with open(self.path, "rb") as f:
            return _read_into(f, self.path, self.key, self.offset, self.tag, self.shape)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.read()
        return array if dtype is None else array.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"StoredArray({self.path!r}, {self.key!r}, dtype={self.dtype}, shape={self.shape})"


def _read_header(path: str) -> tuple[int, dict, list, dict]:
    """(start of the data section, header without metadata, sorted checked entries, metadata)."""
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
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict):
        metadata = {}
    data_start, data_len = 8 + header_len, size - 8 - header_len
    entries = sorted(((_entry(path, key, info, data_len), key) for key, info in header.items()))
    return data_start, header, entries, metadata


def _read_into(f, path: str, key: str, offset: int, tag: str, shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(shape, dtype=DTYPES[tag])
    f.seek(offset)
    if array.nbytes and f.readinto(memoryview(array.reshape(-1)).cast("B")) != array.nbytes:
        raise CheckpointFormatError(path, EXPECTED, f"a file that ends inside tensor {key!r}")
    if tag == "BF16":
        widened = array.astype("<u4")
        widened <<= 16  # in place: a () tensor stays an array
        return widened.view(WIDENED[tag])
    return array


def _entry(path, key: str, info, data_len: int) -> tuple[int, int, str, tuple[int, ...]]:
    """(begin, end, dtype tag, shape) of one header entry, checked against the data section."""
    try:
        tag, shape, (begin, end) = info["dtype"], tuple(int(d) for d in info["shape"]), info["data_offsets"]
        dtype = DTYPES[tag]
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
    return begin, end, tag, shape


def write_safetensors(weights: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """Writes `weights` with `format: pt` metadata, as the PyTorch port's loader expects."""
    from safetensors.numpy import save_file

    # np.ascontiguousarray would turn a () scalar into (1,); np.require keeps the shape.
    arrays = {key: np.require(np.asarray(value), requirements="C") for key, value in weights.items()}
    save_file(arrays, os.fspath(path), metadata={"format": "pt"})
    # safetensors 0.8 creates the file with mode 0600 whatever the umask: give it the mode any other file written
    # here gets (0666 less the umask), so others on a shared machine can read the model, as they can its config
    os.chmod(path, 0o666 & ~_umask())


def _umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


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
