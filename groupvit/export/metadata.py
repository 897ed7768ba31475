"""The export folder: request checks, the all-or-nothing write, and `export.json` (read back checked).

Framework-free: the ONNX runtime side reads `export.json` without torch or TensorFlow.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from typing import Any, Callable

import numpy as np

from groupvit.configs import GroupViTConfig

EXPORT_NAME = "export.json"
EXPORT_FORMAT = "groupvit-export"
EXPORT_VERSION = 1
FORMATS = ("onnx", "saved-model", "torch-export")
PARTS = ("full", "towers")
COPIED_FILES = ("tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
                "segmentation_defaults.json")
FULL_INPUTS = ("pixel_values", "input_ids", "attention_mask")
FULL_OUTPUTS = ("logits_per_image", "logits_per_text", "text_embeds", "image_embeds", "segmentation_logits")
TEXT_INPUTS = ("input_ids", "attention_mask")
TEXT_OUTPUTS = ("text_features",)


def image_outputs(config: GroupViTConfig) -> tuple[str, ...]:
    """The image tower's outputs: pooled and per-group projected features, one soft map per grouping stage."""
    stages = sum(1 for g in config.vision_config.num_group_tokens if g > 0)
    return ("image_features", "group_features", *(f"soft_maps_stage{k}" for k in range(stages)))


Writer = Callable[..., dict[str, Any]]


def check_request(format: str, parts: str, opset: int | None) -> None:
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}. Received: format={format!r}")
    if parts not in PARTS:
        raise ValueError(f"parts must be one of {list(PARTS)}. Received: parts={parts!r}")
    if opset is not None and (format != "onnx" or not isinstance(opset, int) or not 17 <= opset <= 23):
        raise ValueError(f"opset applies to format 'onnx' and must be an integer in [17, 23]. "
                         f"Received: format={format!r}, opset={opset!r}")
    if format == "torch-export" and parts != "full":
        raise ValueError(f"torch-export writes the full graph: parts must be 'full'. Received: parts={parts!r}")
    if format == "saved-model" and parts != "full":  # it was accepted and recorded, and the same archive written
        raise ValueError(f"saved-model writes one archive with the signatures image_features, text_features and "
                         f"segment (the towers included): parts must be 'full'. Received: parts={parts!r}")


def load_source(checkpoint,
                config: str | os.PathLike | None = None) -> tuple[str, GroupViTConfig, dict[str, np.ndarray]]:
    """(resolved path, config, numpy weights) of any checkpoint the weight bridge reads; `config` a config.json
    for a weight file without one beside it."""
    from groupvit.keras_format import ensure_keras_format
    from groupvit.pretrained import resolve_checkpoint
    from groupvit.weights_bridge import load_checkpoint

    path = resolve_checkpoint(checkpoint)
    if not os.path.exists(path):
        raise FileNotFoundError(f"The checkpoint must exist. Received: checkpoint={os.fspath(checkpoint)!r}")
    if is_export(path):
        raise ValueError(f"The checkpoint to export must hold weights, not be an export. Received: {path!r}")
    ensure_keras_format(path)
    loaded, weights = load_checkpoint(path, os.fspath(config) if config is not None else None)
    return path, loaded, weights


def trace_size(config: GroupViTConfig, image_size: int | None) -> tuple[int, int]:
    """The (H, W) the graphs are traced at: `image_size` square, else the config's own size (its whole patches:
    an exported graph takes multiples of the patch)."""
    vision = config.vision_config
    ph, pw = vision.patch_hw
    if image_size is None:
        h, w = vision.image_hw
        return h // ph * ph, w // pw * pw
    if not isinstance(image_size, int) or image_size <= 0 or image_size % ph or image_size % pw:
        raise ValueError(f"image_size must be a positive multiple of the patch size {ph}x{pw}. "
                         f"Received: image_size={image_size!r}")
    return image_size, image_size


def write_export(out, source: str, config: GroupViTConfig, weights: dict[str, np.ndarray], *, format: str,
                 parts: str, opset: int | None, size: tuple[int, int], writer: Writer) -> str:
    """Build the folder beside `out`, rename it into place; `writer(folder, config, weights, parts=, opset=,
    size=)` writes the graphs and returns their description (files, inputs, outputs, dynamic axes)."""
    from groupvit.weights_bridge.atomic import staged_folder

    out = os.path.abspath(os.fspath(out))
    source_abs = os.path.abspath(source)
    if out == source_abs or source_abs.startswith(out + os.sep):
        raise ValueError(f"OUT must be a new folder, not the checkpoint or a folder holding it. Received: {out!r}")
    folder_of_source = source_abs if os.path.isdir(source_abs) else os.path.dirname(source_abs)
    with staged_folder(out) as folder:
        described = writer(folder, config, weights, parts=parts, opset=opset, size=size)
        config.save_pretrained(folder)
        for name in COPIED_FILES:
            if os.path.isfile(os.path.join(folder_of_source, name)):
                shutil.copyfile(os.path.join(folder_of_source, name), os.path.join(folder, name))
        record = {
            "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "kind": format, "parts": parts,
            "source": source_abs, "logit_scale": float(np.asarray(weights["logit_scale"]).reshape(-1)[0]),
            "trace_size": list(size), "patch_size": list(config.vision_config.patch_hw), **described,
        }
        with open(os.path.join(folder, EXPORT_NAME), "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
    return out


def is_export(path: str | os.PathLike) -> bool:
    path = os.fspath(path)
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, EXPORT_NAME))


def read_export(folder: str | os.PathLike) -> dict[str, Any]:
    """`export.json` of an export folder, checked: format, version, kind, parts, files present."""
    folder = os.fspath(folder)
    path = os.path.join(folder, EXPORT_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"An exported model folder must hold {EXPORT_NAME} (written by groupvit export). "
                                f"Received: {folder!r}")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} must be a JSON object. Received: unreadable ({err})") from None
    if not isinstance(record, dict) or record.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{path} must have format {EXPORT_FORMAT!r}. "
                         f"Received: {record.get('format') if isinstance(record, dict) else type(record).__name__!r}")
    if record.get("version") != EXPORT_VERSION or record.get("kind") not in FORMATS or record.get("parts") not in PARTS:
        raise ValueError(f"{path} must have version {EXPORT_VERSION}, kind in {list(FORMATS)}, parts in "
                         f"{list(PARTS)}. Received: version={record.get('version')!r}, kind={record.get('kind')!r}, "
                         f"parts={record.get('parts')!r}")
    scale = record.get("logit_scale")
    if not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise ValueError(f"{path} must record a finite logit_scale. Received: {scale!r}")
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        raise ValueError(f"{path} must list its graph files. Received: files={files!r}")
    missing = [name for name in files.values() if not os.path.exists(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(f"Every file listed in {path} must exist. Received: missing {missing}")
    return record
