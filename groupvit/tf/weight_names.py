"""Keras variable paths <-> PyTorch state-dict keys: one rule table plus per-kind layout transforms.

Keras layer names equal the PyTorch attribute paths (`encoder/stages.0/layers.1/self_attn/q_proj`),
so a key is the variable's path below the model with "/" read as "." and the variable's own
name renamed by `LEAF_RULES`. Weights made with `add_weight` keep their PyTorch names
(`group_token`, `position_embeddings`, `logit_scale`) and are copied as they are.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Transform = Callable[[np.ndarray], np.ndarray]


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _dense_to_torch(x: np.ndarray) -> np.ndarray:  # (in, out) -> (out, in)
    return x.T


def _conv_to_torch(x: np.ndarray) -> np.ndarray:  # (kh, kw, in, out) -> (out, in, kh, kw)
    return x.transpose(3, 2, 0, 1)


def _conv_from_torch(x: np.ndarray) -> np.ndarray:  # (out, in, kh, kw) -> (kh, kw, in, out)
    return x.transpose(2, 3, 1, 0)


# Keras variable name -> PyTorch parameter name (the last component of the key).
LEAF_RULES: dict[str, str] = {
    "kernel": "weight",  # Dense (rank 2) or Conv2D (rank 4); layout transform by rank below
    "bias": "bias",
    "gamma": "weight",  # LayerNormalization and BatchNorm1d
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
    "embeddings": "weight",  # keras.layers.Embedding
}

# (to PyTorch, from PyTorch) by the rank of a `kernel` variable.
KERNEL_TRANSFORMS: dict[int, tuple[Transform, Transform]] = {
    2: (_dense_to_torch, _dense_to_torch),
    4: (_conv_to_torch, _conv_from_torch),
}


def torch_key(relative_path: str) -> str:
    """`text_model/encoder/layers.0/mlp/fc1/kernel` -> `text_model.encoder.layers.0.mlp.fc1.weight`."""
    *parents, leaf = relative_path.split("/")
    return ".".join([*parents, LEAF_RULES.get(leaf, leaf)])


def transforms(relative_path: str, rank: int) -> tuple[Transform, Transform]:
    """(Keras -> PyTorch, PyTorch -> Keras) layout transforms of one variable."""
    if relative_path.rsplit("/", 1)[-1] == "kernel":
        if rank not in KERNEL_TRANSFORMS:
            raise ValueError(f"A kernel must be rank 2 (Dense) or 4 (Conv2D). Received: {relative_path} rank {rank}")
        return KERNEL_TRANSFORMS[rank]
    return _identity, _identity
