"""BatchNorm1d with PyTorch's semantics (Keras' BatchNormalization differs in momentum and variance).

Under a tf.distribute strategy with more than one replica, training statistics cover the global
batch of all replicas (SyncBatchNorm; the Keras twin of `groupvit/pt/training/sync_batch_norm.py`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def _sync_context():
    """The replica context when statistics must be summed across replicas, else None."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def synced_moments(inputs, context):
    """(mean, biased variance, global row count) over every replica's rows, with gradients.

    Two passes as in one process: the all-reduced sum gives the mean, then the all-reduced
    centred sum of squares the variance (`ReplicaContext.all_reduce` has a gradient: an
    all-reduce SUM of the upstream gradient).
    """
    total = tf.distribute.ReduceOp.SUM
    local = ops.cast(ops.shape(inputs)[0], inputs.dtype)
    count = context.all_reduce(total, ops.reshape(local, (1,)))[0]
    mean = context.all_reduce(total, ops.sum(inputs, axis=0)) / count  # (C,)
    centred = inputs - mean
    variance = context.all_reduce(total, ops.sum(centred * centred, axis=0)) / count
    return mean, variance, count


class TFGroupViTBatchNorm1d(keras.layers.Layer):
    """PyTorch `nn.BatchNorm1d` on [N, C] inputs.

    Training normalizes with the batch mean and the biased batch variance and updates
    `running = (1 - momentum) * running + momentum * batch_stat`, where the variance
    stat is the unbiased one (PyTorch's rule). Inference uses the running statistics.
    Variables are named as Keras' own (gamma, beta, moving_mean, moving_variance).
    With more than one replica in sync the statistics are those of the global batch
    (`synced_moments`); every replica then computes the same running statistics, so they are
    mirrored variables that take the first replica's value.
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
        # identical on every replica (global statistics): keep the first replica's write
        self.moving_mean = self.add_weight(name="moving_mean", shape=shape, initializer="zeros", trainable=False,
                                           aggregation="only_first_replica")
        self.moving_variance = self.add_weight(
            name="moving_variance", shape=shape, initializer="ones", trainable=False,
            aggregation="only_first_replica",
        )

    def call(self, inputs, training: bool = False):
        if not training:
            mean, variance = self.moving_mean, self.moving_variance
        else:
            context = _sync_context()
            if context is not None:
                mean, variance, n = synced_moments(inputs, context)
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
            self._update_moving(mean, variance * n / (n - 1.0))
        return (inputs - mean) / ops.sqrt(variance + self.epsilon) * self.gamma + self.beta

    def _update_moving(self, mean, unbiased) -> None:
        m = self.momentum
        self.moving_mean.assign((1.0 - m) * self.moving_mean + m * ops.stop_gradient(mean))
        self.moving_variance.assign((1.0 - m) * self.moving_variance + m * ops.stop_gradient(unbiased))

    def get_config(self) -> dict:
        return {**super().get_config(), "num_features": self.num_features, "epsilon": self.epsilon,
                "momentum": self.momentum}
