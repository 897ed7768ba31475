"""The grouping block: group tokens attend to image tokens and absorb them."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.pt.assign_attention import GroupViTAssignAttention
from groupvit.pt.cross_attention_layer import GroupViTCrossAttentionLayer
from groupvit.pt.mlp import GroupViTMixerMLP, GroupViTMLP


class GroupViTTokenAssign(nn.Module):
    """TokenAssign(G -> O): returns O new tokens and the soft assignment map [B, O, N]."""

    def __init__(self, config: GroupViTVisionConfig, num_group_token: int, num_output_group: int) -> None:
        super().__init__()
        self.num_output_group = num_output_group
        d, eps = config.hidden_size, config.layer_norm_eps
        tokens_dim, channels_dim = config.assign_mlp_dims
        self.norm_tokens = nn.LayerNorm(d, eps=eps)
        self.mlp_inter = GroupViTMixerMLP(config, num_group_token, tokens_dim, num_output_group)
        self.norm_post_tokens = nn.LayerNorm(d, eps=eps)
        self.norm_x = nn.LayerNorm(d, eps=eps)
        self.pre_assign_attn = GroupViTCrossAttentionLayer(config)
        self.assign = GroupViTAssignAttention(config)
        self.norm_new_x = nn.LayerNorm(d, eps=eps)
        self.mlp_channels = GroupViTMLP(config, d, channels_dim, d)

    def forward(
        self, image_tokens: torch.Tensor, group_tokens: torch.Tensor, gumbel_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        group_tokens = self.norm_tokens(group_tokens)
        image_tokens = self.norm_x(image_tokens)
        projected = self.norm_post_tokens(self.mlp_inter(group_tokens))  # (B, O, D)
        projected = self.pre_assign_attn(projected, image_tokens)
        new_tokens, soft = self.assign(projected, image_tokens, gumbel_noise)
        new_tokens = new_tokens + projected
        new_tokens = new_tokens + self.mlp_channels(self.norm_new_x(new_tokens))
        return new_tokens, soft
