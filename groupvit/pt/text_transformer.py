"""The text tower: embeddings, causal encoder, final LayerNorm and end-token pooling."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.pt.encoder_layer import GroupViTEncoderLayer
from groupvit.pt.text_embeddings import GroupViTTextEmbeddings


def additive_text_mask(attention_mask: torch.Tensor | None, length: int, batch: int, dtype: torch.dtype,
                       device: torch.device) -> torch.Tensor:
    """[B, 1, L, L]: 0 where a query may look (causal and not padding), the dtype's minimum elsewhere."""
    allowed = torch.ones(length, length, dtype=torch.bool, device=device).tril()[None, None]
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].to(torch.bool)
    allowed = allowed.expand(batch, 1, length, length)
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


class GroupViTTextEncoder(nn.Module):
    """`num_hidden_layers` encoder layers."""

    def __init__(self, config: GroupViTTextConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList([GroupViTEncoderLayer(config) for _ in range(config.num_hidden_layers)])


class GroupViTTextTransformer(nn.Module):
    """Embeddings -> causal encoder -> final LayerNorm; pooled at the end token."""

    def __init__(self, config: GroupViTTextConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = GroupViTTextEmbeddings(config)
        self.encoder = GroupViTTextEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.eos_token_id = config.eos_token_id

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutputWithPooling:
        batch, length = input_ids.shape
        hidden = self.embeddings(input_ids, position_ids)
        mask = additive_text_mask(attention_mask, length, batch, hidden.dtype, hidden.device)
        all_hidden = [hidden] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        for layer in self.encoder.layers:
            hidden, weights = layer(hidden, attention_mask=mask, output_attentions=output_attentions)
            if all_hidden is not None:
                all_hidden.append(hidden)
            if all_attn is not None:
                all_attn.append(weights)
        last = self.final_layer_norm(hidden)
        if self.eos_token_id == 2:
            # legacy config.json files: the end token is the largest id of the sequence
            pooled_index = input_ids.to(torch.int).argmax(dim=-1)
        else:
            pooled_index = (input_ids.to(torch.int) == self.eos_token_id).int().argmax(dim=-1)
        pooled = last[torch.arange(batch, device=last.device), pooled_index]
        return BaseModelOutputWithPooling(
            last_hidden_state=last,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden) if all_hidden is not None else None,
            attentions=tuple(all_attn) if all_attn is not None else None,
        )
