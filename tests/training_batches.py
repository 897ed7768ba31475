"""Synthetic training batches for the PyTorch trainer tests (no data pipeline needed)."""

import numpy as np

from groupvit.random_checkpoint import random_weights
from tiny_configs import tiny_config


def config_and_weights(stages: str = "two_grouping", seed: int = 0):
    config = tiny_config(stages)
    return config, random_weights(config, seed)


def synthetic_batch(config, batch: int, k: int = 0, seed: int = 0) -> dict[str, np.ndarray]:
    """Pixels, captions and K prompts per image with start/end tokens and some padding."""
    rng = np.random.default_rng(seed)
    text, (h, w) = config.text_config, config.vision_config.image_hw
    length = text.max_position_embeddings

    def ids(shape):
        out = rng.integers(2, text.bos_token_id, shape + (length,))
        ends = rng.integers(3, length, shape)
        mask = (np.arange(length) <= ends[..., None]).astype(np.int64)
        out[..., 0] = text.bos_token_id
        np.put_along_axis(out, ends[..., None], text.eos_token_id, axis=-1)
        return np.where(mask == 1, out, text.pad_token_id).astype(np.int64), mask

    input_ids, attention_mask = ids((batch,))
    out = {"pixel_values": rng.normal(size=(batch, 3, h, w)).astype(np.float32),
           "input_ids": input_ids, "attention_mask": attention_mask}
    if k:
        out["prompt_ids"], out["prompt_mask"] = ids((batch, k))
    return out


def rows(batch: dict[str, np.ndarray], part: slice) -> dict[str, np.ndarray]:
    return {k: v[part] for k, v in batch.items()}
