"""Single-head assignment attention: each image token picks one group (hard, straight-through)."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTVisionConfig
from groupvit.pt.linear import GroupViTLinear
from groupvit.pt.precision import float32_island, widen


def sample_gumbel(shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """Gumbel(0, 1) noise: -log(-log(U)), U ~ Uniform(0, 1)."""
    tiny = torch.finfo(like.dtype).tiny
    uniform = torch.rand(shape, dtype=like.dtype, device=like.device).clamp(min=tiny, max=1.0 - 1e-7)
    return -torch.log(-torch.log(uniform))


def hard_assign(logits: torch.Tensor, dim: int) -> torch.Tensor:
    """One-hot of the softmax argmax (first index on ties), straight-through to the softmax."""
    soft = logits.softmax(dim)
    index = soft.argmax(dim, keepdim=True)
    hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
    # written as in the reference: hard - soft + soft is not bit-equal to hard in float32
    return hard - soft.detach() + soft


class GroupViTAssignAttention(nn.Module):
    """`out = proj(norm(hard(q k^T / sqrt(D))) @ v)`; returns (out, soft map without noise)."""

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__()
        self.scale = config.hidden_size**-0.5
        self.q_proj = GroupViTLinear(config.hidden_size, config.hidden_size)
        self.k_proj = GroupViTLinear(config.hidden_size, config.hidden_size)
        self.v_proj = GroupViTLinear(config.hidden_size, config.hidden_size)
        self.proj = GroupViTLinear(config.hidden_size, config.hidden_size)
        self.assign_eps = config.assign_eps

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, gumbel_noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        value = self.v_proj(key)
        # the assignment is an argmax: its logits, softmax and normalisation run in float32 whatever the
        # model's dtype (a no-op for a float32 model); only the products around it take the model's
        query, key = self.q_proj(query), self.k_proj(key)
        with float32_island(query):
            raw = (widen(query) @ widen(key).transpose(-2, -1)) * self.scale  # (B, O, N)
        if self.training:
            noise = gumbel_noise if gumbel_noise is not None else sample_gumbel(raw.shape, raw)
            if noise.shape != raw.shape:
                raise ValueError(
                    f"gumbel_noise for a stage must have the shape of its assignment logits {tuple(raw.shape)}. "
                    f"Received: {tuple(noise.shape)}"
                )
            attn = hard_assign(raw + noise.to(raw.dtype), dim=-2)
        else:
            attn = hard_assign(raw, dim=-2)
        soft = raw.softmax(dim=-2)  # groups compete for each image token
        attn = attn / (attn.sum(dim=-1, keepdim=True) + self.assign_eps)
        return self.proj(attn.to(value.dtype) @ value), soft
