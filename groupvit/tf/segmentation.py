"""Group maps -> per-pixel grouping, and the segmentation logits of docs/computation.md."""

from __future__ import annotations

from typing import Sequence

from keras import ops

from groupvit.tf.resize import bilinear_matrix
from groupvit.token_grid import feature_grid


def chain_group_maps(soft_maps: Sequence):
    """Soft maps [B, O_s, N_s] of the grouping stages -> token-to-final-group map [B, N_0, O_last]."""
    chained = ops.transpose(soft_maps[0], (0, 2, 1))
    for soft in soft_maps[1:]:
        chained = ops.matmul(chained, ops.transpose(soft, (0, 2, 1)))
    return chained


def pixel_grouping(soft_maps: Sequence, height: int, width: int):
    """Final groups per pixel [B, O_last, H, W]: chained maps resized bilinearly (half-pixel, no antialias)."""
    chained = ops.transpose(chain_group_maps(soft_maps), (0, 2, 1))  # (B, O, N)
    groups, tokens = chained.shape[1], chained.shape[2]
    grid_h, grid_w = feature_grid(height, width, tokens)
    maps = ops.reshape(chained, (-1, groups, grid_h, grid_w))
    rows = ops.convert_to_tensor(bilinear_matrix(grid_h, height))  # (H, h)
    cols = ops.convert_to_tensor(bilinear_matrix(grid_w, width))  # (W, w)
    maps = ops.einsum("Ww,bohw->bohW", cols, maps)
    return ops.einsum("Hh,bohW->boHW", rows, maps)


def segmentation_logits(group_embeds, text_embeds, grouping, logit_scale):
    """[B_img, B_txt, H, W] from normalized group embeddings [B_img, O, P], text [B_txt, P], grouping."""
    groups, height, width = grouping.shape[1], grouping.shape[2], grouping.shape[3]
    per_group = ops.matmul(group_embeds, ops.transpose(text_embeds)) * logit_scale  # (B_img, O, B_txt)
    flat = ops.reshape(grouping, (-1, groups, height * width))
    logits = ops.matmul(ops.transpose(per_group, (0, 2, 1)), flat) * logit_scale  # the scale applies twice
    return ops.reshape(logits, (ops.shape(logits)[0], ops.shape(logits)[1], height, width))
