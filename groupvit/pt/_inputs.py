"""Torch-side wrappers of `groupvit.input_checks` (value checks skipped while compiling)."""

from __future__ import annotations

import torch

from groupvit import input_checks
from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig


def check_text_inputs(input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None,
                      config: GroupViTTextConfig) -> None:
    if input_ids is None:
        raise ValueError("input_ids must be given. Received: input_ids=None")
    lo = hi = None
    if not torch.compiler.is_compiling() and input_ids.numel() > 0:
        lo, hi = int(input_ids.min()), int(input_ids.max())
    input_checks.check_input_ids(input_ids.shape, config, lo, hi)
    input_checks.check_attention_mask(None if attention_mask is None else attention_mask.shape, input_ids.shape)


def check_vision_inputs(pixel_values: torch.Tensor | None, config: GroupViTVisionConfig,
                        interpolate_pos_encoding: bool) -> None:
    if pixel_values is None:
        raise ValueError("pixel_values must be given. Received: pixel_values=None")
    input_checks.check_pixel_values(pixel_values.shape, config, interpolate_pos_encoding)


def check_noise(gumbel_noise, config: GroupViTVisionConfig) -> None:
    if gumbel_noise is not None:
        input_checks.check_gumbel_noise(len(gumbel_noise), config)
