"""Patch embedding, LayerNorm, then learned positions (resizable to other image sizes)."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.pt.precision import widen


class GroupViTPatchEmbeddings(nn.Module):
    """Conv2d(C, D, kernel=patch, stride=patch) on NCHW pixels, flattened row-major to [B, N, D]."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.image_size = config.image_hw
        self.patch_size = config.patch_hw
        self.num_patches = config.num_patches
        self.projection = nn.Conv2d(
            config.num_channels, config.hidden_size, kernel_size=self.patch_size, stride=self.patch_size
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        # pixels come as float32; a bfloat16 model takes them in its own dtype (as the transformers port)
        pixel_values = pixel_values.to(self.projection.weight.dtype)
        return self.projection(pixel_values).flatten(2).transpose(1, 2)  # (B, N, D)


class GroupViTVisionEmbeddings(nn.Module):
    """Vision embeddings; `interpolate_pos_encoding` resizes the position table bicubically."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_embeddings = GroupViTPatchEmbeddings(config)
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_patches, config.hidden_size))
        self.dropout = nn.Dropout(config.dropout)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def interpolate_pos_encoding(self, height: int, width: int) -> torch.Tensor:
        """Position table for an image of height x width pixels: [1, (H/p)*(W/p), D]."""
        grid_h, grid_w = self.config.grid_hw
        new_h, new_w = height // self.config.patch_hw[0], width // self.config.patch_hw[1]
        # the reference leaves the table untouched for a square image with the trained patch count; a traced
        # graph (torch.export, ONNX) resizes it always: bicubic at scale 1 is the identity, exactly, and the
        # graph keeps no guard on the image size
        if (not torch.compiler.is_compiling() and new_h * new_w == grid_h * grid_w and height == width
                and grid_h == grid_w):
            return self.position_embeddings
        dim = self.position_embeddings.shape[-1]
        table = self.position_embeddings.reshape(1, grid_h, grid_w, dim).permute(0, 3, 1, 2)
        table = nn.functional.interpolate(widen(table), size=(new_h, new_w), mode="bicubic", align_corners=False)
        return table.to(self.position_embeddings.dtype).permute(0, 2, 3, 1).reshape(1, new_h * new_w, dim)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        height, width = pixel_values.shape[-2:]
        embeddings = self.layernorm(self.patch_embeddings(pixel_values))
        if interpolate_pos_encoding:
            embeddings = embeddings + self.interpolate_pos_encoding(height, width)
        else:
            embeddings = embeddings + self.position_embeddings
        return self.dropout(embeddings)
