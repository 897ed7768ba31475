"""The authors' initialisation of the token tables, for training from scratch.

The `transformers` port (and so both our backends' constructors) starts the group tokens and the
patch position table at zero. Trained checkpoints never see that, but a run from scratch does, and
zero group tokens are all identical: every group then attends alike, the assignment is decided by
the Gumbel noise alone and the groups stay interchangeable. The authors draw both tables from a
truncated normal (std 0.02, cut at +-2 std); this module does that in numpy, seeded, so both
backends start from the same tables.
"""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.keys import expected_shapes

TOKEN_TABLE_STD = 0.02


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> np.ndarray:
    """Normal(0, std) redrawn outside +-2 std (timm's trunc_normal_ with its default cut)."""
    out = rng.normal(0.0, std, shape)
    bad = np.abs(out) > 2 * std
    while bad.any():
        out[bad] = rng.normal(0.0, std, int(bad.sum()))
        bad = np.abs(out) > 2 * std
    return out.astype(np.float32)


def token_tables(config: GroupViTConfig, seed: int) -> dict[str, np.ndarray]:
    """Group tokens of every stage and the vision position table, as the authors initialise them."""
    rng = np.random.default_rng([seed, 20220301])
    return {key: truncated_normal(rng, shape, TOKEN_TABLE_STD) for key, shape in expected_shapes(config).items()
            if key.endswith(("group_token", "vision_model.embeddings.position_embeddings"))}
