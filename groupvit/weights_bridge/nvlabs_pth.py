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
EXPECTED = ("an authors' GroupViT checkpoint (a torch.save'd dict with the state dict under 'model' or "
            "'state_dict', or the state dict itself)")
AUTHORS_PREFIXES = ("img_encoder.", "text_encoder.")
WRAPPER_PREFIX = "module."  # a state dict saved from a DistributedDataParallel-wrapped model


def read_nvlabs_pth(path: str | os.PathLike, config: GroupViTConfig) -> dict[str, np.ndarray]:
    """Canonical weights (our names, PyTorch layouts) of an authors' `.pth` checkpoint."""
    obj = load_torch_file(path, inert_globals=True)
    entry = next((k for k in ("model", "state_dict") if isinstance(obj, dict) and isinstance(obj.get(k), dict)), None)
    if entry is None and isinstance(obj, dict) and any(
            isinstance(k, str) and _unwrapped(k).startswith(AUTHORS_PREFIXES) for k in obj):
        state_obj, skipped = obj, []  # the state dict saved on its own
    elif entry is not None:
        state_obj, skipped = obj[entry], [k for k in obj if k != entry]
    else:
        keys = list(obj)[:8] if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointFormatError(path, EXPECTED, f"top-level {keys}")
    if skipped:
        logger.info("%s: skipped non-weight entries %s", os.fspath(path), skipped)
    state = state_dict_arrays(state_obj, path, EXPECTED)
    if state and all(k.startswith(WRAPPER_PREFIX) for k in state):
        state = {k[len(WRAPPER_PREFIX):]: v for k, v in state.items()}
    return authors_to_canonical(config, state, os.fspath(path))


def _unwrapped(key: str) -> str:
    return key[len(WRAPPER_PREFIX):] if key.startswith(WRAPPER_PREFIX) else key


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
