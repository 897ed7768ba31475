"""Small tensor helpers shared by the Keras layers (stateless; no Keras variables are created)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops


def dropout(x, rate: float, training: bool):
    """Dropout without a Keras SeedGenerator, so the model holds only checkpoint variables."""
    if not training or rate == 0.0:
        return x
    return tf.nn.dropout(x, rate=rate)


def sample_gumbel(shape) -> tf.Tensor:
    """Gumbel(0, 1) noise: -log(-log(U)), U ~ Uniform(tiny, 1)."""
    uniform = tf.random.uniform(shape, minval=np.finfo(np.float32).tiny, maxval=1.0, dtype=tf.float32)
    return -ops.log(-ops.log(uniform))


def normalize(x):
    """x / ||x|| over the last axis, written as the reference does (no epsilon)."""
    return x / ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))


def contrastive_loss(logits_per_text):
    """Mean of the text->image and image->text cross-entropies with the diagonal as targets."""

    def cross_entropy(logits):
        log_probs = ops.log_softmax(logits, axis=-1)
        return -ops.mean(ops.diagonal(log_probs))

    return (cross_entropy(logits_per_text) + cross_entropy(ops.transpose(logits_per_text))) / 2.0


def static_shape(x) -> tuple:
    """Python shape with None for unknown dimensions (works under tf.function)."""
    return tuple(x.shape)
