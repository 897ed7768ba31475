"""The onnxruntime contender: our PyTorch model exported with `groupvit export --format onnx`, run by
`groupvit.export.runtime.OnnxGroupViT` (onnxruntime + numpy; torch only makes the export, once).

The full graph always computes the segmentation logits, so it is timed on the `-seg` cases only; the
image and text cases run the towers (`--parts towers`). Exports are cached under benchmarks/.cache/.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Callable

from benchmarks.cases import Case
from groupvit.configs import GroupViTConfig

CACHE = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".cache")
_THREADS = {"n": 2}


def set_threads(threads: int) -> None:
    _THREADS["n"] = int(threads)


def _export(config: GroupViTConfig, seed: int, checkpoint: str | None, parts: str) -> str:
    from groupvit.export import export_checkpoint

    key = hashlib.sha1(f"{config.to_json_string()}|{seed}|{checkpoint}".encode()).hexdigest()[:12]
    out = os.path.join(CACHE, f"onnx-{parts}-{key}")
    if os.path.isdir(out):
        return out
    with tempfile.TemporaryDirectory() as tmp:
        source = checkpoint
        if source is None:
            from groupvit.random_checkpoint import random_weights
            from groupvit.weights_bridge import save_checkpoint

            source = os.path.join(tmp, "random")
            save_checkpoint(config, random_weights(config, seed), source)
        return export_checkpoint(source, out, format="onnx", parts=parts)


def build_model(contender: str, config: GroupViTConfig, seed: int, checkpoint: str | None = None):
    from groupvit.export.runtime import OnnxGroupViT

    if contender != "ours-onnx":
        raise ValueError(f"Not an onnxruntime contender. Received: contender={contender!r}")
    return {parts: OnnxGroupViT(_export(config, seed, checkpoint, parts), threads=_THREADS["n"])
            for parts in ("full", "towers")}


def runner(contender: str, model, case: Case, config: GroupViTConfig) -> Callable[[], object]:
    inputs = case.inputs(config)
    if case.kind == "model" and case.segmentation:
        return lambda: model["full"](**inputs)
    if case.kind == "image_features":
        return lambda: model["towers"].get_image_features(inputs["pixel_values"])
    if case.kind == "text_features":
        return lambda: model["towers"].get_text_features(inputs["input_ids"], inputs["attention_mask"])
    raise ValueError(f"ours-onnx runs the -seg model cases (its full graph always computes the segmentation "
                     f"logits) and the image/text feature cases. Received: case={case.name!r}")


def framework_info() -> dict[str, str]:
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__, "threads": str(_THREADS["n"])}
