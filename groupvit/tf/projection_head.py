"""Projection head: Dense -> BatchNorm1d -> ReLU -> Dense (PyTorch Sequential indices 0, 1, 3)."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.tf.batch_norm import TFGroupViTBatchNorm1d
from groupvit.tf.dense import TFGroupViTDense

BATCH_NORM_EPS = 1e-5  # PyTorch BatchNorm1d default, as in the released checkpoints
BATCH_NORM_MOMENTUM = 0.1


class TFGroupViTProjectionHead(keras.layers.Layer):
    """`[.., in] -> [.., out]`; sublayers are named "0", "1", "3" like the PyTorch Sequential."""

    def __init__(self, in_dim: int, mid_dim: int, out_dim: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.in_dim, self.mid_dim, self.out_dim = in_dim, mid_dim, out_dim
        self.linear_in = TFGroupViTDense(mid_dim, name="0")
        self.batch_norm = TFGroupViTBatchNorm1d(mid_dim, epsilon=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM,
                                                name="1")
        self.linear_out = TFGroupViTDense(out_dim, name="3")

    def build(self, input_shape=None) -> None:
        self.linear_in.build((None, self.in_dim))
        self.batch_norm.build((None, self.mid_dim))
        self.linear_out.build((None, self.mid_dim))

    def call(self, inputs, training: bool = False):
        hidden = self.batch_norm(self.linear_in(inputs), training=training)  # (N, mid)
        return self.linear_out(ops.relu(hidden))
