"""Token plus learned position embeddings of the text encoder."""

from __future__ import annotations

import torch
from torch import nn

from groupvit.configs import GroupViTTextConfig


class GroupViTTextEmbeddings(nn.Module):
    """`token_embedding(ids) + position_embedding(arange(L))`."""

    def __init__(self, config: GroupViTTextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.max_position_embeddings = config.max_position_embeddings
        self.register_buffer("position_ids", self._arange(None), persistent=False)

    def _arange(self, device: torch.device | None) -> torch.Tensor:
        if (device or torch.get_default_device()).type == "meta":
            # a model built to be loaded (reset_position_ids fills it): arange on the meta device goes through
            # torch._refs, whose first use imports sympy (34 MiB of the peak RSS of `from_pretrained`, measured)
            return torch.empty((1, self.max_position_embeddings), dtype=torch.long, device="meta")
        return torch.arange(self.max_position_embeddings, device=device).expand((1, -1))

    def reset_position_ids(self) -> None:
        """Recreate the buffer on the embeddings' device (a model built on the meta device lacks it)."""
        self.position_ids = self._arange(self.token_embedding.weight.device)

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None = None) -> torch.Tensor:
        if position_ids is None:
            position_ids = self.position_ids[:, : input_ids.shape[-1]]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)
