"""A training step's randomness inside the model, drawn in numpy so every backend and rank sees the same:
the Gumbel noise of the grouping stages and the stochastic-depth scales of the vision layers.

The draws of a step are made for the whole global batch from generators seeded by (seed, step, stream);
a rank takes its rows. So a PyTorch and a Keras run, or a distributed and a single-process run, use
identical noise.
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


# The stream of the stochastic-depth draws: seeded apart from every grouping stage's (seed, step, stage).
DROP_PATH_STREAM = 1 << 20


def drop_path_rates(config: GroupViTVisionConfig, rate: float) -> np.ndarray:
    """Drop probability of each vision layer, in order: `rate` spread linearly from 0 at the first layer to
    `rate` at the last, over all stages (the authors' `torch.linspace(0, drop_path_rate, sum(depths))`)."""
    if not 0 <= rate < 1:
        raise ValueError(f"The drop-path rate must be in [0, 1). Received: {rate}")
    return np.linspace(0.0, rate, sum(config.depths)).astype(np.float32)


def drop_path_scales(config: GroupViTVisionConfig, rate: float, seed: int, step: int, global_batch: int,
                     rows: slice = slice(None)) -> np.ndarray | None:
    """float32 [rows, sum(depths), 2] for the vision models' `drop_path_scales`: per sample, layer and branch
    (attention, MLP) 0 with the layer's drop probability p, else 1 / (1 - p), as timm's DropPath, which the
    authors' blocks apply to each branch on its own; None when `rate` is 0. Drawn for the whole global batch
    from a generator seeded by (seed, step), like the Gumbel noise, so every backend and rank sees the same."""
    rates = drop_path_rates(config, rate)
    if rate == 0:
        return None
    keep = (1.0 - rates).astype(np.float32)
    rng = np.random.default_rng([seed, step, DROP_PATH_STREAM])
    kept = rng.random((global_batch, len(rates), 2)) < keep[None, :, None]
    return (kept / keep[None, :, None]).astype(np.float32)[rows]
