"""One stage of the vision encoder: layers over [image tokens, group tokens], then grouping."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf.encoder_layer import TFGroupViTEncoderLayer
from groupvit.tf.group_projector import TFGroupViTGroupProjector
from groupvit.tf.token_assign import TFGroupViTTokenAssign


class TFGroupViTStage(keras.layers.Layer):
    """Stage s (the authors' `GroupingLayer`): returns (tokens, group tokens, soft map)."""

    def __init__(
        self,
        config: GroupViTVisionConfig,
        depth: int,
        num_prev_group_token: int,
        num_group_token: int,
        num_output_group: int,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.num_group_token = num_group_token
        self.layers = [TFGroupViTEncoderLayer(config, name=f"layers.{i}") for i in range(depth)]
        self.downsample = None
        self.group_projector = None
        if num_group_token > 0:
            self.downsample = TFGroupViTTokenAssign(config, num_group_token, num_output_group, name="downsample")
            if num_prev_group_token > 0:
                self.group_projector = TFGroupViTGroupProjector(
                    config, num_prev_group_token, num_group_token, name="group_projector"
                )

    @property
    def with_group_token(self) -> bool:
        return self.num_group_token > 0

    def build(self, input_shape=None) -> None:
        if self.with_group_token:
            self.group_token = self.add_weight(
                name="group_token", shape=(1, self.num_group_token, self.embed_dim), initializer="zeros"
            )
        for layer in self.layers:
            layer.build((None, None, self.embed_dim))
        for layer in (self.downsample, self.group_projector):
            if layer is not None:
                layer.build((None, None, self.embed_dim))

    def call(self, hidden_states, prev_group_token=None, gumbel_noise=None, training: bool = False,
             drop_path_scales=None):
        """`drop_path_scales`: [B, depth, 2], this stage's layers' branch scales (stochastic depth), or None."""
        def scales(i: int):
            return None if drop_path_scales is None else drop_path_scales[:, i]

        if not self.with_group_token:
            for i, layer in enumerate(self.layers):
                hidden_states = layer(hidden_states, training=training, residual_scales=scales(i))[0]
            return hidden_states, None, None

        group_token = ops.broadcast_to(
            self.group_token, (ops.shape(hidden_states)[0], self.num_group_token, self.embed_dim)
        )
        if self.group_projector is not None:
            group_token = group_token + self.group_projector(prev_group_token)
        tokens = ops.concatenate([hidden_states, group_token], axis=1)  # image tokens first
        for i, layer in enumerate(self.layers):
            tokens = layer(tokens, training=training, residual_scales=scales(i))[0]
        image_tokens = tokens[:, : -self.num_group_token]
        group_token = tokens[:, -self.num_group_token :]
        new_tokens, soft = self.downsample(image_tokens, group_token, gumbel_noise=gumbel_noise, training=training)
        return new_tokens, group_token, soft
