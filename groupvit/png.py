"""Label colours and the PNG writer of the package (Pillow; atomic: temporary file, then rename)."""

from __future__ import annotations

import os

import numpy as np

# 20 well-separated colours for label maps
PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128],
     [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0], [170, 255, 195], [128, 128, 0],
     [255, 215, 180], [0, 0, 128]],
    dtype=np.uint8,
)


def colorize(labels: np.ndarray) -> np.ndarray:
    """Integer label map [H, W] -> RGB uint8 [H, W, 3]."""
    return PALETTE[np.asarray(labels) % len(PALETTE)]


def write_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image [H, W, 3] as PNG with Pillow (to a temporary file, then renamed): the one
    picture writer of the package (groupvit.segmentation.pictures writes through it too)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_png needs an RGB image [H, W, 3]. Received: shape={rgb.shape}")
    from PIL import Image

    tmp = f"{os.fspath(path)}.tmp"
    try:
        Image.fromarray(rgb, mode="RGB").save(tmp, format="PNG", optimize=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
