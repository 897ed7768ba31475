"""Activation functions by config name (the names of `groupvit.configs.SUPPORTED_ACTIVATIONS`)."""

from __future__ import annotations

import math
from typing import Callable

import functools

import keras
from keras import ops


def in_float32(fn: Callable) -> Callable:
    """`fn` computed in float32 on bfloat16 / float16 inputs, cast back: TensorFlow's bfloat16 erf, tanh and
    sigmoid kernels are not vectorised (measured on [8, 261, 1536]: gelu 23.6 ms in bfloat16, 12.7 ms with the
    two casts, 10.4 ms in float32). Float32 and float64 inputs take `fn` unchanged."""

    @functools.wraps(fn)
    def wrapped(x):
        dtype = keras.backend.standardize_dtype(x.dtype)
        if dtype in ("bfloat16", "float16"):
            return ops.cast(fn(ops.cast(x, "float32")), dtype)
        return fn(x)

    return wrapped


@in_float32
def gelu(x):
    """Exact (erf) gelu, as PyTorch's default."""
    return 0.5 * x * (1.0 + ops.erf(x / math.sqrt(2.0)))


@in_float32
def gelu_tanh(x):
    return 0.5 * x * (1.0 + ops.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * ops.power(x, 3.0))))


@in_float32
def quick_gelu(x):
    return x * ops.sigmoid(1.702 * x)


@in_float32
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
