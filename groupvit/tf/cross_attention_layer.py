"""Post-norm cross-attention layer of the grouping block (group tokens attend to image tokens)."""

from __future__ import annotations

import keras

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf.attention import TFGroupViTAttention
from groupvit.tf.mlp import TFGroupViTMLP


class TFGroupViTCrossAttentionLayer(keras.layers.Layer):
    """`y = q + MHA(q, x); y = y + MLP(norm2(y)); return norm_post(y)` (no norm on the inputs)."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.attn = TFGroupViTAttention(config, name="attn")
        self.norm2 = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="norm2")
        self.mlp = TFGroupViTMLP(config, name="mlp")
        self.norm_post = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="norm_post")

    def build(self, input_shape=None) -> None:
        shape = (None, None, self.embed_dim)
        for layer in (self.attn, self.norm2, self.mlp, self.norm_post):
            layer.build(shape)

    def call(self, query, key, training: bool = False):
        x = query + self.attn(query, encoder_hidden_states=key, training=training)[0]
        x = x + self.mlp(self.norm2(x))
        return self.norm_post(x)
