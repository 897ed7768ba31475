"""Run an ONNX export with onnxruntime and numpy alone (no torch, no TensorFlow).

`OnnxGroupViT(folder)` reads `export.json`, `config.json` and the graphs of `groupvit export --format onnx`.
With `--parts towers` it offers what `Segmenter` needs (`get_text_features`, `encode_images`); with
`--parts full` it is called like the model: `OnnxGroupViT(folder)(pixel_values=..., input_ids=...,
attention_mask=...)` returns the five outputs by name. Inputs are checked before they reach onnxruntime,
with the same messages as the PyTorch and Keras models.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from groupvit import input_checks
from groupvit.configs import GroupViTConfig
from groupvit.export import metadata


def _kind(dtype: np.dtype) -> str:
    return {"b": "bool", "c": "complex", "f": "float", "i": "int", "u": "uint"}.get(np.dtype(dtype).kind, "other")


class OnnxGroupViT:
    """A GroupViT ONNX export on onnxruntime. `threads`: intra-op threads (default: onnxruntime's choice)."""

    groupvit_backend = "onnx"

    def __init__(self, folder: str | os.PathLike, *, threads: int | None = None,
                 providers: list[str] | None = None) -> None:
        from groupvit.pretrained import resolve_checkpoint

        self.folder = resolve_checkpoint(folder)
        record = metadata.read_export(self.folder)
        if record["kind"] != "onnx":
            raise ValueError(f"OnnxGroupViT runs exports of format 'onnx'. Received: {record['kind']!r} in "
                             f"{self.folder!r}")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError("Running an ONNX export needs onnxruntime: pip install onnxruntime") from None
        self.record = record
        self.config = GroupViTConfig.from_pretrained(self.folder)
        self.logit_scale = float(record["logit_scale"])
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        options.log_severity_level = 3
        providers = providers or ["CPUExecutionProvider"]
        self.sessions = {part: ort.InferenceSession(os.path.join(self.folder, name), sess_options=options,
                                                    providers=providers)
                         for part, name in record["files"].items()}
        self.parts = record["parts"]

    # -- input checks -----------------------------------------------------------------------------------
    def _pixels(self, pixel_values: Any) -> np.ndarray:
        pixels = np.asarray(pixel_values)
        input_checks.check_pixel_dtype(_kind(pixels.dtype), str(pixels.dtype))
        input_checks.check_pixel_values(pixels.shape, self.config.vision_config, True, whole_patches=True)
        input_checks.check_batch(pixels.shape[0], "pixel_values")
        if not np.isfinite(pixels).all():
            input_checks.check_finite_pixels(False, int((~np.isfinite(pixels)).sum()))
        return np.ascontiguousarray(pixels, dtype=np.float32)

    def _text(self, input_ids: Any, attention_mask: Any) -> tuple[np.ndarray, np.ndarray]:
        if input_ids is None:
            raise ValueError("input_ids must be given. Received: input_ids=None")
        ids = np.asarray(input_ids)
        input_checks.check_ids_dtype(_kind(ids.dtype), str(ids.dtype))
        if ids.ndim == 2:
            input_checks.check_batch(ids.shape[0], "input_ids")
        lo, hi = (int(ids.min()), int(ids.max())) if ids.size else (None, None)
        input_checks.check_input_ids(ids.shape, self.config.text_config, lo, hi)
        if ids.shape[1] < 2:
            raise ValueError(f"input_ids of an ONNX export must hold at least 2 tokens a row (start and end). "
                             f"Received: shape={tuple(ids.shape)}")
        mask = np.ones(ids.shape, np.int64) if attention_mask is None else np.asarray(attention_mask)
        input_checks.check_attention_mask(mask.shape, ids.shape)
        if _kind(mask.dtype) not in ("int", "uint", "bool"):
            raise ValueError(f"attention_mask must hold 0/1 integers or booleans. Received: dtype={mask.dtype}")
        return ids.astype(np.int64), mask.astype(np.int64)

    def _session(self, part: str):
        if part not in self.sessions:
            want = "towers" if part in ("image", "text") else "full"
            raise ValueError(f"This needs an export with --parts {want}. Received: an export with parts "
                             f"{self.parts!r} in {self.folder!r}")
        return self.sessions[part]

    # -- the model's API --------------------------------------------------------------------------------
    def get_text_features(self, input_ids: Any, attention_mask: Any = None) -> np.ndarray:
        """Projected (un-normalised) text features [T, P]."""
        ids, mask = self._text(input_ids, attention_mask)
        return self._session("text").run(None, {"input_ids": ids, "attention_mask": mask})[0]

    def encode_images(self, pixel_values: Any):
        """`groupvit.segmentation.backends.VisionArrays` of NCHW pixels (any multiple of the patch size)."""
        from groupvit.segmentation.backends import VisionArrays

        image, groups, *soft_maps = self._session("image").run(None, {"pixel_values": self._pixels(pixel_values)})
        return VisionArrays(list(soft_maps), groups, image)

    def get_image_features(self, pixel_values: Any) -> np.ndarray:
        """Projected (un-normalised) image features [B, P]."""
        return self.encode_images(pixel_values).image_features

    def __call__(self, **feeds: Any) -> dict[str, np.ndarray]:
        """Full graph: `pixel_values`, `input_ids`, `attention_mask` -> the five outputs by name."""
        return self.run(feeds)

    def run(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        unknown = sorted(set(feeds) - set(metadata.FULL_INPUTS))
        if unknown or "pixel_values" not in feeds or "input_ids" not in feeds:
            raise ValueError(f"The inputs must be named {list(metadata.FULL_INPUTS)} (attention_mask optional). "
                             f"Received: {sorted(feeds)}")
        session = self._session("model")
        ids, mask = self._text(feeds["input_ids"], feeds.get("attention_mask"))
        pixels = self._pixels(feeds["pixel_values"])
        values = session.run(None, {"pixel_values": pixels, "input_ids": ids, "attention_mask": mask})
        return dict(zip(metadata.FULL_OUTPUTS, values))
