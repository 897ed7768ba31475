"""The checkpoint formats: file names, how each is recognised, read and written."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.errors import CheckpointFormatError
from groupvit.weights_bridge.keras2_h5 import (
    from_tf_names,
    read_keras2_h5,
    read_keras2_h5_shard,
    tf_path,
    write_keras2_h5,
)
from groupvit.weights_bridge.nvlabs_pth import read_nvlabs_pth
from groupvit.weights_bridge.pytorch_bin import read_pytorch_bin
from groupvit.weights_bridge.safetensors_io import read_metadata, read_safetensors, write_safetensors
from groupvit.weights_bridge.sharded import read_sharded
from groupvit.weights_bridge.strict import check_weights

Progress = Callable[[int], None]
Reader = Callable[[str, GroupViTConfig, "Progress | None"], dict[str, np.ndarray]]
Writer = Callable[[GroupViTConfig, dict[str, np.ndarray], str, "Progress | None"], None]


@dataclass(frozen=True)
class Format:
    """One checkpoint format: its file name in a checkpoint directory, reader and writer."""

    name: str
    file_name: str
    suffix: str
    read: Reader
    write: Writer | None
    needs_config_json: bool = True
    read_lazy: Reader | None = None  # values read when converted (safetensors_io.StoredArray)


def _read_safetensors(path: str, config: GroupViTConfig, progress: Progress | None) -> dict[str, np.ndarray]:
    return _safetensors_weights(path, config, progress, lazy=False)


def _read_safetensors_lazy(path: str, config: GroupViTConfig, progress: Progress | None) -> dict:
    return _safetensors_weights(path, config, progress, lazy=True)


def _safetensors_weights(path: str, config: GroupViTConfig, progress: Progress | None, lazy: bool) -> dict:
    """PyTorch names, or the old TensorFlow port's (its `save_pretrained(safe_serialization=True)`,
    metadata `format: tf`), read lazily or not."""
    weights = read_safetensors(path, lazy=lazy)
    if _stored_format(path) == "tf":
        return from_tf_names(weights, config, path, progress)
    return check_weights(config, weights, path, fill_optional=True)


def _stored_format(path: str) -> str:
    stored = read_metadata(path).get("format", "pt")
    if stored not in ("pt", "tf"):
        raise CheckpointFormatError(path, 'a safetensors file of PyTorch ("format": "pt") or TensorFlow ("tf") '
                                          'weights', f"metadata format {stored!r}")
    return stored


def _same_name(name: str) -> str:
    return tf_path(name) or name


def read_safetensors_shards(path: str, lazy: bool = False) -> tuple[dict, str]:
    """The weights of a sharded safetensors index (names as stored) and the one format, "pt" or "tf", that all its
    shards store (a full model's reader and a tower's share this)."""
    formats: dict[str, str] = {}

    def shard(file: str) -> dict:
        formats[os.path.basename(file)] = _stored_format(file)
        return read_safetensors(file, lazy=lazy)

    weights = read_sharded(path, shard, _same_name)
    if len(set(formats.values())) > 1:
        raise CheckpointFormatError(path, "an index of shards that all hold PyTorch or all TensorFlow weights",
                                    f"metadata formats {formats}")
    return weights, next(iter(formats.values()), "pt")


def read_h5_shards(path: str) -> dict[str, np.ndarray]:
    """The TensorFlow-named weights of the old Keras 2 port's sharded `tf_model.h5.index.json`."""
    return read_sharded(path, read_keras2_h5_shard, _same_name)


def _read_safetensors_index(path: str, config: GroupViTConfig, progress: Progress | None,
                            lazy: bool = False) -> dict:
    weights, stored = read_safetensors_shards(path, lazy)
    if stored == "tf":
        return from_tf_names(weights, config, path, progress)
    return check_weights(config, weights, path, fill_optional=True)


def _read_bin(path: str, config: GroupViTConfig, progress: Progress | None) -> dict[str, np.ndarray]:
    return check_weights(config, read_pytorch_bin(path), path, fill_optional=True)


def _read_bin_index(path: str, config: GroupViTConfig, progress: Progress | None) -> dict[str, np.ndarray]:
    return check_weights(config, read_sharded(path, read_pytorch_bin), path, fill_optional=True)


