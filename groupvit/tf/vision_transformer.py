"""The vision tower: embeddings, grouping stages, final LayerNorm and mean pooling."""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops

from groupvit.configs import GroupViTVisionConfig
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.tf.stage import TFGroupViTStage
from groupvit.tf.vision_embeddings import TFGroupViTVisionEmbeddings


class TFGroupViTVisionEncoder(keras.layers.Layer):
    """The stages in order; stage s > 0 sees the previous stage's group tokens."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.stages = [
            TFGroupViTStage(
                config,
                depth=config.depths[s],
                num_prev_group_token=config.num_output_groups[s - 1] if s > 0 else 0,
                num_group_token=config.num_group_tokens[s],
                num_output_group=config.num_output_groups[s],
                name=f"stages.{s}",
            )
            for s in range(config.num_stages)
        ]

    def build(self, input_shape=None) -> None:
        for stage in self.stages:
            stage.build((None, None, self.config.hidden_size))

    def call(self, hidden_states, output_hidden_states: bool = False, gumbel_noise: Sequence | None = None,
             training: bool = False, drop_path_scales=None):
        """Returns (last tokens, stage inputs + last tokens or None, soft maps of the grouping stages).
        `drop_path_scales` [B, sum(depths), 2] are used in training only, layer l of the tower taking row l."""
        all_hidden = [] if output_hidden_states else None
        soft_maps = []
        group_tokens = None
        if not training:
            drop_path_scales = None
        first = 0
        for stage in self.stages:
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            noise = gumbel_noise[len(soft_maps)] if (gumbel_noise is not None and stage.with_group_token) else None
            depth = len(stage.layers)
            stage_scales = None if drop_path_scales is None else drop_path_scales[:, first:first + depth]
            first += depth
            hidden_states, group_tokens, soft = stage(hidden_states, prev_group_token=group_tokens, gumbel_noise=noise,
                                                      training=training, drop_path_scales=stage_scales)
            if soft is not None:
                soft_maps.append(soft)
        if all_hidden is not None:
            all_hidden.append(hidden_states)
        return hidden_states, (tuple(all_hidden) if all_hidden is not None else None), tuple(soft_maps)


class TFGroupViTVisionTransformer(keras.layers.Layer):
    """Embeddings -> encoder -> LayerNorm; pooled output is the mean over the final tokens."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = TFGroupViTVisionEmbeddings(config, name="embeddings")
        self.encoder = TFGroupViTVisionEncoder(config, name="encoder")
        self.layernorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layernorm")

    def build(self, input_shape=None) -> None:
        self.embeddings.build(None)
        self.encoder.build(None)
        self.layernorm.build((None, None, self.config.hidden_size))

    def call(
        self,
        pixel_values,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence | None = None,
        training: bool = False,
        drop_path_scales=None,
    ) -> BaseModelOutputWithPooling:
        hidden = self.embeddings(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, training=training)
        last, all_hidden, soft_maps = self.encoder(
            hidden, output_hidden_states=output_hidden_states, gumbel_noise=gumbel_noise, training=training,
            drop_path_scales=drop_path_scales,
        )
        last = self.layernorm(last)
        return BaseModelOutputWithPooling(
            last_hidden_state=last,
            pooler_output=ops.mean(last, axis=1),
            hidden_states=all_hidden,
            attentions=soft_maps if output_attentions else None,
        )
