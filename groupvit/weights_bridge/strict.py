"""Strict checking of canonical weights against the key/shape contract of a config."""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.weights_bridge.errors import CheckpointMismatchError
from groupvit.weights_bridge.keys import IGNORED_KEYS, OPTIONAL_BUFFER_SUFFIXES, expected_shapes

# Source keys that may be present and are dropped without a slot behind them.
ALLOWED_EXTRA_KEYS = frozenset(IGNORED_KEYS)
# Keys whose absence is fine: a buffer some writers leave out (the old TF port has none).
OPTIONAL_SUFFIXES = OPTIONAL_BUFFER_SUFFIXES


def is_optional(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in OPTIONAL_SUFFIXES


def check_weights(
    config: GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig,
    weights: dict[str, np.ndarray],
    source: str,
    *,
    fill_optional: bool = True,
) -> dict[str, np.ndarray]:
    """Returns `weights` restricted to the config's keys; raises one error listing every problem.

    Allow-listed extras (`text_model.embeddings.position_ids`) are dropped. A missing
    `num_batches_tracked` (the old TF port and our Keras model have no such buffer, so files
    they write lack it) is filled with 0 when `fill_optional`, otherwise reported as missing.
    """
    expected = expected_shapes(config)
    missing, unexpected, mis_shaped = [], [], []
    for key in weights:
        if key not in expected and key not in ALLOWED_EXTRA_KEYS:
            unexpected.append(key)
    for key, shape in expected.items():
        if key not in weights:
            if not (fill_optional and is_optional(key)):
                missing.append(key)
            continue
        got = tuple(np.shape(weights[key]))
        if got != tuple(shape):
            mis_shaped.append((key, tuple(shape), got))
    if missing or unexpected or mis_shaped:
        hint = ""
        if mis_shaped and len(mis_shaped) + len(missing) + len(unexpected) > 2:
            hint = "The checkpoint was probably made for a different config (compare config.json with the checkpoint)"
        raise CheckpointMismatchError(source, missing, unexpected, mis_shaped, hint)
    out: dict[str, np.ndarray] = {}
    for key, shape in expected.items():
        if key in weights:
            out[key] = weights[key]
        else:
            out[key] = np.zeros(shape, dtype=np.int64)
    return out