def _read_h5_index(path: str, config: GroupViTConfig, progress: Progress | None) -> dict[str, np.ndarray]:
    return from_tf_names(read_h5_shards(path), config, path, progress)


def _write_safetensors(
    config: GroupViTConfig, weights: dict[str, np.ndarray], path: str, progress: Progress | None
) -> None:
    write_safetensors(check_weights(config, weights, "the weights to write", fill_optional=True), path)


# The keras format needs our Keras model; the bridge imports no backend, so groupvit.tf supplies it.
_KERAS_IO: dict[str, Callable] = {}


def register_keras_io(read: Callable, write: Callable) -> None:
    """Called by groupvit.tf when it is imported: `read(path, config)`, `write(config, weights, path)`."""
    _KERAS_IO.update(read=read, write=write)


def _keras_io(kind: str) -> Callable:
    if kind not in _KERAS_IO:
        raise ValueError(
            "The keras format (model.weights.h5, our Keras 3 model's save_weights) is read and written by "
            "groupvit.tf: import groupvit.tf first (Keras 3 with TensorFlow installed). Received: groupvit.tf "
            "not imported")
    return _KERAS_IO[kind]


FORMATS: dict[str, Format] = {
    "safetensors": Format("safetensors", "model.safetensors", ".safetensors", _read_safetensors, _write_safetensors,
                          read_lazy=_read_safetensors_lazy),
    "bin": Format("bin", "pytorch_model.bin", ".bin", _read_bin, None),
    "h5": Format("h5", "tf_model.h5", ".h5", read_keras2_h5, write_keras2_h5),
    # transformers' save_pretrained(max_shard_size=...): an index and its shards (read only)
    "safetensors-sharded": Format("safetensors-sharded", "model.safetensors.index.json", ".safetensors.index.json",
                                  _read_safetensors_index, None,
                                  read_lazy=lambda path, config, progress: _read_safetensors_index(
                                      path, config, progress, lazy=True)),
    "bin-sharded": Format("bin-sharded", "pytorch_model.bin.index.json", ".bin.index.json", _read_bin_index, None),
    "h5-sharded": Format("h5-sharded", "tf_model.h5.index.json", ".h5.index.json", _read_h5_index, None),
    "keras": Format(
        "keras",
        "model.weights.h5",
        ".weights.h5",
        lambda path, config, progress: _keras_io("read")(path, config),
        lambda config, weights, path, progress: _keras_io("write")(config, weights, path),
    ),
    "pth": Format("pth", "", ".pth", lambda path, config, progress: read_nvlabs_pth(path, config), None, False),
}
WRITABLE = tuple(name for name, f in FORMATS.items() if f.write is not None)
# Looked for in a checkpoint directory, first found wins (a single file before an index, as transformers).
DIRECTORY_ORDER = ("safetensors", "safetensors-sharded", "bin", "bin-sharded", "h5", "h5-sharded", "keras")


def format_of_file(path: str | os.PathLike) -> Format:
    """The format a weight file's name announces (`.weights.h5` before `.h5`)."""
    name = os.path.basename(os.fspath(path))
    for fmt in sorted(FORMATS.values(), key=lambda f: -len(f.suffix)):
        if name.endswith(fmt.suffix):
            return fmt
    suffixes = sorted({f.suffix for f in FORMATS.values()})
    raise ValueError(f"A weight file's name must end in one of {suffixes}. Received: {os.fspath(path)!r}")


def format_in_directory(directory: str) -> tuple[Format, str]:
    """The weight file of a checkpoint directory (and its format)."""
    for name in DIRECTORY_ORDER:
        path = os.path.join(directory, FORMATS[name].file_name)
        if os.path.isfile(path):
            return FORMATS[name], path
    pth = sorted(f for f in os.listdir(directory) if f.endswith(".pth"))
    if len(pth) == 1:
        return FORMATS["pth"], os.path.join(directory, pth[0])
    names = [FORMATS[n].file_name for n in DIRECTORY_ORDER] + ["one *.pth"]
    raise FileNotFoundError(
        f"A checkpoint directory must hold one of {names}. "
        f"Received: {directory!r} with {sorted(os.listdir(directory))[:10]}"
    )
