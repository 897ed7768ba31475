"""Seeded random weights for any config, in numpy (PyTorch names and layouts).

Used by the demo and by tests: activations stay at unit scale, BatchNorm statistics are
non-trivial and `logit_scale` differs from its initial value, so every part of the model
is exercised. These are NOT trained weights.
"""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.keys import expected_shapes

RANDOM_WEIGHTS_LABEL = "RANDOM WEIGHTS (seeded, untrained): outputs show the pipeline, not a trained model's answers"


def random_weights(config: GroupViTConfig, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for key, shape in expected_shapes(config).items():
        if key.endswith("num_batches_tracked"):
            value = np.array(0, dtype=np.int64)
        elif key.endswith("running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif key.endswith("running_mean"):
            value = rng.normal(0.0, 0.1, shape)
        elif key == "logit_scale":
            value = np.array(np.log(10.0))  # not the initial log(1 / 0.07), so loading it is visible
        elif key.endswith(("group_token", "position_embeddings")):
            value = rng.normal(0.0, 0.5, shape)
        elif len(shape) >= 2:  # Linear, Conv2d, Embedding: std 1/sqrt(fan in)
            fan_in = shape[-1] if key.endswith("embedding.weight") else int(np.prod(shape[1:]))
            value = rng.normal(0.0, fan_in**-0.5, shape)
        elif key.endswith("weight"):  # norm scales
            value = 1.0 + rng.normal(0.0, 0.1, shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        out[key] = np.asarray(value, dtype=np.int64 if key.endswith("num_batches_tracked") else np.float32)
    return out


def example_image(height: int = 224, width: int = 224) -> np.ndarray:
    """A deterministic synthetic RGB picture (sky, sun, field, house), uint8 [H, W, 3]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.zeros((height, width, 3), np.float32)
    sky = y < 0.55 * height
    image[sky] = [110, 160, 230]
    image[~sky] = [70, 150, 60]
    image[..., 1] += 20 * np.sin(x / 7.0) * (~sky)
    sun = (x - 0.78 * width) ** 2 + (y - 0.2 * height) ** 2 < (0.1 * min(height, width)) ** 2
    image[sun] = [250, 220, 60]
    house = (np.abs(x - 0.3 * width) < 0.14 * width) & (y > 0.42 * height) & (y < 0.75 * height)
    image[house] = [170, 60, 50]
    return np.clip(image, 0, 255).astype(np.uint8)


def clip_normalize(image: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [1, 3, H, W] with the CLIP mean and std."""
    mean = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
    std = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)
    pixels = (image.astype(np.float32) / 255.0 - mean) / std
    return pixels.transpose(2, 0, 1)[None]
