"""The token grid behind an image (framework-free; shared by both backends' segmentation)."""

from __future__ import annotations

import numpy as np


def feature_grid(height: int, width: int, num_tokens: int) -> tuple[int, int]:
    """Rows and columns of the token grid behind an image of height x width (the reference's rule)."""
    scale = (height * width // num_tokens) ** 0.5
    if height > width:
        grid_w = int(np.round(width / scale))
        grid_h = num_tokens // grid_w
    else:
        grid_h = int(np.round(height / scale))
        grid_w = num_tokens // grid_h
    if grid_h * grid_w != num_tokens:
        raise ValueError(
            f"segmentation needs the {num_tokens} image tokens to form a grid matching the image aspect. "
            f"Received: image {height}x{width}, grid guess {grid_h}x{grid_w}"
        )
    return grid_h, grid_w


def patch_grid(height: int, width: int, patch_hw: tuple[int, int]) -> tuple[int, int]:
    """`feature_grid` of the whole patches an image of height x width holds (a partial last patch is dropped)."""
    ph, pw = patch_hw
    return feature_grid(height, width, (height // ph) * (width // pw))
