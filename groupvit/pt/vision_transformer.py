"""The vision tower: embeddings, grouping stages, final LayerNorm and mean pooling."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.pt.stage import GroupViTStage
from groupvit.pt.vision_embeddings import GroupViTVisionEmbeddings


class GroupViTVisionEncoder(nn.Module):
    """The stages in order; stage s > 0 sees the previous stage's group tokens."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.stages = nn.ModuleList(
            [
                GroupViTStage(
                    config,
                    depth=config.depths[s],
                    num_prev_group_token=config.num_output_groups[s - 1] if s > 0 else 0,
                    num_group_token=config.num_group_tokens[s],
                    num_output_group=config.num_output_groups[s],
                )
                for s in range(config.num_stages)
            ]
        )

    def forward(
        self,
        hidden_states: torch.Tensor,
        output_hidden_states: bool = False,
        gumbel_noise: Sequence[torch.Tensor] | None = None,
        drop_path_scales: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...]]:
        """Returns (last tokens, stage inputs + last tokens or None, soft maps of the grouping stages).
        `drop_path_scales` [B, sum(depths), 2] are used in train mode only, layer l of the tower taking row l."""
        all_hidden = [] if output_hidden_states else None
        soft_maps = []
        noise = list(gumbel_noise) if gumbel_noise is not None else None
        group_tokens = None
        if not self.training:
            drop_path_scales = None
        first = 0
        for stage in self.stages:
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            stage_noise = noise[len(soft_maps)] if (noise is not None and stage.with_group_token) else None
            stage_scales = None
            if drop_path_scales is not None:
                stage_scales = drop_path_scales[:, first:first + stage.depth]
            first += stage.depth
            hidden_states, group_tokens, soft = stage(hidden_states, group_tokens, stage_noise, stage_scales)
            if soft is not None:
                soft_maps.append(soft)
        if all_hidden is not None:
            all_hidden.append(hidden_states)
        return hidden_states, (tuple(all_hidden) if all_hidden is not None else None), tuple(soft_maps)


class GroupViTVisionTransformer(nn.Module):
    """Embeddings -> encoder -> LayerNorm; pooled output is the mean over the final tokens."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = GroupViTVisionEmbeddings(config)
        self.encoder = GroupViTVisionEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence[torch.Tensor] | None = None,
        drop_path_scales: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPooling:
        hidden = self.embeddings(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding)
        last, all_hidden, soft_maps = self.encoder(hidden, output_hidden_states, gumbel_noise, drop_path_scales)
        last = self.layernorm(last)
        return BaseModelOutputWithPooling(
            last_hidden_state=last,
            pooler_output=last.mean(dim=1),
            hidden_states=all_hidden,
            attentions=soft_maps if output_attentions else None,
        )
