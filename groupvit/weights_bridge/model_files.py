"""What the backends' `from_pretrained` / `save_pretrained` read and write, for every model class.

A full GroupViT checkpoint is read through `load_checkpoint` (every format of the bridge), and
a tower class (text or vision model) takes its part of it. A tower's own checkpoint (a
config.json of model_type `groupvit_text_model` / `groupvit_vision_model`, written by a tower
model's `save_pretrained`) holds model.safetensors or pytorch_model.bin, or an index of their shards.
"""

from __future__ import annotations

import json
import os

import numpy as np

from groupvit.configs import CONFIG_NAME, GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
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


def _read_tower_weights(directory: str, lazy: bool = False) -> dict[str, np.ndarray]:
    readers = {
        "model.safetensors": lambda path: read_safetensors(path, lazy=lazy),
        "model.safetensors.index.json": lambda path: read_sharded(path, lambda s: read_safetensors(s, lazy=lazy)),
        "pytorch_model.bin": read_pytorch_bin,
        "pytorch_model.bin.index.json": lambda path: read_sharded(path, read_pytorch_bin),
    }
    for name, read in readers.items():  # transformers' order
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return read(path)
    raise FileNotFoundError(
        f"A text or vision model checkpoint directory must hold one of {list(readers)}. Received: {directory!r} "
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
        return path  # a tower's own checkpoint: model.safetensors or pytorch_model.bin (_read_tower_weights)
    order = [name for name in DIRECTORY_ORDER if use_safetensors is None
             or use_safetensors == name.startswith("safetensors")]
    if prefer_tf:
        order.sort(key=lambda name: not name.startswith("h5"))
    for name in order:
        file = os.path.join(path, FORMATS[name].file_name)
        if os.path.isfile(file):
            return file
    raise FileNotFoundError(
        f"With use_safetensors={use_safetensors!r}, a checkpoint directory must hold one of "
        f"{[FORMATS[n].file_name for n in order]}. Received: {path!r} with {sorted(os.listdir(path))[:10]}")


def auto_dtype(path: str) -> str | None:
    """`dtype="auto"`: "bfloat16" when the checkpoint's config.json says so (`dtype`, or 4.x's `torch_dtype`),
    else None (float32, the dtype every other model here computes in)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        with open(os.path.join(folder, CONFIG_NAME), encoding="utf-8") as f:
            stored = json.load(f)
    except (OSError, ValueError):
        return None
    named = stored.get("dtype") or stored.get("torch_dtype") if isinstance(stored, dict) else None
    return "bfloat16" if named == "bfloat16" else None


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
    if os.path.isdir(path) and _model_type(path) == config_class.model_type:
        return config or config_class.from_pretrained(path), _read_tower_weights(path, lazy)
    full_config, weights = load_checkpoint(path, lazy=lazy)
    part = {k: v for k, v in weights.items() if k.startswith(prefix)}
    return config or getattr(full_config, sub_name), part


def save_for_model(config: AnyConfig, weights: dict[str, np.ndarray], directory: str | os.PathLike) -> None:
    """config.json + model.safetensors, both appearing at once (temporary files, then renamed). A model
    without `num_batches_tracked` buffers (Keras) gets them as zeros, as `save_checkpoint` writes them,
    so `transformers` loads the file without reporting missing keys."""
    weights = check_weights(config, weights, "the weights to write", fill_optional=True)
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    with AtomicFiles(directory) as out:
        out.stage("model.safetensors", lambda tmp: write_safetensors(weights, tmp))
        out.stage(CONFIG_NAME, lambda tmp: _write_text(tmp, config.to_json_string()))
        out.commit()


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
