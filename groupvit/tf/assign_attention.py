"""Single-head assignment attention: each image token picks one group (hard, straight-through)."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf._ops import sample_gumbel, static_shape, widen
from groupvit.tf.dense import TFGroupViTDense


def hard_assign(logits, axis: int):
    """One-hot of the softmax argmax (first index on ties), straight-through to the softmax."""
    soft = ops.softmax(logits, axis=axis)
    axis = axis % len(logits.shape)  # one_hot wants a non-negative axis
    hard = ops.one_hot(ops.argmax(soft, axis=axis), logits.shape[axis], axis=axis, dtype=soft.dtype)
    # written as in the reference: hard - soft + soft is not bit-equal to hard in float32
    return hard - ops.stop_gradient(soft) + soft


class TFGroupViTAssignAttention(keras.layers.Layer):
    """`out = proj(norm(hard(q k^T / sqrt(D))) @ v)`; returns (out, soft map without noise)."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.scale = config.hidden_size**-0.5
        self.assign_eps = config.assign_eps
        self.q_proj = TFGroupViTDense(self.embed_dim, name="q_proj")
        self.k_proj = TFGroupViTDense(self.embed_dim, name="k_proj")
        self.v_proj = TFGroupViTDense(self.embed_dim, name="v_proj")
        self.proj = TFGroupViTDense(self.embed_dim, name="proj")

    def build(self, input_shape=None) -> None:
        for dense in (self.q_proj, self.k_proj, self.v_proj, self.proj):
            dense.build((None, self.embed_dim))

    def call(self, query, key, gumbel_noise=None, training: bool = False):
        value = self.v_proj(key)
        # the assignment is an argmax: its logits, softmax and normalisation run in float32 whatever the
        # compute dtype (a no-op for float32); only the products around it take the policy's
        query, key = widen(self.q_proj(query)), widen(self.k_proj(key))
        raw = ops.matmul(query, ops.transpose(key, (0, 2, 1))) * self.scale  # (B, O, N)
        if training:
            if gumbel_noise is None:
                noise = sample_gumbel(ops.shape(raw))
            else:
                noise = ops.cast(ops.convert_to_tensor(gumbel_noise), raw.dtype)
                _check_noise_shape(static_shape(noise), static_shape(raw))
            attn = hard_assign(raw + noise, axis=-2)
        else:
            attn = hard_assign(raw, axis=-2)
        soft = ops.softmax(raw, axis=-2)  # groups compete for each image token
        attn = attn / (ops.sum(attn, axis=-1, keepdims=True) + self.assign_eps)
        return self.proj(ops.matmul(ops.cast(attn, value.dtype), value)), soft


def _check_noise_shape(noise_shape: tuple, raw_shape: tuple) -> None:
    compatible = len(noise_shape) == len(raw_shape) and all(
        a is None or b is None or a == b for a, b in zip(noise_shape, raw_shape)
    )
    if not compatible:
        raise ValueError(
            "gumbel_noise for a stage must have the shape of its assignment logits "
            f"(batch, num_output_groups, tokens)={raw_shape}. Received: {noise_shape}"
        )
