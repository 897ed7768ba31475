"""Image loading and preprocessing (numpy + Pillow, framework-free).

`load_rgb` turns any common file into uint8 RGB; `clip_preprocess` is the CLIP transform of
the image-text model (optionally from a checkpoint's preprocessor_config.json);
`segmentation_preprocess` is the authors' zero-shot segmentation transform (docs/computation.md).
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN_255 = (123.675, 116.28, 103.53)
IMAGENET_STD_255 = (58.395, 57.12, 57.375)
SEGMENTATION_SHORT_SIDE = 448
LONG_SIDE_RATIO = 2048 / 448  # the authors' test img_scale=(2048, 448)
_RESAMPLE = ("nearest", "bilinear", "bicubic", "lanczos")
_PIL_RESAMPLE_CODES = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}  # preprocessor_config "resample"


def _pil():
    try:
        from PIL import Image, ImageOps
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('Reading images needs Pillow: pip install "pillow>=10"') from err
    return Image, ImageOps


def to_rgb(image: Any) -> np.ndarray:
    """A PIL image of any mode -> uint8 [H, W, 3].

    Alpha (RGBA, LA, PA, transparent palettes) is composited on white. 16/32-bit grey
    (I;16, I, F) is scaled linearly from its dtype's range (I;16: v / 257) and grey is copied
    to the three channels. CMYK, YCbCr, LAB, HSV go through Pillow's conversion.
    """
    Image, _ = _pil()
    mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image, mode = image.convert("RGBA"), "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(image).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") else (max(float(values.max()), 1.0) if mode == "F" else 65535.0)
        grey = np.clip(np.round(values * 255.0 / top), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB [H, W, 3], EXIF orientation applied (see `to_rgb` for modes)."""
    Image, ImageOps = _pil()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The image file must exist. Received: path={path!r}")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:  # a bomb: over Pillow's pixel limit
        raise ValueError(f"The file must be a readable image. Received: path={path!r} ({err})") from err


def check_image_file(path: str | os.PathLike) -> None:
    """Refuse a path that is not an image file Pillow can open: reads its header, not its pixels."""
    Image, _ = _pil()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The image file must exist. Received: path={path!r}")
    try:
        with Image.open(path):
            pass
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:  # a bomb: over Pillow's pixel limit
        raise ValueError(f"The file must be a readable image. Received: path={path!r} ({err})") from err


