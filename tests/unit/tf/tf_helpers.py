"""Helpers of the Keras tests: seeded weights and inputs for the tiny configs of tests/tiny_configs.py."""

from __future__ import annotations

import numpy as np


def random_weights(model, seed: int = 0) -> dict[str, np.ndarray]:
    """Non-trivial values everywhere: BatchNorm statistics, group tokens, positions, logit scale."""
    rng = np.random.default_rng(seed)
    weights = {}
    for key, value in model.to_numpy().items():
        if key.endswith("running_var"):
            weights[key] = (rng.random(value.shape) + 0.5).astype(np.float32)
        elif key == "logit_scale":
            weights[key] = np.array(1.7, dtype=np.float32)
        else:
            weights[key] = (rng.standard_normal(value.shape) * 0.2).astype(np.float32)
    return weights


def randomize(model, seed: int = 0):
    model.assign_numpy(random_weights(model, seed))
    return model


def make_inputs(config, n_images=2, n_texts=2, length=7, height=None, width=None, seed=1):
    """NCHW pixels, ids with a bos/eos and one right-padded row, and the matching mask."""
    rng = np.random.default_rng(seed)
    h, w = config.vision_config.image_hw
    pixels = rng.standard_normal((n_images, config.vision_config.num_channels, height or h, width or w))
    text = config.text_config
    ids = rng.integers(2, text.eos_token_id, (n_texts, length))
    ids[:, 0] = text.bos_token_id
    ids[:, -1] = text.eos_token_id
    mask = np.ones_like(ids)
    if n_texts > 1:
        ids[1, 4:] = text.pad_token_id
        ids[1, 3] = text.eos_token_id
        mask[1, 4:] = 0
    return pixels.astype(np.float32), ids.astype(np.int32), mask.astype(np.int32)
