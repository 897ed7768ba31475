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


@in_float32
def gelu_fast(x):
    return 0.5 * x * (1.0 + ops.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))


@in_float32
def laplace(x, mu=0.707107, sigma=0.282095):
    return 0.5 * (1.0 + ops.erf((x - mu) / (sigma * math.sqrt(2.0))))


@in_float32
def mish(x):
    return x * ops.tanh(ops.softplus(x))


@in_float32
def sqrtsoftplus(x):
    return ops.sqrt(ops.softplus(x))


@in_float32
def sigmoid(x):
    return ops.sigmoid(x)


@in_float32
def tanh(x):
    return ops.tanh(x)


def hardswish(x):
    return x * ops.relu6(x + 3.0) / 6.0


# The stateless activations of `transformers.activations.ACT2FN`, with its formulas ("prelu" and "xielu" carry
# learned parameters no GroupViT checkpoint holds, so they are not offered).
ACTIVATIONS: dict[str, Callable] = {
    "gelu": gelu,
    "gelu_10": lambda x: ops.clip(gelu(x), -10.0, 10.0),
    "gelu_accurate": gelu_tanh,
    "gelu_fast": gelu_fast,
    "gelu_new": gelu_tanh,
    "gelu_python": gelu,
    "gelu_python_tanh": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "hardswish": hardswish,
    "laplace": laplace,
    "leaky_relu": lambda x: ops.leaky_relu(x, negative_slope=0.01),
    "linear": lambda x: x,
    "mish": mish,
    "quick_gelu": quick_gelu,
    "relu": ops.relu,
    "relu2": lambda x: ops.square(ops.relu(x)),
    "relu6": ops.relu6,
    "sigmoid": sigmoid,
    "silu": silu,
    "sqrtsoftplus": sqrtsoftplus,
    "swish": silu,
    "tanh": tanh,
}


def get_activation(name: str) -> Callable:
    if name not in ACTIVATIONS:
        raise ValueError(f"hidden_act must be one of {sorted(ACTIVATIONS)}. Received: hidden_act={name!r}")
    return ACTIVATIONS[name]
