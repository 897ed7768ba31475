"""`GroupViTVisionModel`: the vision tower on its own."""

from __future__ import annotations

from typing import Sequence

import torch

from groupvit.configs import GroupViTVisionConfig, call_flags
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.pt._inputs import check_noise, check_vision_inputs
from groupvit.pt.pretrained import GroupViTPreTrainedModel
from groupvit.pt.vision_transformer import GroupViTVisionTransformer


class GroupViTVisionModel(GroupViTPreTrainedModel):
    """Vision encoder; `attentions` are the soft assignment maps of the grouping stages."""

    config_class = GroupViTVisionConfig
    main_input_name = "pixel_values"

    def __init__(self, config: GroupViTVisionConfig) -> None:
        super().__init__(config)
        self.vision_model = GroupViTVisionTransformer(config)
        self._init_tower(self.vision_model, config)

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.vision_model.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence[torch.Tensor] | None = None,
        drop_path_scales: torch.Tensor | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        """`gumbel_noise`: one tensor [B, O_s, N_s] per grouping stage; `drop_path_scales`: [B, sum(depths), 2],
        each vision layer's attention and MLP branch scale per sample (stochastic depth: 0 or 1 / keep
        probability, as the authors' DropPath); both used in train mode only."""
        check_vision_inputs(pixel_values, self.config, interpolate_pos_encoding)
        check_noise(gumbel_noise, self.config, drop_path_scales, pixel_values.shape[0])
        output_attentions, output_hidden_states, return_dict = call_flags(
            self.config, output_attentions, output_hidden_states, return_dict)
        out = self.vision_model(
            pixel_values, output_attentions, output_hidden_states, interpolate_pos_encoding, gumbel_noise,
            drop_path_scales,
        )
        return out if return_dict else out.to_tuple()
