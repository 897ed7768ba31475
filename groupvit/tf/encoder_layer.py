"""Pre-norm transformer layer shared by the text and vision towers."""

from __future__ import annotations

import keras

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.tf.attention import TFGroupViTAttention
from groupvit.tf.mlp import TFGroupViTMLP


class TFGroupViTEncoderLayer(keras.layers.Layer):
    """`h = x + Attn(LN1(x), mask); out = h + MLP(LN2(h))`; returns (out, attention weights). With
    `residual_scales` [B, 2] (stochastic depth, in training) each sample's two branches are multiplied by its
    scales first (0 drops a branch)."""

    def __init__(self, config: GroupViTTextConfig | GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.self_attn = TFGroupViTAttention(config, name="self_attn")
        self.layer_norm1 = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm1")
        self.mlp = TFGroupViTMLP(config, name="mlp")
        self.layer_norm2 = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layer_norm2")

    def build(self, input_shape=None) -> None:
        shape = (None, None, self.embed_dim)
        self.self_attn.build(shape)
        self.layer_norm1.build(shape)
        self.mlp.build(shape)
        self.layer_norm2.build(shape)

    def call(self, hidden_states, attention_mask=None, training: bool = False, residual_scales=None):
        attn_out, weights = self.self_attn(self.layer_norm1(hidden_states), attention_mask=attention_mask,
                                           training=training)
        mlp_scale = None
        if residual_scales is not None:
            scales = keras.ops.cast(residual_scales, attn_out.dtype)[:, None, :]  # (B, 1, 2)
            attn_out, mlp_scale = attn_out * scales[..., 0:1], scales[..., 1:2]
        hidden_states = hidden_states + attn_out
        mlp_out = self.mlp(self.layer_norm2(hidden_states))
        hidden_states = hidden_states + (mlp_out if mlp_scale is None else mlp_out * mlp_scale)
        return hidden_states, weights
