"""Thin adapters between numpy weights and torch state dicts; torch is imported lazily, no backend ever
(the keras format is supplied by groupvit.tf: groupvit/tf/keras_weights_file.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.strict import check_weights


def torch_state_dict_to_numpy(state_dict: dict[str, Any]) -> dict[str, np.ndarray]:
    """A PyTorch state dict (e.g. `model.state_dict()`) as numpy arrays (bfloat16 widened to float32)."""
    import torch

    out = {}
    for key, tensor in state_dict.items():
        tensor = tensor.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        out[key] = tensor.numpy()
    return out


def numpy_to_torch_state_dict(weights: dict[str, np.ndarray]) -> dict[str, Any]:
    """Numpy arrays as torch tensors for `load_state_dict` (copies read-only arrays)."""
    import torch

    return {k: torch.from_numpy(np.array(v) if not v.flags.writeable else v) for k, v in weights.items()}


def load_into_torch_model(model: Any, config: GroupViTConfig, weights: dict[str, np.ndarray]) -> None:
    """Checks `weights` strictly against `config`, then `model.load_state_dict(..., strict=True)`."""
    weights = check_weights(config, weights, type(model).__name__ + " weights", fill_optional=True)
    model.load_state_dict(numpy_to_torch_state_dict(weights), strict=True)
