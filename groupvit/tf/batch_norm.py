"""BatchNorm1d with PyTorch's semantics (Keras' BatchNormalization differs in momentum and variance)."""

from __future__ import annotations

import keras
from keras import ops


class TFGroupViTBatchNorm1d(keras.layers.Layer):
    """PyTorch `nn.BatchNorm1d` on [N, C] inputs.

    Training normalizes with the batch mean and the biased batch variance and updates
    `running = (1 - momentum) * running + momentum * batch_stat`, where the variance
    stat is the unbiased one (PyTorch's rule). Inference uses the running statistics.
    Variables are named as Keras' own (gamma, beta, moving_mean, moving_variance).
    """

    def __init__(self, num_features: int, epsilon: float, momentum: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_features = num_features
        self.epsilon = epsilon
        self.momentum = momentum

    def build(self, input_shape=None) -> None:
        shape = (self.num_features,)
        self.gamma = self.add_weight(name="gamma", shape=shape, initializer="ones")
        self.beta = self.add_weight(name="beta", shape=shape, initializer="zeros")
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape, initializer="zeros", trainable=False)
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer="ones", trainable=False
        )

    def call(self, inputs, training: bool = False):
        if not training:
            mean, variance = self.moving_mean, self.moving_variance
        else:
            count = inputs.shape[0]
            if count is not None and count < 2:
                raise ValueError(
                    "BatchNorm1d in training needs more than one value per channel (batch size >= 2). "
                    f"Received: input shape={tuple(inputs.shape)}"
                )
            mean = ops.mean(inputs, axis=0)
            variance = ops.mean(ops.square(inputs - mean), axis=0)  # biased, used to normalize
            n = ops.cast(ops.shape(inputs)[0], inputs.dtype)
            unbiased = variance * n / (n - 1.0)
            m = self.momentum
            self.moving_mean.assign((1.0 - m) * self.moving_mean + m * ops.stop_gradient(mean))
            self.moving_variance.assign((1.0 - m) * self.moving_variance + m * ops.stop_gradient(unbiased))
        return (inputs - mean) / ops.sqrt(variance + self.epsilon) * self.gamma + self.beta

    def get_config(self) -> dict:
        return {**super().get_config(), "num_features": self.num_features, "epsilon": self.epsilon,
                "momentum": self.momentum}
