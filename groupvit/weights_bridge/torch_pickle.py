"""Reading `torch.save` files without torch and without running code from the file.

A restricted unpickler over torch's zip format (`<archive>/data.pkl`, `<archive>/data/<key>`,
`<archive>/byteorder`), and over the legacy pre-1.6 stream format (see `torch_legacy`). Only
the globals that rebuild tensors are honoured; any other global is refused by name before
anything is called. With `inert_globals=True` (the
authors' training checkpoints, which also pickle an OmegaConf config) other globals become
inert placeholder classes: nothing is imported, nothing runs, and tensors can still only
come from the rebuild records.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile
from typing import Any

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError

EXPECTED = "a PyTorch checkpoint written by torch.save (zip archive with data.pkl)"

# torch storage class name -> numpy dtype (bfloat16 is widened to float32, exactly).
STORAGE_DTYPES: dict[str, str] = {
    "FloatStorage": "f4",
    "DoubleStorage": "f8",
    "HalfStorage": "f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "ComplexFloatStorage": "c8",
    "ComplexDoubleStorage": "c16",
}


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _Storage:
    """Raw bytes of one storage, typed; tensors are strided views into it."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError(f"_rebuild_tensor_v2 needs a storage. Received: {type(storage).__name__}")
    size, stride, storage_offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    if storage_offset < 0 or min(size, default=0) < 0 or min(stride, default=0) < 0 or len(stride) != len(size):
        raise pickle.UnpicklingError(  # a negative offset or stride would make the view read outside the storage
            f"a tensor needs an offset, sizes and strides >= 0, one stride per size. Received: offset "
            f"{storage_offset}, size {size}, stride {stride}")
    data = storage.data
    numel = int(np.prod(size)) if size else 1
    contiguous = all(stride[i] == int(np.prod(size[i + 1 :])) for i in range(len(size)) if size[i] > 1)
    if contiguous:
        end = storage_offset + numel
        if end > data.size:
            raise pickle.UnpicklingError(f"tensor of {numel} elements at offset {storage_offset} overruns its storage")
        return data[storage_offset:end].reshape(size)
    last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) if numel else storage_offset
    if last >= data.size:
        raise pickle.UnpicklingError("tensor strides overrun its storage")
    # A view, not a copy: the legacy format fills storages after the tensors are unpickled.
    return np.lib.stride_tricks.as_strided(
        data[storage_offset:], shape=size, strides=[s * data.itemsize for s in stride], writeable=False
    )


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, np.ndarray):
        raise pickle.UnpicklingError(f"_rebuild_parameter needs a tensor. Received: {type(data).__name__}")
    return data


