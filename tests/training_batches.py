"""Synthetic training batches for the PyTorch trainer tests (no data pipeline needed)."""

import numpy as np

from groupvit.random_checkpoint import random_weights
from tiny_configs import tiny_config


def config_and_weights(stages: str = "two_grouping", seed: int = 0):
    config = tiny_config(stages)
    return config, random_weights(config, seed)


def synthetic_batch(config, batch: int, k: int = 0, seed: int = 0, nouns: bool = False) -> dict[str, np.ndarray]:
    """Pixels, captions and K prompts per image with start/end tokens and some padding; with `nouns`
    the noun ids of the grouped multi-label loss, drawn from 3 ids so images share nouns."""
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
    if k and nouns:
        image_nouns = np.full((batch, 4), -1, dtype=np.int64)
        prompt_nouns = np.full((batch, k), -1, dtype=np.int64)
        for row in range(batch):
            held = rng.choice(3, size=int(rng.integers(1, 4)), replace=False)
            image_nouns[row, :len(held)] = held
            chosen = held[:k]
            prompt_nouns[row, :len(chosen)] = chosen  # the rest: captions padding the list
        out["image_nouns"], out["prompt_nouns"] = image_nouns, prompt_nouns
    return out


def rows(batch: dict[str, np.ndarray], part: slice) -> dict[str, np.ndarray]:
    return {k: v[part] for k, v in batch.items()}
