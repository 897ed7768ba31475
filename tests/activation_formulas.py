"""Independent numpy (float64) formulas of every activation name a config may hold: those of transformers'
ACT2FN (tests/reference checks PyTorch against ACT2FN itself)."""

import math

import numpy as np

X = np.linspace(-12, 12, 97, dtype=np.float32)
ERF = np.vectorize(math.erf)


def _tanh_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _softplus(x):
    return np.logaddexp(0, x)


def _gelu(x):
    return 0.5 * x * (1 + ERF(x / math.sqrt(2)))


REFERENCE = {
    "gelu": _gelu,
    "gelu_10": lambda x: np.clip(_gelu(x), -10, 10),
    "gelu_accurate": _tanh_gelu,
    "gelu_fast": lambda x: 0.5 * x * (1 + np.tanh(x * 0.7978845608 * (1 + 0.044715 * x * x))),
    "gelu_new": _tanh_gelu,
    "gelu_python": _gelu,
    "gelu_python_tanh": _tanh_gelu,
    "gelu_pytorch_tanh": _tanh_gelu,
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "laplace": lambda x: 0.5 * (1 + ERF((x - 0.707107) / (0.282095 * math.sqrt(2)))),
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "linear": lambda x: x,
    "mish": lambda x: x * np.tanh(_softplus(x)),
    "quick_gelu": lambda x: x / (1 + np.exp(-1.702 * x)),
    "relu": lambda x: np.maximum(x, 0),
    "relu2": lambda x: np.maximum(x, 0) ** 2,
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "sqrtsoftplus": lambda x: np.sqrt(_softplus(x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
    "tanh": np.tanh,
}
