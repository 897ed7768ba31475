"""Gumbel noise for the grouping stages, drawn in numpy so every backend and rank sees the same.

The noise of a step is drawn for the whole global batch from a generator seeded by
(seed, step, stage); a rank takes its rows. So a PyTorch and a Keras run, or a distributed and a
single-process run, use identical noise.
"""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTVisionConfig


def assignment_shapes(config: GroupViTVisionConfig, batch: int) -> list[tuple[int, int, int]]:
    """[B, O_s, N_s] of each grouping stage's assignment logits at the config's image size."""
    shapes, tokens = [], config.num_patches
    for stage in range(config.num_stages):
        if config.num_group_tokens[stage] > 0:
            shapes.append((batch, config.num_output_groups[stage], tokens))
            tokens = config.num_output_groups[stage]
    return shapes


def gumbel_noise(config: GroupViTVisionConfig, seed: int, step: int, global_batch: int,
                 rows: slice = slice(None)) -> list[np.ndarray]:
    """One float32 array per grouping stage: Gumbel(0, 1) noise of `rows` of the global batch."""
    out = []
    for stage, shape in enumerate(assignment_shapes(config, global_batch)):
        rng = np.random.default_rng([seed, step, stage])
        out.append(rng.gumbel(size=shape)[rows].astype(np.float32))
    return out