def resize(image: np.ndarray, height: int, width: int, resample: str = "bicubic") -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [height, width, 3] with Pillow (`resample` one of nearest/bilinear/bicubic/lanczos)."""
    Image, _ = _pil()
    if resample not in _RESAMPLE:
        raise ValueError(f"resample must be one of {_RESAMPLE}. Received: resample={resample!r}")
    if image.shape[:2] == (height, width):
        return image
    method = getattr(Image.Resampling, resample.upper())
    return np.asarray(Image.fromarray(image).resize((width, height), method), dtype=np.uint8)


def rescale_size(height: int, width: int, short_side: int, long_side: int) -> tuple[int, int]:
    """(h, w) scaled by min(short_side / shorter side, long_side / longer side), rounded half up: mmcv's
    `rescale` with `img_scale=(long_side, short_side)`, `keep_ratio=True` (the authors' test resize)."""
    for name, size in (("short_side", short_side), ("long_side", long_side)):
        if not size >= 1:
            raise ValueError(f"{name} must be a size in pixels >= 1. Received: {name}={size}")
    scale = min(short_side / min(height, width), long_side / max(height, width))
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def authors_long_side(short_side: int) -> int:
    """The longer-side cap that goes with `short_side` in the authors' test resize: 2048 for 448 (their
    `img_scale=(2048, 448)`), in the same ratio for other sizes."""
    return int(short_side * LONG_SIDE_RATIO + 0.5)


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(h, w) with the shorter side equal to `short_side`, the aspect ratio kept (rounded half up)."""
    if not short_side >= 1:
        raise ValueError(f"short_side must be a size in pixels >= 1. Received: short_side={short_side}")
    scale = short_side / min(height, width)
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"The image must be uint8 RGB [H, W, 3]. Received: shape={image.shape}, dtype={image.dtype}")
    return image


def clip_preprocess(
    image: np.ndarray,
    height: int,
    width: int,
    mean: Sequence[float] = CLIP_MEAN,
    std: Sequence[float] = CLIP_STD,
    resample: str = "bicubic",
    *,
    do_resize: bool = True,
    do_center_crop: bool = True,
    do_normalize: bool = True,
    rescale_factor: float = 1 / 255,
    resize_to: int | None = None,
) -> np.ndarray:
    """CLIP transform: shortest side -> `resize_to` (default min(height, width)), centre crop to
    height x width, times `rescale_factor`, (x - mean) / std -> float32 [1, 3, height, width]."""
    image = _check_image(image)
    if do_resize:
        image = resize(image, *short_side_size(*image.shape[:2], resize_to or min(height, width)), resample)
    if do_center_crop:
        top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
        if top < 0 or left < 0:
            raise ValueError(
                f"The image must cover the crop. Received: image={image.shape[:2]}, crop={(height, width)}"
            )
        image = image[top:top + height, left:left + width]
    pixels = image.astype(np.float32) * np.float32(rescale_factor)
    if do_normalize:
        pixels = (pixels - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)


def _size_value(value: Any, key: str) -> int:
    if isinstance(value, dict):
        value = value.get("shortest_edge", value.get("height"))
    if not isinstance(value, int):
        raise ValueError(
            f"preprocessor_config.json {key} must be an int or {{'shortest_edge': n}}. Received: {value!r}"
        )
    return value


def clip_preprocess_from_config(image: np.ndarray, checkpoint_dir: str | os.PathLike) -> np.ndarray:
    """`clip_preprocess` with the settings of `checkpoint_dir/preprocessor_config.json` (CLIPImageProcessor keys)."""
    with open(os.path.join(checkpoint_dir, "preprocessor_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    crop = _size_value(cfg.get("crop_size", cfg.get("size", 224)), "crop_size")
    return clip_preprocess(
        image, crop, crop, cfg.get("image_mean", CLIP_MEAN), cfg.get("image_std", CLIP_STD),
        _PIL_RESAMPLE_CODES.get(int(cfg.get("resample", 3)), "bicubic"),
        do_resize=cfg.get("do_resize", True), do_center_crop=cfg.get("do_center_crop", True),
        do_normalize=cfg.get("do_normalize", True), rescale_factor=cfg.get("rescale_factor", 1 / 255),
        resize_to=_size_value(cfg.get("size", crop), "size"),
    )


def segmentation_preprocess(
    image: np.ndarray,
    short_side: int = SEGMENTATION_SHORT_SIDE,
    mean: Sequence[float] = IMAGENET_MEAN_255,
    std: Sequence[float] = IMAGENET_STD_255,
    resample: str = "bilinear",
    long_side: int | None = None,
) -> np.ndarray:
    """The authors' segmentation transform: shorter side -> `short_side` unless the longer side would pass
    `long_side` (default `authors_long_side(short_side)`: 2048 for 448, mmcv's `img_scale=(2048, 448)`), then
    (x - mean) / std on 0-255 RGB -> float32 [1, 3, h, w]. No crop and no padding."""
    image = _check_image(image)
    if long_side is None:
        long_side = authors_long_side(short_side) if short_side >= 1 else short_side  # a bad size is named below
    height, width = rescale_size(*image.shape[:2], short_side, long_side)
    Image, _ = _pil()
    limit = Image.MAX_IMAGE_PIXELS or 89_478_485  # Pillow's own bound on a decoded image (None: turned off)
    if height * width > limit:  # (a short side of 100000 took 22.7 GB before failing)
        raise ValueError(f"The image resized to short side {short_side} would be {height}x{width} = {height * width} "
                         f"pixels, over Pillow's limit of {limit}: choose a smaller short side. Received: "
                         f"{image.shape[0]}x{image.shape[1]} px, short_side={short_side}")
    image = resize(image, height, width, resample)
    pixels = (image.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None], dtype=np.float32)
