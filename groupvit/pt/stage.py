"""One stage of the vision encoder: layers over [image tokens, group tokens], then grouping."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.pt.encoder_layer import GroupViTEncoderLayer
from groupvit.pt.mlp import GroupViTMixerMLP
from groupvit.pt.token_assign import GroupViTTokenAssign


class GroupViTStage(nn.Module):
    """Stage s (the authors' `GroupingLayer`): returns (tokens, group tokens, soft map)."""

    def __init__(
        self,
        config: GroupViTVisionConfig,
        depth: int,
        num_prev_group_token: int,
        num_group_token: int,
        num_output_group: int,
    ) -> None:
        super().__init__()
        self.depth = depth
        self.num_group_token = num_group_token
        if num_group_token > 0:
            self.group_token = nn.Parameter(torch.zeros(1, num_group_token, config.hidden_size))
        else:
            self.group_token = None
        self.layers = nn.ModuleList([GroupViTEncoderLayer(config) for _ in range(depth)])
        if num_group_token > 0:
            self.downsample = GroupViTTokenAssign(config, num_group_token, num_output_group)
        else:
            self.downsample = None
        if num_prev_group_token > 0 and num_group_token > 0:
            self.group_projector = nn.Sequential(
                nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps),
                GroupViTMixerMLP(config, num_prev_group_token, config.hidden_size // 2, num_group_token),
            )
        else:
            self.group_projector = None

    @property
    def with_group_token(self) -> bool:
        return self.group_token is not None

    def forward(
        self,
        hidden_states: torch.Tensor,
        prev_group_token: torch.Tensor | None = None,
        gumbel_noise: torch.Tensor | None = None,
        drop_path_scales: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """`drop_path_scales`: [B, depth, 2], this stage's layers' branch scales (stochastic depth), or None."""
        def scales(i: int) -> torch.Tensor | None:
            return None if drop_path_scales is None else drop_path_scales[:, i]

        if not self.with_group_token:
            for i, layer in enumerate(self.layers):
                hidden_states = layer(hidden_states, residual_scales=scales(i))[0]
            return hidden_states, None, None

        group_token = self.group_token.expand(hidden_states.shape[0], -1, -1)
        if self.group_projector is not None:
            group_token = group_token + self.group_projector(prev_group_token)
        tokens = torch.cat([hidden_states, group_token], dim=1)  # image tokens first
        for i, layer in enumerate(self.layers):
            tokens = layer(tokens, residual_scales=scales(i))[0]
        image_tokens = tokens[:, : -self.num_group_token]
        group_token = tokens[:, -self.num_group_token :]
        new_tokens, soft = self.downsample(image_tokens, group_token, gumbel_noise)
        return new_tokens, group_token, soft
