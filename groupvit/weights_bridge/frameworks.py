"""Thin adapters to our PyTorch and Keras 3 models; each imports its framework lazily."""

from __future__ import annotations

import os
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


def write_keras_weights(config: GroupViTConfig, weights: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """A Keras 3 `model.weights.h5` written by our `TFGroupViTModel.save_weights`."""
    model = _keras_model(config)
    model.assign_numpy(check_weights(config, weights, "the weights to write", fill_optional=True))
    model.save_weights(os.fspath(path))


def read_keras_weights(path: str | os.PathLike, config: GroupViTConfig) -> dict[str, np.ndarray]:
    """Canonical weights of a Keras 3 `model.weights.h5` of our `TFGroupViTModel`."""
    model = _keras_model(config)
    model.load_weights(os.fspath(path))
    return check_weights(config, dict(model.to_numpy()), os.fspath(path), fill_optional=True)


def _keras_model(config: GroupViTConfig) -> Any:
    try:
        from groupvit.tf import TFGroupViTModel
    except ImportError as err:
        raise ValueError(
            f"The keras format needs groupvit.tf (Keras 3 with TensorFlow) importable. Received: ImportError: {err}"
        ) from None
    return TFGroupViTModel(config)
