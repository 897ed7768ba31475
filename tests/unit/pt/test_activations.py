"""Every config activation name in PyTorch, against independent numpy formulas, and its refusal of others."""

import numpy as np
import pytest
import torch
from activation_formulas import REFERENCE, X

from groupvit.configs import SUPPORTED_ACTIVATIONS
from groupvit.pt.activations import get_activation


@pytest.mark.parametrize("name", SUPPORTED_ACTIVATIONS)
def test_activation_matches_formula(name):
    got = get_activation(name)(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(got, REFERENCE[name](X.astype(np.float64)), rtol=1e-5, atol=1e-6)


def test_every_name_has_a_formula_and_stateful_ones_are_refused():
    assert set(REFERENCE) == set(SUPPORTED_ACTIVATIONS)
    with pytest.raises(ValueError, match="hidden_act must be one of .*Received: hidden_act='xielu'"):
        get_activation("xielu")
