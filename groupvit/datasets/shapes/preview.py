"""A contact sheet of scenes: each image beside its true mask in the Pascal VOC colours."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from groupvit.datasets.shapes.scene import make_scene, scene_rng
from groupvit.datasets.shapes.writers import voc_palette

GAP = 4  # pixels between tiles (white)


def preview(scenes: int = 12, seed: int = 0, size: int = 80, variant: str = "default", columns: int = 3,
            scale: int = 2) -> Image.Image:
    """An RGB grid of `scenes` scenes of `seed`, each as (image | mask), enlarged `scale` times (nearest)."""
    if scenes < 1 or columns < 1 or scale < 1:
        raise ValueError(f"scenes, columns and scale must be positive. Received: scenes={scenes}, "
                         f"columns={columns}, scale={scale}")
    colours = np.asarray(voc_palette(), dtype=np.uint8).reshape(256, 3)
    rows = -(-scenes // columns)
    tile = size * scale
    width = columns * (2 * tile + 3 * GAP) + GAP
    sheet = Image.new("RGB", (width, rows * (tile + GAP) + GAP), (255, 255, 255))
    for index in range(scenes):
        scene = make_scene(scene_rng(seed, index), size, variant)
        row, column = divmod(index, columns)
        x = GAP + column * (2 * tile + 3 * GAP)
        y = GAP + row * (tile + GAP)
        for offset, pixels in ((0, scene.image), (tile + GAP, colours[scene.mask])):
            sheet.paste(Image.fromarray(pixels).resize((tile, tile), Image.Resampling.NEAREST), (x + offset, y))
    return sheet


def save_preview(path: str | os.PathLike, **options) -> None:
    """`preview(**options)` saved as a PNG at `path`."""
    preview(**options).save(os.fspath(path), format="PNG")
