"""Activation functions by config name (the names of `groupvit.configs.SUPPORTED_ACTIVATIONS`)."""

from __future__ import annotations

import math
from typing import Callable

from keras import ops


def gelu(x):
    """Exact (erf) gelu, as PyTorch's default."""
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):
    return 0.5 * x * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * ops.power(x, 3.0))))


def quick_gelu(x):
    return x * ops.sigmoid(1.702 * x)


def silu(x):
    return x * ops.sigmoid(x)


ACTIVATIONS: dict[str, Callable] = {
    "gelu": gelu,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "quick_gelu": quick_gelu,
    "relu": ops.relu,
    "silu": silu,
    "swish": silu,
}


def get_activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"hidden_act must be one of {sorted(ACTIVATIONS)}. Received: hidden_act={name!r}")
    return ACTIVATIONS[name]
