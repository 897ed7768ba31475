"""Pre-norm transformer layer shared by the text and vision encoders."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.attention import GroupViTAttention
from groupvit.pt.mlp import GroupViTMLP


class GroupViTEncoderLayer(nn.Module):
    """`h = x + attn(ln1(x)); out = h + mlp(ln2(h))`; with `residual_scales` [B, 2] (stochastic depth, in
    training) each sample's two branches are multiplied by its scales first (0 drops a branch)."""

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
        residual_scales: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn_out, weights = self.self_attn(
            self.layer_norm1(hidden_states), attention_mask=attention_mask, output_attentions=output_attentions
        )
        mlp_scale = None
        if residual_scales is not None:
            # in the residual stream's dtype: float32 under autocast (a bfloat16 1 / keep would be off by up to 0.3 %)
            scales = residual_scales.to(hidden_states.dtype)[:, None, :]  # (B, 1, 2)
            attn_out, mlp_scale = attn_out * scales[..., 0:1], scales[..., 1:2]
        hidden_states = hidden_states + attn_out
        mlp_out = self.mlp(self.layer_norm2(hidden_states))
        hidden_states = hidden_states + (mlp_out if mlp_scale is None else mlp_out * mlp_scale)
        return hidden_states, weights
