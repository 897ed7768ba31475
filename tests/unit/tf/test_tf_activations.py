"""Every config activation name is implemented, with PyTorch's formulas."""

import numpy as np
import pytest
from activation_formulas import REFERENCE, X

from groupvit.configs import SUPPORTED_ACTIVATIONS
from groupvit.tf.activations import get_activation


@pytest.mark.parametrize("name", SUPPORTED_ACTIVATIONS)
def test_activation_matches_formula(name):
    got = np.asarray(get_activation(name)(X))
    np.testing.assert_allclose(got, REFERENCE[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="hidden_act must be one of .*Received: hidden_act='prelu'"):
        get_activation("prelu")
