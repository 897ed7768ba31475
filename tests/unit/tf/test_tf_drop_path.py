"""Keras `drop_path_scales`: training only, ones change nothing, a dropped branch changes the sample's tokens only,
a mis-shaped array is named. (That the scales act as the authors' DropPath is checked in PyTorch,
tests/unit/pt/test_drop_path.py, and Keras against PyTorch in tests/equivalence.)"""

import numpy as np
import pytest

from groupvit.tf import TFGroupViTVisionModel
from groupvit.training.noise import gumbel_noise
from tiny_configs import tiny_config


@pytest.fixture(scope="module")
def vision():
    config = tiny_config().vision_config
    model = TFGroupViTVisionModel(config)
    pixels = np.random.default_rng(0).normal(size=(3, 3, *config.image_hw)).astype(np.float32)
    return config, model, pixels, gumbel_noise(config, 0, 0, 3)


def _tokens(model, pixels, **kwargs):
    return np.asarray(model(pixels, **kwargs).last_hidden_state)


def test_ones_change_nothing_in_training_and_eval_ignores_the_scales(vision):
    config, model, pixels, noise = vision
    layers = sum(config.depths)
    plain = _tokens(model, pixels, gumbel_noise=noise, training=True)
    ones = _tokens(model, pixels, gumbel_noise=noise, training=True, drop_path_scales=np.ones((3, layers, 2), "f4"))
    np.testing.assert_array_equal(ones, plain)
    evaluated = _tokens(model, pixels)
    zeros = _tokens(model, pixels, drop_path_scales=np.zeros((3, layers, 2), "f4"))
    np.testing.assert_array_equal(zeros, evaluated)


def test_scales_act_per_sample(vision):
    config, model, pixels, noise = vision
    scales = np.ones((3, sum(config.depths), 2), np.float32)
    scales[1, -1, 1] = 0.0  # sample 1 drops its last layer's MLP branch
    plain = _tokens(model, pixels, gumbel_noise=noise, training=True)
    dropped = _tokens(model, pixels, gumbel_noise=noise, training=True, drop_path_scales=scales)
    np.testing.assert_array_equal(dropped[[0, 2]], plain[[0, 2]])
    assert not np.allclose(dropped[1], plain[1], atol=1e-4)


def test_a_mis_shaped_scale_array_is_named(vision):
    config, model, pixels, noise = vision
    with pytest.raises(ValueError, match=r"drop_path_scales must be .* = \[3, 3, 2\]. Received: shape=\[3, 3\]"):
        model(pixels, training=True, drop_path_scales=np.ones((3, 3), np.float32))
