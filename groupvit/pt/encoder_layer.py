"""Pre-norm transformer layer shared by the text and vision encoders."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.attention import GroupViTAttention
from groupvit.pt.mlp import GroupViTMLP


class GroupViTEncoderLayer(nn.Module):
    """`h = x + attn(ln1(x)); out = h + mlp(ln2(h))`."""

    def __init__(self, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        super().__init__()
        self.embed_dim = config.hidden_size
        self.self_attn = GroupViTAttention(config)
        self.layer_norm1 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)
        self.mlp = GroupViTMLP(config)
        self.layer_norm2 = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_eps)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, weights = self.self_attn(
            self.layer_norm1(hidden_states), attention_mask=attention_mask, output_attentions=output_attentions
        )
        hidden_states = hidden_states + attn_out
        hidden_states = hidden_states + self.mlp(self.layer_norm2(hidden_states))
        return hidden_states, weights
