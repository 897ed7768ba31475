"""Helpers of the weight-bridge tests (numpy only): random canonical weights, torch-format pickles."""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge import expected_shapes


def random_weights(config: GroupViTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    """Distinct float32 values for every key; BatchNorm counters set to a non-zero int64."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in expected_shapes(config).items():
        if key.endswith("num_batches_tracked"):
            out[key] = np.array(123, dtype=np.int64)
        else:
            out[key] = np.asarray(rng.standard_normal(shape, dtype=np.float32))
    return out


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray], skip_counters: bool = False) -> None:
    """Bit-for-bit equality of every tensor (same keys, shapes, dtypes, bytes)."""
    keys_a = {k for k in a if not (skip_counters and k.endswith("num_batches_tracked"))}
    keys_b = {k for k in b if not (skip_counters and k.endswith("num_batches_tracked"))}
    assert keys_a == keys_b, (sorted(keys_a - keys_b)[:5], sorted(keys_b - keys_a)[:5])
    for key in keys_a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        assert x.shape == y.shape and x.dtype == y.dtype, (key, x.shape, y.shape, x.dtype, y.dtype)
        assert x.tobytes() == y.tobytes(), key


class Global:
    """Pickled as the global `module.name` without importing it (lets tests name torch classes)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle requires a callable in REDUCE; never called
        raise AssertionError("a pickled global marker is not callable")


class Reduce:
    """Pickled as `callable(*args)`, optionally followed by BUILD(state)."""

    def __init__(self, func: Global, args: tuple, state: object = None) -> None:
        self.func, self.args, self.state = func, args, state


STORAGES = {"float32": "FloatStorage", "int64": "LongStorage", "float16": "HalfStorage"}


class _TorchZipPickler(pickle._Pickler):
    """Writes what `torch.save` writes for numpy arrays: `_rebuild_tensor_v2` over storages."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, storages: dict[str, bytes]) -> None:
        super().__init__(file, protocol=2)
        self.storages = storages

    def _save_global_marker(self, obj: Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())

    dispatch[Global] = _save_global_marker

    def persistent_id(self, obj):
        if isinstance(obj, tuple) and len(obj) == 2 and obj[0] == "__storage__":
            array = obj[1]
            key = str(len(self.storages))
            self.storages[key] = np.ascontiguousarray(array).tobytes()
            return ("storage", Global("torch", STORAGES[array.dtype.name]), key, "cpu", array.size)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            stride = tuple(s // obj.itemsize for s in np.ascontiguousarray(obj).strides) if obj.ndim else ()
            args = (("__storage__", obj), 0, tuple(obj.shape), stride, False, collections.OrderedDict())
            return (Global("torch._utils", "_rebuild_tensor_v2"), args)
        if isinstance(obj, Reduce):
            return (obj.func, obj.args) if obj.state is None else (obj.func, obj.args, obj.state)
        return NotImplemented


def torch_zip_bytes(obj: object, archive: str = "archive") -> bytes:
    """The bytes of a torch.save zip file holding `obj` (numpy arrays stand for tensors)."""
    data, storages = io.BytesIO(), {}
    _TorchZipPickler(data, storages).dump(obj)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(f"{archive}/data.pkl", data.getvalue())
        z.writestr(f"{archive}/byteorder", "little")
        for key, raw in storages.items():
            z.writestr(f"{archive}/data/{key}", raw)
        z.writestr(f"{archive}/version", "3\n")
    return out.getvalue()
