"""LayerNorm then a token-mixing MLP: the previous stage's group tokens -> this stage's count."""

from __future__ import annotations

import keras

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf.mlp import TFGroupViTMixerMLP


class TFGroupViTGroupProjector(keras.layers.Layer):
    """PyTorch's `nn.Sequential(LayerNorm, MixerMLP)`; sublayers are named "0" and "1" like its indices."""

    def __init__(self, config: GroupViTVisionConfig, num_prev_group_token: int, num_group_token: int,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="0")
        self.mixer = TFGroupViTMixerMLP(config, num_prev_group_token, config.hidden_size // 2, num_group_token,
                                        name="1")

    def build(self, input_shape=None) -> None:
        self.norm.build((None, None, self.embed_dim))
        self.mixer.build((None, self.embed_dim, None))

    def call(self, prev_group_tokens):
        return self.mixer(self.norm(prev_group_tokens))  # (B, G_prev, D) -> (B, G, D)
