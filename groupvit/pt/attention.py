"""Multi-head attention with q/k/v/out projections (self- or cross-attention)."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.precision import widen
from groupvit.pt.linear import GroupViTLinear


class GroupViTAttention(nn.Module):
    """Multi-head attention; uses fused `scaled_dot_product_attention` unless weights are asked for."""

    def __init__(self, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_dim = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.k_proj = GroupViTLinear(self.embed_dim, self.embed_dim)
        self.v_proj = GroupViTLinear(self.embed_dim, self.embed_dim)
        self.q_proj = GroupViTLinear(self.embed_dim, self.embed_dim)
        self.out_proj = GroupViTLinear(self.embed_dim, self.embed_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, nh, T, hs)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`attention_mask` is additive, [B, 1, T, S]; returns (output, weights or None)."""
        batch, length, _ = hidden_states.shape
        source = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        # q is scaled before the product, as in the reference, so the rounding matches it
        query = self._heads(self.q_proj(hidden_states) * self.scale)
        key = self._heads(self.k_proj(source))
        value = self._heads(self.v_proj(source))
        dropout = self.dropout if self.training else 0.0

        weights = None
        if output_attentions:
            scores = query @ key.transpose(-1, -2)  # (B, nh, T, S)
            if attention_mask is not None:
                scores = scores + attention_mask
            weights = widen(scores).softmax(dim=-1)  # float32 maps for a bfloat16 model
            context = nn.functional.dropout(weights, p=dropout, training=self.training).to(value.dtype) @ value
        else:
            context = nn.functional.scaled_dot_product_attention(
                query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=1.0
            )
        context = context.transpose(1, 2).reshape(batch, length, self.embed_dim)
        return self.out_proj(context), weights
