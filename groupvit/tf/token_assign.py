"""The grouping block: group tokens are projected, attend to the image tokens, then absorb them."""

from __future__ import annotations

import keras

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf.assign_attention import TFGroupViTAssignAttention
from groupvit.tf.cross_attention_layer import TFGroupViTCrossAttentionLayer
from groupvit.tf.mlp import TFGroupViTMixerMLP, TFGroupViTMLP


class TFGroupViTTokenAssign(keras.layers.Layer):
    """G group tokens + N image tokens -> O new tokens and the soft map [B, O, N]."""

    def __init__(self, config: GroupViTVisionConfig, num_group_token: int, num_output_group: int, **kwargs) -> None:
        super().__init__(**kwargs)
        eps = config.layer_norm_eps
        self.embed_dim = config.hidden_size
        tokens_dim, channels_dim = config.assign_mlp_dims
        self.norm_tokens = keras.layers.LayerNormalization(epsilon=eps, name="norm_tokens")
        self.mlp_inter = TFGroupViTMixerMLP(config, num_group_token, tokens_dim, num_output_group, name="mlp_inter")
        self.norm_post_tokens = keras.layers.LayerNormalization(epsilon=eps, name="norm_post_tokens")
        self.norm_x = keras.layers.LayerNormalization(epsilon=eps, name="norm_x")
        self.pre_assign_attn = TFGroupViTCrossAttentionLayer(config, name="pre_assign_attn")
        self.assign = TFGroupViTAssignAttention(config, name="assign")
        self.norm_new_x = keras.layers.LayerNormalization(epsilon=eps, name="norm_new_x")
        self.mlp_channels = TFGroupViTMLP(config, config.hidden_size, channels_dim, config.hidden_size,
                                          name="mlp_channels")

    def build(self, input_shape=None) -> None:
        shape = (None, None, self.embed_dim)
        for layer in (self.norm_tokens, self.norm_post_tokens, self.norm_x, self.pre_assign_attn, self.assign,
                      self.norm_new_x, self.mlp_channels, self.mlp_inter):
            layer.build(shape)

    def call(self, image_tokens, group_tokens, gumbel_noise=None, training: bool = False):
        group_tokens = self.norm_tokens(group_tokens)
        image_tokens = self.norm_x(image_tokens)
        projected = self.norm_post_tokens(self.mlp_inter(group_tokens))  # (B, O, D)
        projected = self.pre_assign_attn(projected, image_tokens, training=training)
        new_tokens, soft = self.assign(projected, image_tokens, gumbel_noise=gumbel_noise, training=training)
        new_tokens = new_tokens + projected
        new_tokens = new_tokens + self.mlp_channels(self.norm_new_x(new_tokens))
        return new_tokens, soft
