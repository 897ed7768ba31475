"""`GroupViTTextModel`: the text tower on its own."""

from __future__ import annotations

import torch

from groupvit.configs import GroupViTTextConfig, call_flags
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.pt._inputs import check_text_inputs
from groupvit.pt.pretrained import GroupViTPreTrainedModel
from groupvit.pt.text_transformer import GroupViTTextTransformer


class GroupViTTextModel(GroupViTPreTrainedModel):
    """Text encoder; `from_pretrained` also takes the text part of a full GroupViT checkpoint."""

    config_class = GroupViTTextConfig

    def __init__(self, config: GroupViTTextConfig) -> None:
        super().__init__(config)
        self.text_model = GroupViTTextTransformer(config)
        self._init_tower(self.text_model, config)

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.text_model.embeddings.token_embedding

    def set_input_embeddings(self, value: torch.nn.Module) -> None:
        self.text_model.embeddings.token_embedding = value

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        check_text_inputs(input_ids, attention_mask, self.config)
        output_attentions, output_hidden_states, return_dict = call_flags(
            self.config, output_attentions, output_hidden_states, return_dict)
        out = self.text_model(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states)
        return out if return_dict else out.to_tuple()
