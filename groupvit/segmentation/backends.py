"""Thin adapters: a PyTorch, Keras or ONNX GroupViT model -> numpy soft maps, group tokens and embeddings.

Frameworks are imported lazily, so the numpy core never needs either. An ONNX export
(`groupvit.export.runtime.OnnxGroupViT`) already speaks numpy: it is passed through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class VisionArrays:
    """Per batch: soft maps per grouping stage [B, O_s, N_s], projected group tokens [B, O, P] and
    projected image embeddings [B, P] (both un-normalized)."""

    soft_maps: list[np.ndarray]
    group_features: np.ndarray
    image_features: np.ndarray


def backend_of(model: Any) -> str:
    """"pt" for a torch.nn.Module, "tf" for a Keras model (looked up in the class hierarchy), "onnx" for an
    `OnnxGroupViT`."""
    if getattr(type(model), "groupvit_backend", None) == "onnx":
        return "onnx"
    roots = {cls.__module__.split(".")[0] for cls in type(model).__mro__}
    if "torch" in roots:
        return "pt"
    if "keras" in roots or "tensorflow" in roots:
        return "tf"
    raise ValueError(
        f"The model must be a GroupViTModel (PyTorch), TFGroupViTModel (Keras) or OnnxGroupViT (onnxruntime). "
        f"Received: {type(model).__name__}"
    )


def logit_scale_of(model: Any) -> float:
    value = model.logit_scale
    if backend_of(model) == "onnx":
        return float(value)
    if backend_of(model) == "pt":
        return float(value.detach().cpu().reshape(-1)[0])
    from keras import ops

    return float(np.asarray(ops.convert_to_numpy(value)).reshape(-1)[0])


def encode_texts(model: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Projected text features [N, P] (un-normalized)."""
    if backend_of(model) == "onnx":
        return model.get_text_features(ids, mask)
    if backend_of(model) == "pt":
        import torch

        model.eval()
        with torch.no_grad():
            out = model.text_features(torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
        return out.float().cpu().numpy()  # a bfloat16 model's features widened (numpy has no bfloat16)
    from keras import ops

    return np.asarray(ops.convert_to_numpy(model.get_text_features(ids, attention_mask=mask, training=False)))


def encode_images(model: Any, pixels: np.ndarray) -> VisionArrays:
    """Run the vision tower on NCHW float32 pixels (any size divisible by the patch size)."""
    pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    if backend_of(model) == "onnx":
        return model.encode_images(pixels)
    if backend_of(model) == "pt":
        import torch

        model.eval()
        with torch.no_grad():
            out = model.vision_model(torch.from_numpy(pixels), output_attentions=True, interpolate_pos_encoding=True)
            last = out.last_hidden_state  # (B, O, D)
            groups = model.visual_projection(last.reshape(-1, last.shape[-1])).reshape(last.shape[0], last.shape[1], -1)
            image = model.visual_projection(out.pooler_output)
        return VisionArrays([a.float().cpu().numpy() for a in out.attentions], groups.float().cpu().numpy(),
                            image.float().cpu().numpy())
    from keras import ops

    attentions, group_features, image = model.encode_for_segmentation(pixels)  # one cached graph, not op by op
    to_np = ops.convert_to_numpy
    return VisionArrays([np.asarray(to_np(a)) for a in attentions], np.asarray(to_np(group_features)),
                        np.asarray(to_np(image)))
