"""Multi-head attention written from Dense layers (the PyTorch weight layout, no fused projections)."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.tf._ops import dropout, widen
from groupvit.tf.dense import TFGroupViTDense


class TFGroupViTAttention(keras.layers.Layer):
    """Self- or cross-attention; q is scaled by head_dim**-0.5 after its projection."""

    def __init__(self, config: GroupViTTextConfig | GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.attention_dropout = config.attention_dropout
        self.k_proj = TFGroupViTDense(self.embed_dim, name="k_proj")
        self.v_proj = TFGroupViTDense(self.embed_dim, name="v_proj")
        self.q_proj = TFGroupViTDense(self.embed_dim, name="q_proj")
        self.out_proj = TFGroupViTDense(self.embed_dim, name="out_proj")

    def build(self, input_shape=None) -> None:
        for dense in (self.k_proj, self.v_proj, self.q_proj, self.out_proj):
            dense.build((None, self.embed_dim))

    def _split_heads(self, x):
        length = ops.shape(x)[1]
        x = ops.reshape(x, (-1, length, self.num_heads, self.head_dim))
        return ops.transpose(x, (0, 2, 1, 3))  # (B, nh, T, hs)

    def call(self, hidden_states, attention_mask=None, encoder_hidden_states=None, training: bool = False):
        """Returns (output [B, T, D], weights [B, nh, T, S])."""
        source = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query = self._split_heads(self.q_proj(hidden_states) * self.scale)  # (B, nh, T, hs)
        key = self._split_heads(self.k_proj(source))  # (B, nh, S, hs)
        value = self._split_heads(self.v_proj(source))  # (B, nh, S, hs)
        weights = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2)))  # (B, nh, T, S)
        weights = widen(weights)  # mask and softmax in float32 under a mixed policy
        if attention_mask is not None:
            weights = weights + ops.cast(attention_mask, weights.dtype)
        weights = ops.softmax(weights, axis=-1)
        probs = ops.cast(dropout(weights, self.attention_dropout, training), value.dtype)
        out = ops.transpose(ops.matmul(probs, value), (0, 2, 1, 3))  # (B, T, nh, hs)
        out = ops.reshape(out, (-1, ops.shape(out)[1], self.embed_dim))
        return self.out_proj(out), weights
