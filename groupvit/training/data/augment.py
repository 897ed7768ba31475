"""Training augmentation in numpy + Pillow (the timm/DeiT recipe of docs/training.md).

Every random decision is drawn from the generator it is given, which the stream seeds per
sample (`sample_rng(seed, epoch, position)`), so a sample looks the same whichever process or
rank decodes it. Order (timm's `transforms_imagenet_train`): RandomResizedCrop, horizontal flip,
RandAugment or colour jitter, normalise, erasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from groupvit.images import IMAGENET_MEAN_255, IMAGENET_STD_255, resize, short_side_size
from groupvit.training.data.rand_augment import parse_policy, rand_augment

INTERPOLATIONS = ("bilinear", "bicubic")
# What RandAugment's rotations, shears and translations uncover: the mean pixel, as timm fills it.
FILL = tuple(min(255, round(value)) for value in IMAGENET_MEAN_255)


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentation settings. The authors': `rand_augment="rand-m9-mstd0.5-inc1"`, `interpolation="bilinear"`,
    `random_erasing=0.25`; their config also names colour jitter 0.4, which timm skips when RandAugment is on,
    so the two are refused together here. The defaults (no RandAugment, no erasing, bicubic) are a choice for
    small runs: docs/training.md, "Where the default run differs from the authors'"."""

    image_size: int = 224
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    color_jitter: float = 0.0
    random_erasing: float = 0.0
    rand_augment: str | None = None
    interpolation: str = "bicubic"

    def __post_init__(self):
        if self.image_size < 1:
            raise ValueError(f"image_size must be >= 1. Received: image_size={self.image_size}")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1. Received: scale={self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < low <= high. Received: ratio={self.ratio}")
        if not self.color_jitter >= 0:
            raise ValueError(f"color_jitter must be >= 0. Received: color_jitter={self.color_jitter}")
        if not 0 <= self.random_erasing <= 1:
            raise ValueError(f"random_erasing is a probability: it must be in [0, 1]. Received: "
                             f"random_erasing={self.random_erasing}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}. Received: {self.interpolation!r}")
        if self.rand_augment is not None:
            parse_policy(self.rand_augment)
            if self.color_jitter > 0:
                raise ValueError("Give RandAugment or colour jitter, not both (timm, whose recipe the authors use, "
                                 "applies colour jitter only without RandAugment). Received: "
                                 f"rand_augment={self.rand_augment!r}, color_jitter={self.color_jitter}")


class RandomResizedCrop:
    """torchvision's RandomResizedCrop: 10 tries at a box of random area and log-uniform aspect
    ratio, else a centre crop clamped to `ratio`; the box is resized to size x size (`interpolation`)."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.08, 1.0),
                 ratio: tuple[float, float] = (3 / 4, 4 / 3), interpolation: str = "bicubic"):
        self.size, self.scale, self.ratio, self.interpolation = int(size), scale, ratio, interpolation

    def get_params(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of the crop box."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(rng.integers(0, height - h + 1))
                left = int(rng.integers(0, width - w + 1))
                return top, left, h, w
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        top, left, h, w = self.get_params(image.shape[0], image.shape[1], rng)
        box = np.ascontiguousarray(image[top:top + h, left:left + w])
        return resize(box, self.size, self.size, self.interpolation)


def color_jitter(image: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast and saturation, each by a factor in [1 - s, 1 + s], in random order (torchvision)."""
    from PIL import Image, ImageEnhance

    enhancers = (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color)
    picture = Image.fromarray(image)
    for index in rng.permutation(3).tolist():
        factor = rng.uniform(max(0.0, 1.0 - strength), 1.0 + strength)
        picture = enhancers[index](picture).enhance(factor)
    return np.asarray(picture, dtype=np.uint8)


def random_erasing(pixels: np.ndarray, probability: float, rng: np.random.Generator) -> np.ndarray:
    """timm's RandomErasing (mode "pixel", one box): with `probability`, a box of 2-33 % of the area and
    aspect in [0.3, 3.3] is filled with standard-normal noise. float32 [3, H, W] in and out."""
    if rng.random() >= probability:
        return pixels
    channels, height, width = pixels.shape
    log_ratio = (math.log(0.3), math.log(1 / 0.3))
    for _ in range(10):
        target_area = rng.uniform(0.02, 1 / 3) * height * width
        aspect = math.exp(rng.uniform(*log_ratio))
        h = int(round(math.sqrt(target_area * aspect)))
        w = int(round(math.sqrt(target_area / aspect)))
        if w < width and h < height:
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            pixels = pixels.copy()
            pixels[:, top:top + h, left:left + w] = rng.standard_normal((channels, h, w), dtype=np.float32)
            return pixels
    return pixels


def normalize(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [3, H, W], (x - mean) / std on 0-255 with the ImageNet statistics."""
    mean, std = np.asarray(IMAGENET_MEAN_255, np.float32), np.asarray(IMAGENET_STD_255, np.float32)
    pixels = (image.astype(np.float32) - mean) / std
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def augment_image(image: np.ndarray, config: AugmentConfig, rng: np.random.Generator | None = None,
                  train: bool = True) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [3, S, S]. `train=False`: shorter side to S (bicubic), centre crop, no randomness."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"The image must be uint8 RGB [H, W, 3]. Received: shape={image.shape}, dtype={image.dtype}")
    size = config.image_size
    if not train:
        image = resize(image, *short_side_size(image.shape[0], image.shape[1], size), "bicubic")
        top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
        return normalize(image[top:top + size, left:left + size])
    if rng is None:
        raise ValueError("Training augmentation needs the sample's generator. Received: rng=None")
    image = RandomResizedCrop(size, config.scale, config.ratio, config.interpolation)(image, rng)
    if config.flip and rng.random() < 0.5:
        image = np.ascontiguousarray(image[:, ::-1])
    if config.rand_augment is not None:
        image = rand_augment(image, parse_policy(config.rand_augment), rng, FILL, config.interpolation)
    if config.color_jitter > 0:
        image = color_jitter(image, config.color_jitter, rng)
    pixels = normalize(image)
    if config.random_erasing > 0:
        pixels = random_erasing(pixels, config.random_erasing, rng)
    return pixels
