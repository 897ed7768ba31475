"""torch.save's legacy (pre-1.6, non-zip) stream format, read with the restricted unpickler.

Layout: pickles of the magic number, the protocol version and a sys_info dict; the main
pickle (storages as persistent ids); a pickled list of storage keys; then, per key in that
order, an int64 element count and the raw little-endian storage bytes.
"""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO, Callable

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
EXPECTED = "a PyTorch checkpoint written by torch.save (legacy stream format)"


class _PlainUnpickler(pickle.Unpickler):
    """For the header and key-list pickles: plain Python values only, no globals at all."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused global {module}.{name} (the legacy header holds plain values)")


def load_legacy_stream(path: str, f: BinaryIO, make_unpickler: Callable[[BinaryIO, Callable], pickle.Unpickler]) -> Any:
    """The object of a legacy torch.save stream; `make_unpickler(stream, allocate)` restricts globals."""
    magic = _PlainUnpickler(f).load()
    if magic != MAGIC_NUMBER:
        raise CheckpointFormatError(path, EXPECTED, "a pickle that is not a torch.save file (no magic number)")
    version = _PlainUnpickler(f).load()
    if version != PROTOCOL_VERSION:
        raise CheckpointFormatError(path, EXPECTED, f"protocol version {version!r}, expected {PROTOCOL_VERSION}")
    sys_info = _PlainUnpickler(f).load()
    if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
        raise CheckpointFormatError(path, EXPECTED + " from a little-endian machine", f"sys_info={sys_info!r:.100}")

    pending: dict[str, np.ndarray] = {}

    def allocate(key: str, dtype: str, numel: int) -> np.ndarray:
        if dtype == "bf16":
            raise pickle.UnpicklingError("bfloat16 storages in the legacy format are not supported")
        pending[key] = np.empty(numel, dtype=np.dtype(dtype).newbyteorder("<"))
        return pending[key]

    obj = make_unpickler(f, allocate).load()
    keys = _PlainUnpickler(f).load()
    if not isinstance(keys, list) or set(map(str, keys)) != set(pending):
        raise CheckpointFormatError(path, EXPECTED, "a storage key list that does not match the tensors")
    for key in map(str, keys):
        array = pending[key]
        count = int.from_bytes(f.read(8), "little")
        if count != array.size:
            raise CheckpointFormatError(path, EXPECTED, f"storage {key} of {count} elements, expected {array.size}")
        if f.readinto(memoryview(array).cast("B")) != array.nbytes:
            raise CheckpointFormatError(path, EXPECTED, f"a truncated file (storage {key} is cut short)")
    return obj
