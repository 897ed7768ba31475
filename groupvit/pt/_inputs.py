"""Torch-side wrappers of `groupvit.input_checks` (value checks skipped while compiling)."""

from __future__ import annotations

import torch

from groupvit import input_checks
from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig


def _kind(dtype: torch.dtype) -> str:
    if dtype == torch.bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "uint" if dtype == torch.uint8 else "int"


def _check_tensor(value, name: str) -> None:
    """The PyTorch models take tensors, as the port does (its error for a numpy array comes from deep inside)."""
    if value is not None and not isinstance(value, torch.Tensor):
        hint = " (torch.from_numpy(array))" if type(value).__module__ == "numpy" else ""
        raise ValueError(f"{name} must be a torch.Tensor{hint}. Received: {type(value).__module__}."
                         f"{type(value).__name__}")


def check_text_inputs(input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                      config: GroupViTTextConfig) -> None:
    if input_ids is None:
        raise ValueError("input_ids must be given. Received: input_ids=None")
    _check_tensor(input_ids, "input_ids")
    _check_tensor(attention_mask, "attention_mask")
    input_checks.check_ids_dtype(_kind(input_ids.dtype), str(input_ids.dtype).replace("torch.", ""))
    if input_ids.ndim == 2:
        input_checks.check_batch(input_ids.shape[0], "input_ids")
    lo = hi = None
    if not torch.compiler.is_compiling() and input_ids.numel() > 0:
        lo, hi = int(input_ids.min()), int(input_ids.max())
    input_checks.check_input_ids(input_ids.shape, config, lo, hi)
    input_checks.check_attention_mask(None if attention_mask is None else attention_mask.shape, input_ids.shape)


def check_vision_inputs(pixel_values: torch.Tensor | None, config: GroupViTVisionConfig,
                        interpolate_pos_encoding: bool) -> None:
    if pixel_values is None:
        raise ValueError("pixel_values must be given. Received: pixel_values=None")
    _check_tensor(pixel_values, "pixel_values")
    input_checks.check_pixel_dtype(_kind(pixel_values.dtype), str(pixel_values.dtype).replace("torch.", ""))
    input_checks.check_pixel_values(pixel_values.shape, config, interpolate_pos_encoding)
    input_checks.check_batch(pixel_values.shape[0], "pixel_values")
    # One reduction on the hot path (a NaN or inf makes the sum non-finite); the count only when it is.
    if not torch.compiler.is_compiling() and not bool(torch.isfinite(pixel_values.sum())):
        bad = int((~torch.isfinite(pixel_values)).sum())
        if bad:
            input_checks.check_finite_pixels(False, bad)


def check_noise(gumbel_noise, config: GroupViTVisionConfig, drop_path_scales=None, batch: int = 0) -> None:
    if gumbel_noise is not None:
        input_checks.check_gumbel_noise(len(gumbel_noise), config)
    if drop_path_scales is not None:
        input_checks.check_drop_path_scales(tuple(drop_path_scales.shape), config, batch)
