"""What the backends' `from_pretrained` / `save_pretrained` read and write, for every model class.

A full GroupViT checkpoint is read through `load_checkpoint` (every format of the bridge), and
a tower class (text or vision model) takes its part of it. A tower's own checkpoint (a
config.json of model_type `groupvit_text_model` / `groupvit_vision_model`, written by a tower
model's `save_pretrained` in either port) holds model.safetensors (PyTorch or TensorFlow names),
pytorch_model.bin or tf_model.h5, or an index of their shards, read in that order unless `from_tf` /
`use_safetensors` choose otherwise, as for a full checkpoint.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import numpy as np

from groupvit.configs import CONFIG_NAME, GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.configs._base import ALIASES, COMMON_FIELDS
from groupvit.pretrained import resolve_checkpoint
from groupvit.weights_bridge.atomic import AtomicFiles
from groupvit.weights_bridge.checkpoint import load_checkpoint
from groupvit.weights_bridge.formats import DIRECTORY_ORDER, FORMATS
from groupvit.weights_bridge.pytorch_bin import read_pytorch_bin
from groupvit.weights_bridge.safetensors_io import read_safetensors, write_safetensors
from groupvit.weights_bridge.sharded import read_sharded
from groupvit.weights_bridge.strict import check_weights

AnyConfig = GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig
TOWERS = {GroupViTTextConfig: ("text_config", "text_model."), GroupViTVisionConfig: ("vision_config", "vision_model.")}


def _model_type(directory: str) -> str | None:
    file = os.path.join(directory, CONFIG_NAME)
    if not os.path.isfile(file):
        return None
    with open(file, encoding="utf-8") as f:
        try:
            return json.load(f).get("model_type")
        except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
            return None  # GroupViTConfig.from_pretrained reports the parse error


# a tower's own weight files, in transformers' order
TOWER_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
               "tf_model.h5", "tf_model.h5.index.json")


def _read_tower_weights(directory: str, config: GroupViTTextConfig | GroupViTVisionConfig,
                        lazy: bool = False, order: tuple[str, ...] = TOWER_FILES) -> dict[str, np.ndarray]:
    """PyTorch-named weights of a tower's own checkpoint: PyTorch files as transformers writes them, or the old Keras
    2 port's (its tower model's `tf_model.h5`, sharded or not, or safetensors of TensorFlow names); the first of
    `order` the folder holds."""
    from groupvit.weights_bridge.formats import _stored_format, read_h5_shards, read_safetensors_shards
    from groupvit.weights_bridge.keras2_h5 import from_tf_names, read_keras2_h5

    sub_name, prefix = TOWERS[type(config)]
    full = GroupViTConfig(**{sub_name: config.to_dict()})  # the other tower's part is not read

    def safetensors(path: str) -> dict[str, np.ndarray]:
        weights = read_safetensors(path, lazy=lazy)
        return from_tf_names(weights, full, path, prefix=prefix) if _stored_format(path) == "tf" else weights

    def safetensors_shards(path: str) -> dict[str, np.ndarray]:
        weights, stored = read_safetensors_shards(path, lazy)
        return from_tf_names(weights, full, path, prefix=prefix) if stored == "tf" else weights

    readers = {
        "model.safetensors": safetensors,
        "model.safetensors.index.json": safetensors_shards,
        "pytorch_model.bin": read_pytorch_bin,
        "pytorch_model.bin.index.json": lambda path: read_sharded(path, read_pytorch_bin),
        "tf_model.h5": lambda path: read_keras2_h5(path, full, prefix=prefix),
        "tf_model.h5.index.json": lambda path: from_tf_names(read_h5_shards(path), full, path, prefix=prefix),
    }
    for name in order:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return readers[name](path)
    raise FileNotFoundError(
        f"A text or vision model checkpoint directory must hold one of {list(order)}. Received: {directory!r} "
        f"with {sorted(os.listdir(directory))[:10]}"
    )


# What from_pretrained reports with output_loading_info=True: loading is strict, so all stay empty (a problem is
# an error listing every missing, unexpected and mis-shaped key instead).
EMPTY_LOADING_INFO = ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")


def loading_info() -> dict[str, list]:
    return {name: [] for name in EMPTY_LOADING_INFO}


def pick_weights(path: str, *, subfolder: str = "", prefer_tf: bool = False,
                 use_safetensors: bool | None = None) -> str:
    """The folder or weight file `from_pretrained` reads, after transformers' arguments: `subfolder` inside
    `path`; `prefer_tf` (PyTorch's `from_tf=True`) reads the Keras 2 port's tf_model.h5 first when the folder
    also holds other weights; `use_safetensors` True reads only safetensors, False anything but safetensors.
    Without them the folder's own order applies (safetensors, pytorch_model.bin, tf_model.h5, ...)."""
    if subfolder:
        if os.path.isabs(subfolder) or ".." in subfolder.replace("\\", "/").split("/"):
            raise ValueError(f"subfolder must be a relative path inside the checkpoint. Received: {subfolder!r}")
        path = os.path.join(path, subfolder)
    if not os.path.isdir(path) or (not prefer_tf and use_safetensors is None):
        return path
    if _model_type(path) in (GroupViTTextConfig.model_type, GroupViTVisionConfig.model_type):
        names = [n for n in TOWER_FILES if use_safetensors is None or use_safetensors == n.startswith("model.safe")]
    else:
        names = [FORMATS[n].file_name for n in DIRECTORY_ORDER if use_safetensors is None
                 or use_safetensors == n.startswith("safetensors")]
    if prefer_tf:
        names.sort(key=lambda name: not name.startswith("tf_model.h5"))
    for name in names:
        file = os.path.join(path, name)
        if os.path.isfile(file):
            return file
    raise FileNotFoundError(
        f"With use_safetensors={use_safetensors!r}, a checkpoint directory must hold one of {names}. "
        f"Received: {path!r} with {sorted(os.listdir(path))[:10]}")


def config_overrides(config_class: type, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the keyword arguments of a from_pretrained call that name config fields, the others), as transformers
    passes the first to the config (`from_pretrained(path, output_segmentation=True)`)."""
    # dtype is a loading option (PyTorch's cast, Keras' dtype policy), not a config field to set
    fields = (set(config_class._defaults) | set(COMMON_FIELDS) | set(ALIASES)) - {"dtype", "torch_dtype"}
    return ({k: v for k, v in kwargs.items() if k in fields}, {k: v for k, v in kwargs.items() if k not in fields})


def apply_overrides(config: AnyConfig, overrides: dict[str, Any]) -> AnyConfig:
    """The config with `overrides` set, validated as a new config would be."""
    return type(config).from_dict(config.to_dict(), **overrides) if overrides else config


def check_loading_options(ignore_mismatched_sizes: bool = False, attn_implementation: str | None = None) -> None:
    """The ports' loading options this library takes as they are: loading is strict, attention picks its kernel."""
    if ignore_mismatched_sizes:
        raise ValueError("ignore_mismatched_sizes must be False: loading is strict (one error lists every missing, "
                         "unexpected and mis-shaped weight). Received: True")
    if attn_implementation not in (None, "eager", "sdpa"):
        raise ValueError(f"attn_implementation must be None, 'eager' or 'sdpa' (both compute the same attention "
                         f"here). Received: {attn_implementation!r}")


def auto_dtype(path: str) -> str | None:
    """`dtype="auto"`: "bfloat16" or "float16" when the checkpoint's config.json says so (`dtype`, or 4.x's
    `torch_dtype`), else None (float32)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        with open(os.path.join(folder, CONFIG_NAME), encoding="utf-8") as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return None
    named = stored.get("dtype") or stored.get("torch_dtype") if isinstance(stored, dict) else None
    return named if named in ("bfloat16", "float16") else None


def locate_for_model(path: str | os.PathLike, *, revision: str | None = None,
                     cache_dir: str | os.PathLike | None = None, local_files_only: bool | None = None,
                     token: str | bool | None = None, force_download: bool = False, subfolder: str = "",
                     prefer_tf: bool = False, use_safetensors: bool | None = None) -> str:
    """The folder or weight file a `from_pretrained` call reads: a shipped name or hub id resolved, then
    transformers' `subfolder`, `from_tf` and `use_safetensors` applied (pick_weights)."""
    path = resolve_checkpoint(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                              token=token, force_download=force_download)
    return pick_weights(path, subfolder=subfolder, prefer_tf=prefer_tf, use_safetensors=use_safetensors)


def load_with_overrides(path: str, config_class: type, config: AnyConfig | None, overrides: dict[str, Any], *,
                        lazy: bool = False) -> tuple[AnyConfig, dict[str, np.ndarray]]:
    """load_for_model, then the config fields a from_pretrained call set (validated as a new config)."""
    config, weights = load_for_model(path, config_class, config, lazy=lazy)
    return apply_overrides(config, overrides), weights


def load_for_model(
    path: str | os.PathLike, config_class: type, config: AnyConfig | None = None, *, lazy: bool = False
) -> tuple[AnyConfig, dict[str, np.ndarray]]:
    """(config, numpy weights in PyTorch names) for a model built from `config_class`.

    The weights are not yet checked against the config: the model's strict loader does that
    and lists every missing, unexpected and mis-shaped key. `lazy`: as `load_checkpoint`'s.
    """
    path = resolve_checkpoint(path)
    if config_class is GroupViTConfig:
        return load_checkpoint(path, config=config, lazy=lazy)
    sub_name, prefix = TOWERS[config_class]
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    if _model_type(folder) == config_class.model_type:  # the folder, or one weight file of it (pick_weights)
        if folder != path and os.path.basename(path) not in TOWER_FILES:
            raise FileNotFoundError(f"A text or vision model's own weight file must be one of {list(TOWER_FILES)}. "
                                    f"Received: {path!r}")
        config = config or config_class.from_pretrained(folder)
        order = TOWER_FILES if folder == path else (os.path.basename(path),)
        return config, _read_tower_weights(folder, config, lazy, order)
    full_config, weights = load_checkpoint(path, lazy=lazy)
    part = {k: v for k, v in weights.items() if k.startswith(prefix)}
    return config or getattr(full_config, sub_name), part


def save_for_model(config: AnyConfig, weights: dict[str, np.ndarray], directory: str | os.PathLike, *,
                   max_shard_size: int | str | None = None, keras2_h5: bool = False) -> None:
    """config.json + model.safetensors, all appearing at once (temporary files, then renamed). A model
    without `num_batches_tracked` buffers (Keras) gets them as zeros, as `save_checkpoint` writes them,
    so `transformers` loads the file without reporting missing keys.

    `max_shard_size` (bytes, or "500MB" / "2GiB" as transformers spells it): shards of at most that size
    (a larger tensor alone in its shard) and `model.safetensors.index.json`, as transformers' save_pretrained
    writes them. `keras2_h5`: the old Keras 2 port's `tf_model.h5` instead (a full GroupViT model only).
    Safetensors weights of the other layout left in the folder (a single file beside new shards, which would
    be read instead, or old shards), are removed, as transformers does."""
    weights = check_weights(config, weights, "the weights to write", fill_optional=True)
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    if keras2_h5:
        if not isinstance(config, GroupViTConfig):
            raise ValueError(f"tf_model.h5 (safe_serialization=False) is written for a full GroupViT model. "
                             f"Received: a {type(config).__name__}")
        from groupvit.weights_bridge.keras2_h5 import write_keras2_h5

        first = [FORMATS[n].file_name for n in DIRECTORY_ORDER[:DIRECTORY_ORDER.index("h5")]
                 if os.path.isfile(os.path.join(directory, FORMATS[n].file_name))]
        if first:
            raise FileExistsError(f"A folder written as tf_model.h5 must not hold weights that are read before it. "
                                  f"Received: {directory!r} with {first}; remove them or choose another folder")
        files = {"tf_model.h5": lambda tmp: write_keras2_h5(config, weights, tmp)}
    else:
        files = safetensors_files(weights, max_shard_size)
    with AtomicFiles(directory) as out:
        for name, write in files.items():
            out.stage(name, write)
        out.stage(CONFIG_NAME, lambda tmp: _write_text(tmp, config.to_json_string()))
        out.commit()
    if not keras2_h5:
        for stale in _shadowing_files(directory, set(files)):
            os.remove(os.path.join(directory, stale))


SHARD_NAME = re.compile(r"^model-\d+-of-\d+\.safetensors$")
SIZE_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30}


