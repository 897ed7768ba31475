"""Post-norm cross-attention layer used before the assignment in every TokenAssign."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.pt.attention import GroupViTAttention
from groupvit.pt.mlp import GroupViTMLP


class GroupViTCrossAttentionLayer(nn.Module):
    """`y = q + attn(q, x); y = y + mlp(norm2(y)); return norm_post(y)` (no norm on the inputs)."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.attn = GroupViTAttention(config)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = GroupViTMLP(config)
        self.norm_post = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        hidden = query + self.attn(query, encoder_hidden_states=key)[0]
        hidden = hidden + self.mlp(self.norm2(hidden))
        return self.norm_post(hidden)