def _latin1_bytes(text, encoding="latin1"):
    """`_codecs.encode` as protocol-2 pickles use it for bytes: only str -> latin-1, no codec lookup."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode({type(text).__name__}, {encoding!r:.20})")
    return text.encode("latin-1")


def _device(kind, index=None):
    """A `torch.device` read as its string, "cpu" or "cuda:0"."""
    if not isinstance(kind, str) or not (index is None or isinstance(index, int)):
        raise pickle.UnpicklingError(f"refused torch.device({kind!r:.20}, {index!r:.20})")
    return kind if index is None else f"{kind}:{index}"


def _builtin(constructor, max_args=1):
    def build(*args):
        if len(args) > max_args:
            raise pickle.UnpicklingError(f"refused {constructor.__name__} with {len(args)} arguments")
        return constructor(*args)
    return build


# torch dtypes read as their names ("torch.float16"), as torch.load gives objects that print so.
TORCH_DTYPE_NAMES = ("float32", "float64", "float16", "bfloat16", "int64",
                     "int32", "int16", "int8", "uint8", "bool", "complex64", "complex128")

# What torch.load(weights_only=True) also reads, as plain data (tests/unit/bridge/with_torch checks the two
# agree): containers, bytes, devices, sizes and dtypes. Sparse, quantized and subclassed tensors are refused.
ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): _builtin(collections.Counter),
    ("_codecs", "encode"): _latin1_bytes,
    ("torch", "device"): _device,
    ("torch", "Size"): _builtin(tuple),
    **{(module, name): _builtin(kind) for module in ("builtins", "__builtin__")
       for name, kind in (("set", set), ("bytearray", bytearray))},
    **{(module, "complex"): _builtin(complex, 2) for module in ("builtins", "__builtin__")},
    **{("torch", name): f"torch.{name}" for name in TORCH_DTYPE_NAMES},
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


class InertObject:
    """Stands in for an object of a class the unpickler refused to import; keeps its state."""

    _global = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> "InertObject":
        obj = object.__new__(cls)
        obj.__dict__["_args"] = args
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["_state"] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__.setdefault("_items", {})[key] = value

    def append(self, value: Any) -> None:
        self.__dict__.setdefault("_list", []).append(value)

    def extend(self, values: Any) -> None:
        self.__dict__.setdefault("_list", []).extend(values)

    def __repr__(self) -> str:
        return f"<inert {self._global}>"


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict[str, "_Storage"], read_storage, inert_globals: bool) -> None:
        super().__init__(file)
        self._storages = storages
        self._read_storage = read_storage
        self._inert = inert_globals
        self.inert_seen: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        allowed = ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        qualified = f"{module}.{name}"
        if not self._inert:
            raise pickle.UnpicklingError(f"refused global {qualified} (only tensor-rebuild records are allowed)")
        self.inert_seen.append(qualified)
        return type(name, (InertObject,), {"_global": qualified, "__module__": "groupvit.inert"})

    def persistent_load(self, pid: Any) -> Any:
        # zip format: 5 fields; legacy format: a 6th, view_metadata, None for plain storages.
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage" and pid[5:] in ((), (None,))):
            raise pickle.UnpicklingError(f"refused persistent id {pid!r:.80} (only storages are allowed)")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"refused storage type {storage_type!r:.80}")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(self._read_storage(key, STORAGE_DTYPES[storage_type.name], int(numel)))
        return self._storages[key]


def load_torch_file(path: str | os.PathLike, *, inert_globals: bool = False) -> Any:
    """The unpickled object of a `torch.save` zip file, tensors as numpy arrays.

    Raises `CheckpointFormatError` naming the refused global for anything beyond tensors
    (unless `inert_globals`), and for foreign, truncated or legacy-format files.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(2)
            if head[:1] != pickle.PROTO:
                raise CheckpointFormatError(
                    path, EXPECTED, f"neither a zip archive nor a pickle (starts with {head!r})"
                )
            f.seek(0)
            from groupvit.weights_bridge.torch_legacy import load_legacy_stream

            try:
                return load_legacy_stream(
                    path, f, lambda stream, alloc: _RestrictedUnpickler(stream, {}, alloc, inert_globals)
                )
            except (EOFError, pickle.UnpicklingError, ValueError) as err:
                if isinstance(err, CheckpointFormatError):
                    raise
                raise CheckpointFormatError(
                    path, EXPECTED + " (legacy format)", f"{type(err).__name__}: {err}"
                ) from None
    try:
        with zipfile.ZipFile(path) as archive:
            return _load_archive(path, archive, inert_globals)
    except (zipfile.BadZipFile, EOFError, KeyError) as err:
        raise CheckpointFormatError(path, EXPECTED, f"a damaged or truncated archive ({err})") from None
    except pickle.UnpicklingError as err:
        raise CheckpointFormatError(path, EXPECTED + " holding only tensors", str(err)) from None


def _load_archive(path: str, archive: zipfile.ZipFile, inert_globals: bool) -> Any:
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CheckpointFormatError(
            path, EXPECTED, f"a zip archive without one <archive>/data.pkl (entries: {names[:5]})"
        )
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()
    if byteorder not in ("little", "big"):
        raise CheckpointFormatError(path, EXPECTED, f"byteorder={byteorder!r}")

    def read_storage(key: str, dtype: str, numel: int) -> np.ndarray:
        info = archive.getinfo(f"{prefix}data/{key}")
        wide = dtype == "bf16"
        item = np.dtype("u2" if wide else dtype)
        if info.file_size != numel * item.itemsize:
            raise pickle.UnpicklingError(
                f"storage {key} holds {info.file_size} bytes, expected {numel * item.itemsize}"
            )
        buffer = bytearray(info.file_size)
        with archive.open(info) as f:
            if f.readinto(buffer) != info.file_size:
                raise EOFError(f"storage {key} is truncated")
        order = "<" if byteorder == "little" else ">"
        data = np.frombuffer(buffer, dtype=item.newbyteorder(order))
        if wide:
            return (data.astype("<u4") << 16).view("<f4")
        return data if order == "<" or item.itemsize == 1 else data.astype(item.newbyteorder("="))

    unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), {}, read_storage, inert_globals)
    return unpickler.load()
