"""`load_checkpoint` / `save_checkpoint`: any checkpoint format <-> config + canonical numpy weights."""

from __future__ import annotations

import json
import os
from typing import Callable

import numpy as np

from groupvit.configs import CONFIG_NAME, GroupViTConfig
from groupvit.pretrained import resolve_checkpoint
from groupvit.weights_bridge.atomic import AtomicFiles
from groupvit.weights_bridge.formats import FORMATS, WRITABLE, Format, format_in_directory, format_of_file
from groupvit.weights_bridge.strict import check_weights

Progress = Callable[[int], None]
ConfigArg = GroupViTConfig | str | os.PathLike | None


def locate(path: str | os.PathLike) -> tuple[Format, str]:
    """(format, weight file) of a checkpoint directory, a weight file or a shipped model's name."""
    path = resolve_checkpoint(path)
    if os.path.isdir(path):
        return format_in_directory(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"A checkpoint must be a directory or a weight file. Received: {path!r} (not found)")
    return format_of_file(path), path


def resolve_config(config: ConfigArg, weight_file: str, fmt: Format) -> tuple[GroupViTConfig, str | None]:
    """(config, the config.json it came from or None): explicit, else beside the weights, else default (.pth)."""
    if isinstance(config, GroupViTConfig):
        return config, None
    if config is not None:
        if not isinstance(config, (str, os.PathLike)):
            raise TypeError(
                "config must be a GroupViTConfig or a path to config.json. "
                f"Received: config of type {type(config).__name__}"
            )
        file = os.fspath(config)
        file = os.path.join(file, CONFIG_NAME) if os.path.isdir(file) else file
        return _read_config(file), file
    beside = os.path.join(os.path.dirname(os.path.abspath(weight_file)), CONFIG_NAME)
    if os.path.isfile(beside):
        return _read_config(beside), beside
    if not fmt.needs_config_json:
        return GroupViTConfig(), None
    raise FileNotFoundError(
        f"Reading {weight_file!r} needs a config: pass config= (a GroupViTConfig or a config.json path; --config "
        "on the command line) "
        f"or put {CONFIG_NAME} beside it. Received: no {beside!r}"
    )


def _read_config(file: str) -> GroupViTConfig:
    """A full-model config.json; tower-only files (text or vision model) are refused by name."""
    if os.path.isfile(file):
        with open(file, encoding="utf-8") as f:
            try:
                model_type = json.load(f).get("model_type", GroupViTConfig.model_type)
            except (json.JSONDecodeError, AttributeError, UnicodeDecodeError):
                model_type = GroupViTConfig.model_type  # from_pretrained reports the parse error
        if model_type != GroupViTConfig.model_type:
            raise ValueError(
                f"The weight bridge reads full GroupViT checkpoints: {file} must have model_type "
                f"{GroupViTConfig.model_type!r}. Received: model_type={model_type!r}"
            )
    return GroupViTConfig.from_pretrained(file)


def load_checkpoint(
    path: str | os.PathLike, config: ConfigArg = None, progress: Progress | None = None, *,
    revision: str | None = None, cache_dir: str | os.PathLike | None = None, local_files_only: bool | None = None,
    lazy: bool = False,
) -> tuple[GroupViTConfig, dict[str, np.ndarray]]:
    """Reads any supported checkpoint into (config, {PyTorch key: numpy array in PyTorch layout}).

    `path`: a checkpoint directory (config.json and one of model.safetensors,
    pytorch_model.bin, tf_model.h5, model.weights.h5 or a single *.pth) or a weight file.
    `config`: a GroupViTConfig or a path to config.json; by default the config.json beside
    the weights (the authors' .pth files carry none: the default config is used).
    Strict: every key of `expected_shapes(config)` is filled once, nothing else is accepted
    (but `text_model.embeddings.position_ids`); one error lists every problem.
    A shipped model's name or a hub id (`org/name`: `revision`, `cache_dir`, `local_files_only`) works too.
    `lazy=True`: a format that can (safetensors) gives values that are read when converted with
    `np.asarray` (shapes and dtypes known, and checked, at once), so a loader that casts each
    tensor as it arrives holds one tensor of the file's dtype at a time; other formats read eagerly.
    """
    path = resolve_checkpoint(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
    fmt, weight_file = locate(path)
    config, _ = resolve_config(config, weight_file, fmt)
    read = fmt.read_lazy if lazy and fmt.read_lazy is not None else fmt.read
    return config, read(weight_file, config, progress)


def output_plan(path: str | os.PathLike, format: str | None) -> tuple[str, str, bool]:
    """(folder, weight file name, is_directory) for a destination and an optional format name."""
    path = os.fspath(path)
    if format is not None and format not in WRITABLE:
        raise ValueError(f"format must be one of {list(WRITABLE)}. Received: format={format!r}")
    if not os.path.isdir(path):
        try:
            fmt = format_of_file(path)
        except ValueError:
            fmt = None
        if fmt is not None:
            if format is not None and fmt.name != format:
                raise ValueError(
                    f"The file name's ending must match the format. Received: path={path!r}, format={format!r}"
                )
            if fmt.write is None:
                raise ValueError(f"format must be one of {list(WRITABLE)}. Received: a {fmt.name} file name {path!r}")
            return os.path.dirname(os.path.abspath(path)), os.path.basename(path), False
    if os.path.exists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"A destination must be a folder, or a weight file named for its format (model.safetensors, tf_model.h5, "
            f"...). Received: {path!r}, an existing file whose name announces no weight format")
    fmt = FORMATS[format or "safetensors"]
    return os.path.abspath(path), fmt.file_name, True


def save_checkpoint(
    config: GroupViTConfig,
    weights: dict[str, np.ndarray],
    path: str | os.PathLike,
    format: str | None = None,
    *,
    overwrite: bool = True,
    progress: Progress | None = None,
) -> list[str]:
    """Writes `weights` as a checkpoint directory (config.json + weight file) or a single weight file.

    `format`: one of "safetensors" (default), "h5" (old Keras 2 port), "keras" (our Keras 3
    model's weights); a file path's ending picks it when omitted. Weights are checked
    against `config` before anything is written; files appear all at once or not at all.
    Returns the paths written.
    """
    folder, file_name, is_dir = output_plan(path, format)
    fmt = format_of_file(file_name)
    weights = check_weights(config, weights, "the weights to write", fill_optional=True)
    finals = [file_name] + ([CONFIG_NAME] if is_dir else [])
    existing = [os.path.join(folder, n) for n in finals if os.path.exists(os.path.join(folder, n))]
    if existing and not overwrite:
        raise FileExistsError(f"The destination files must not exist (pass overwrite=True). Received: {existing}")
    with AtomicFiles(folder) as out:
        out.stage(file_name, lambda tmp: fmt.write(config, weights, tmp, progress))
        if is_dir:
            out.stage(CONFIG_NAME, lambda tmp: _write_text(tmp, config.to_json_string()))
        return out.commit()


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
