"""TFGroupViTBatchNorm1d follows PyTorch's BatchNorm1d (biased variance to normalize, unbiased to track)."""

import numpy as np
import pytest

from groupvit.tf.batch_norm import TFGroupViTBatchNorm1d


def make_layer():
    layer = TFGroupViTBatchNorm1d(5, epsilon=1e-5, momentum=0.1, name="bn")
    layer.build((None, 5))
    rng = np.random.default_rng(0)
    layer.gamma.assign(rng.standard_normal(5).astype(np.float32))
    layer.beta.assign(rng.standard_normal(5).astype(np.float32))
    layer.moving_mean.assign(rng.standard_normal(5).astype(np.float32))
    layer.moving_variance.assign((rng.random(5) + 0.5).astype(np.float32))
    return layer


def test_training_normalizes_with_batch_stats_and_updates_running_stats():
    layer = make_layer()
    x = np.random.default_rng(1).standard_normal((6, 5)).astype(np.float32) * 3 + 1
    mean0, var0 = layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy()
    gamma, beta = layer.gamma.numpy(), layer.beta.numpy()
    y = layer(x, training=True).numpy()
    expected = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.9 * mean0 + 0.1 * x.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 * var0 + 0.1 * x.var(0, ddof=1), rtol=1e-6)


def test_inference_uses_running_stats():
    layer = make_layer()
    x = np.random.default_rng(2).standard_normal((3, 5)).astype(np.float32)
    expected = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-5)
    expected = expected * layer.gamma.numpy() + layer.beta.numpy()
    np.testing.assert_allclose(layer(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_training_with_one_sample_is_an_error():
    with pytest.raises(ValueError, match="batch size >= 2"):
        make_layer()(np.zeros((1, 5), np.float32), training=True)
