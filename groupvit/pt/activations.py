"""Activation functions by config name (the names of `groupvit.configs.SUPPORTED_ACTIVATIONS`)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def quick_gelu(x: torch.Tensor) -> torch.Tensor:
    return x * torch.sigmoid(1.702 * x)


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return nn.functional.gelu(x, approximate="tanh")


def _gelu_tanh_formula(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def _gelu_erf_formula(x: torch.Tensor) -> torch.Tensor:
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _gelu_fast(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


def _laplace(x: torch.Tensor, mu: float = 0.707107, sigma: float = 0.282095) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf((x - mu) / (sigma * math.sqrt(2.0))))


# The stateless activations of `transformers.activations.ACT2FN`, with its formulas ("prelu" and "xielu" carry
# learned parameters no GroupViT checkpoint holds, so they are not offered).
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": nn.functional.gelu,  # exact erf form
    "gelu_10": lambda x: torch.clip(nn.functional.gelu(x), -10.0, 10.0),
    "gelu_accurate": _gelu_tanh_formula,
    "gelu_fast": _gelu_fast,
    "gelu_new": _gelu_tanh_formula,
    "gelu_python": _gelu_erf_formula,
    "gelu_python_tanh": _gelu_tanh_formula,
    "gelu_pytorch_tanh": _gelu_tanh,
    "hardswish": nn.functional.hardswish,
    "laplace": _laplace,
    "leaky_relu": nn.functional.leaky_relu,  # negative slope 0.01, as nn.LeakyReLU()
    "linear": lambda x: x,
    "mish": lambda x: x * torch.tanh(nn.functional.softplus(x)),
    "quick_gelu": quick_gelu,
    "relu": nn.functional.relu,
    "relu2": lambda x: torch.square(nn.functional.relu(x)),
    "relu6": nn.functional.relu6,
    "sigmoid": torch.sigmoid,
    "silu": nn.functional.silu,
    "sqrtsoftplus": lambda x: nn.functional.softplus(x).sqrt(),
    "swish": nn.functional.silu,
    "tanh": torch.tanh,
}


def get_activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"hidden_act must be one of {sorted(ACTIVATIONS)}. Received: hidden_act={name!r}")
    return ACTIVATIONS[name]