def shard_bytes(max_shard_size: int | str) -> int:
    """Bytes of `max_shard_size`: an int, or digits and a unit as transformers reads them ("5GB" = 5 * 10**9,
    "5GiB" = 5 * 2**30)."""
    if isinstance(max_shard_size, int) and not isinstance(max_shard_size, bool) and max_shard_size > 0:
        return max_shard_size
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*", str(max_shard_size))
    if isinstance(max_shard_size, str) and match and match.group(2).upper() in SIZE_UNITS and float(match.group(1)):
        return int(float(match.group(1)) * SIZE_UNITS[match.group(2).upper()])
    raise ValueError(f"max_shard_size must be a positive number of bytes or a size such as '500MB' or '2GiB'. "
                     f"Received: {max_shard_size!r}")


def safetensors_files(weights: dict[str, np.ndarray], max_shard_size: int | str | None) -> dict:
    """{file name: writer} of `weights` as one model.safetensors or, past `max_shard_size`, shards + index."""
    if max_shard_size is None:
        return {"model.safetensors": lambda tmp: write_safetensors(weights, tmp)}
    limit, shards, size = shard_bytes(max_shard_size), [[]], 0
    for key, value in weights.items():  # in order, a new shard when the next tensor would not fit
        nbytes = np.asarray(value).nbytes
        if shards[-1] and size + nbytes > limit:
            shards.append([])
            size = 0
        shards[-1].append(key)
        size += nbytes
    if len(shards) == 1:
        return {"model.safetensors": lambda tmp: write_safetensors(weights, tmp)}
    names = [f"model-{i:05d}-of-{len(shards):05d}.safetensors" for i in range(1, len(shards) + 1)]
    files = {name: (lambda tmp, keys=keys: write_safetensors({k: weights[k] for k in keys}, tmp))
             for name, keys in zip(names, shards)}
    index = {"metadata": {"total_size": int(sum(np.asarray(v).nbytes for v in weights.values()))},
             "weight_map": {key: name for name, keys in zip(names, shards) for key in keys}}
    files["model.safetensors.index.json"] = lambda tmp: _write_text(tmp, json.dumps(index, indent=2) + "\n")
    return files


def _shadowing_files(directory: str, written: set[str]) -> list[str]:
    """Weight files of the folder not just written that a loader would read or mix in: the single file beside
    new shards (it would win), an old index and shards beside a new single file or new shards."""
    names = set(os.listdir(directory)) - written
    stale = [n for n in names if SHARD_NAME.match(n) or n == "model.safetensors.index.json"]
    if "model.safetensors" in names and "model.safetensors" not in written:
        stale.append("model.safetensors")
    return sorted(stale)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
