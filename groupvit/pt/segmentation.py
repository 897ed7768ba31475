"""Group maps -> per-pixel grouping, and the segmentation logits of docs/computation.md."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from groupvit.token_grid import feature_grid


def chain_group_maps(soft_maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Soft maps [B, O_s, N_s] of the grouping stages -> token-to-final-group map [B, N_0, O_last]."""
    chained = soft_maps[0].transpose(1, 2)
    for soft in soft_maps[1:]:
        chained = chained @ soft.transpose(1, 2)
    return chained


def pixel_grouping(soft_maps: Sequence[torch.Tensor], height: int, width: int,
                   patch_hw: tuple[int, int] | None = None) -> torch.Tensor:
    """Final groups per pixel [B, O_last, H, W]: chained maps resized bilinearly (half-pixel, no antialias).

    With square patches (`patch_hw`) and sizes divisible by the patch the token grid is (H / patch, W / patch):
    exactly `feature_grid`'s rule, without its float rounding, which a traced graph (torch.export, ONNX: sizes
    declared as multiples of the patch) would freeze at the traced size. Any other size takes the reference's
    rule itself, as the Keras backend and both ports do (for some sizes it guesses a transposed grid, e.g. 8 x 7
    tokens for a 31 x 32 image with patch 4, or none)."""
    chained = chain_group_maps(soft_maps).transpose(1, 2)  # (B, O, N)
    batch, groups, tokens = chained.shape
    if (patch_hw is not None and patch_hw[0] == patch_hw[1] and height % patch_hw[0] == 0
            and width % patch_hw[1] == 0):
        grid_h, grid_w = height // patch_hw[0], width // patch_hw[1]
    else:
        grid_h, grid_w = feature_grid(height, width, tokens)
    maps = chained.reshape(batch, groups, grid_h, grid_w)
    return nn.functional.interpolate(maps, size=(height, width), mode="bilinear", align_corners=False)


def segmentation_logits(
    group_embeds: torch.Tensor, text_embeds: torch.Tensor, grouping: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """[B_img, B_txt, H, W] from normalized group embeddings [B_img, O, P], text [B_txt, P], grouping."""
    batch, groups, height, width = grouping.shape
    per_group = (group_embeds @ text_embeds.t()) * logit_scale  # (B_img, O, B_txt)
    flat = grouping.reshape(batch, groups, height * width)
    logits = (per_group.transpose(1, 2) @ flat) * logit_scale  # the reference applies the scale twice
    return logits.reshape(batch, text_embeds.shape[0], height, width)
