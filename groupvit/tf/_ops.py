"""Small tensor helpers shared by the Keras layers (stateless; no Keras variables are created)."""

from __future__ import annotations

import numpy as np
import keras
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


def widen(x):
    """`x` in float32 when it is a reduced float (bfloat16, float16); float32 and float64 unchanged."""
    return ops.cast(x, "float32") if keras.backend.standardize_dtype(x.dtype) in ("bfloat16", "float16") else x


def normalize(x):
    """x / ||x|| over the last axis, written as the reference does (no epsilon); in float32 whatever x's dtype
    (a mixed_bfloat16 model's embeddings, logits and segmentation are float32)."""
    x = widen(x)
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
