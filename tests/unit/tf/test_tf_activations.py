"""Every config activation name is implemented, with PyTorch's formulas."""

import math

import numpy as np
import pytest

from groupvit.configs import SUPPORTED_ACTIVATIONS
from groupvit.tf.activations import get_activation

X = np.linspace(-6, 6, 49, dtype=np.float32)
ERF = np.vectorize(math.erf)


def _tanh_gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


REFERENCE = {
    "gelu": lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2))),
    "gelu_new": _tanh_gelu,
    "gelu_pytorch_tanh": _tanh_gelu,
    "quick_gelu": lambda x: x / (1 + np.exp(-1.702 * x)),
    "relu": lambda x: np.maximum(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "swish": lambda x: x / (1 + np.exp(-x)),
}


@pytest.mark.parametrize("name", SUPPORTED_ACTIVATIONS)
def test_activation_matches_formula(name):
    got = np.asarray(get_activation(name)(X))
    np.testing.assert_allclose(got, REFERENCE[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="hidden_act must be one of .*Received: hidden_act='tanh'"):
        get_activation("tanh")
