"""Pictures of a segmentation (Pillow): palette label PNG, overlay with labels and legend, group maps."""

from __future__ import annotations

import os

import numpy as np

from groupvit.png import PALETTE, write_png
from groupvit.segmentation.result import SegmentationResult


def _pil():
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('Pictures need Pillow: pip install "pillow>=10"') from err
    return Image, ImageDraw, ImageFont


def label_colors(count: int) -> np.ndarray:
    """uint8 [count, 3]: label 0 (background) black, then the 19 colours of groupvit.png, repeating."""
    return PALETTE[np.arange(count) % len(PALETTE)]


def save_label_png(path: str | os.PathLike, labels: np.ndarray) -> None:
    """Palette-mode PNG whose pixel values are the labels (readable back as indices, VOC style)."""
    Image, _, _ = _pil()
    if labels.max(initial=0) > 255 or labels.min(initial=0) < 0:
        raise ValueError(f"A palette PNG holds labels 0..255. Received: min={labels.min()}, max={labels.max()}")
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette(label_colors(256).reshape(-1).tolist())
    image.save(path)


def _font(size: int):
    _, _, ImageFont = _pil()
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizing
        return ImageFont.load_default()


def overlay(image: np.ndarray, result: SegmentationResult, alpha: float = 0.5) -> np.ndarray:
    """uint8 RGB: class colours blended on the image (background untouched), each present label's
    name at its centroid, and a legend strip below."""
    Image, ImageDraw, _ = _pil()
    labels = result.labels
    colors = label_colors(len(result.class_names) + 1)
    blended = image.astype(np.float32)
    fg = labels > 0
    blended[fg] = (1 - alpha) * blended[fg] + alpha * colors[labels[fg]]
    height, width = labels.shape
    font = _font(max(10, min(height, width) // 28))
    present = [int(v) for v in np.unique(labels)]
    legend_rows = len(present)
    row_h = max(14, min(height, width) // 24)
    canvas = Image.new("RGB", (width, height + row_h * legend_rows + 6), (255, 255, 255))
    canvas.paste(Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8)), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for value in present:
        if value == 0:
            continue
        ys, xs = np.nonzero(labels == value)
        x, y = float(xs.mean()), float(ys.mean())
        draw.text((x, y), result.label_name(value), fill=(255, 255, 255), font=font, anchor="mm",
                  stroke_width=2, stroke_fill=(0, 0, 0))
    for row, value in enumerate(present):
        top = height + 3 + row * row_h
        draw.rectangle([4, top + 2, 4 + row_h - 4, top + row_h - 2], fill=tuple(int(c) for c in colors[value]),
                       outline=(0, 0, 0))
        share = float((labels == value).mean()) * 100
        draw.text((row_h + 6, top + row_h // 2), f"{result.label_name(value)} ({share:.1f}%)", fill=(0, 0, 0),
                  font=font, anchor="lm")
    return np.asarray(canvas, dtype=np.uint8)


def group_map_picture(image: np.ndarray, groups: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """uint8 RGB: the group index of every pixel as a colour, blended on the image."""
    colors = PALETTE[1:][groups % (len(PALETTE) - 1)].astype(np.float32)
    return np.clip((1 - alpha) * image.astype(np.float32) + alpha * colors, 0, 255).astype(np.uint8)


def save_rgb(path: str | os.PathLike, rgb: np.ndarray) -> None:
    _pil()  # the clear error when Pillow is missing
    write_png(path, rgb)
