"""The authors' training checkpoints (`group_vit_gcc_yfcc_30e-879422e0.pth`), read only.

The file is a torch.save'd dict: the state dict under `model`, plus an OmegaConf config,
optimizer and scheduler state. Everything outside `model` is unpickled into inert
placeholders (no import, no code) and skipped; `model` must hold only tensors.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.errors import CheckpointFormatError, CheckpointMismatchError
from groupvit.weights_bridge.keys import expected_shapes
from groupvit.weights_bridge.nvlabs_names import (
    CONV1D_WEIGHTS,
    DROPPED,
    authors_names,
    split_qkv,
    squeeze_conv1d,
)
from groupvit.weights_bridge.pytorch_bin import state_dict_arrays
from groupvit.weights_bridge.strict import check_weights
from groupvit.weights_bridge.torch_pickle import load_torch_file

logger = logging.getLogger(__name__)
EXPECTED = "an authors' GroupViT checkpoint (a torch.save'd dict with the state dict under 'model')"


def read_nvlabs_pth(path: str | os.PathLike, config: GroupViTConfig) -> dict[str, np.ndarray]:
    """Canonical weights (our names, PyTorch layouts) of an authors' `.pth` checkpoint."""
    obj = load_torch_file(path, inert_globals=True)
    if not isinstance(obj, dict) or "model" not in obj:
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointFormatError(path, EXPECTED, f"top-level {keys}")
    skipped = [k for k in obj if k != "model"]
    if skipped:
        logger.info("%s: skipped non-weight entries %s", os.fspath(path), skipped)
    state = state_dict_arrays(obj["model"], path, EXPECTED)
    return authors_to_canonical(config, state, os.fspath(path))


def authors_to_canonical(config: GroupViTConfig, state: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    """Renames by the table in `nvlabs_names`, then the special cases, then the strict check."""
    expected = expected_shapes(config)
    plain, fused = authors_names(config, list(expected))
    out: dict[str, np.ndarray] = {}
    unexpected, mis_shaped = [], []
    for key, value in state.items():
        if key in DROPPED:
            logger.warning("%s: dropped %s (used only in training)", source, key)
        elif key in fused:
            targets = fused[key]
            want = (3 * expected[targets[0]][0],) + tuple(expected[targets[0]][1:])
            if value.shape != want:
                mis_shaped.append((key, want, value.shape))
                continue
            for target, part in zip(targets, split_qkv(value)):
                out[target] = part
        elif key in plain:
            if key in CONV1D_WEIGHTS:
                want = tuple(expected[plain[key]]) + (1,)
                if value.shape != want:
                    mis_shaped.append((key, want, value.shape))
                    continue
                value = squeeze_conv1d(value)
            out[plain[key]] = value
        else:
            unexpected.append(key)
    if unexpected or mis_shaped:
        missing = [k for k in expected if k not in out]
        raise CheckpointMismatchError(source, missing, unexpected, mis_shaped)
    return check_weights(config, out, source, fill_optional=True)


def canonical_to_authors(config: GroupViTConfig, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inverse rename (fuses q|k|v, adds the Conv1d axis); used to build test checkpoints."""
    weights = check_weights(config, weights, "the weights to convert", fill_optional=False)
    plain, fused = authors_names(config, list(weights))
    out = {theirs: weights[ours] for theirs, ours in plain.items()}
    for theirs, targets in fused.items():
        out[theirs] = np.concatenate([weights[t] for t in targets], axis=0)
    for key in CONV1D_WEIGHTS:
        out[key] = out[key][:, :, None]
    return out
