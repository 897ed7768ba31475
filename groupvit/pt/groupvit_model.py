"""`GroupViTModel`: both towers, projection heads, contrastive logits and segmentation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from groupvit import input_checks
from groupvit.configs import GroupViTConfig, call_flags
from groupvit.outputs import BaseModelOutputWithPooling, GroupViTModelOutput
from groupvit.pt._inputs import check_noise, check_text_inputs, check_vision_inputs
from groupvit.pt.precision import float32_island, widen
from groupvit.pt.pretrained import GroupViTPreTrainedModel
from groupvit.pt.segmentation import pixel_grouping, segmentation_logits
from groupvit.pt.text_transformer import GroupViTTextTransformer
from groupvit.pt.vision_transformer import GroupViTVisionTransformer


def projection_head(in_dim: int, mid_dim: int, out_dim: int) -> nn.Sequential:
    """Linear -> BatchNorm1d -> ReLU -> Linear (indices 0, 1, 3 hold the weights)."""
    return nn.Sequential(
        nn.Linear(in_dim, mid_dim),
        nn.BatchNorm1d(mid_dim, eps=1e-5, momentum=0.1),
        nn.ReLU(),
        nn.Linear(mid_dim, out_dim),
    )


def contrastive_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """Mean of the text->image and image->text cross-entropies with the diagonal as targets."""
    targets = torch.arange(logits_per_text.shape[0], device=logits_per_text.device)
    caption_loss = nn.functional.cross_entropy(logits_per_text, targets)
    image_loss = nn.functional.cross_entropy(logits_per_text.t(), targets)
    return (caption_loss + image_loss) / 2.0


def _normalize(x: torch.Tensor) -> torch.Tensor:
    x = widen(x)  # embeddings, logits and segmentation in float32 for a bfloat16 model
    return x / x.norm(dim=-1, keepdim=True)


class GroupViTModel(GroupViTPreTrainedModel):
    """GroupViT: image-text logits, embeddings and (optionally) zero-shot segmentation logits."""

    config_class = GroupViTConfig

    def __init__(self, config: GroupViTConfig) -> None:
        super().__init__(config)
        text_config, vision_config = config.text_config, config.vision_config
        self.projection_dim = config.projection_dim
        self.projection_intermediate_dim = config.projection_intermediate_dim
        self.text_embed_dim, self.vision_embed_dim = text_config.hidden_size, vision_config.hidden_size
        self.text_model = GroupViTTextTransformer(text_config)
        self.vision_model = GroupViTVisionTransformer(vision_config)
        mid = config.projection_intermediate_dim
        self.visual_projection = projection_head(vision_config.hidden_size, mid, config.projection_dim)
        self.text_projection = projection_head(text_config.hidden_size, mid, config.projection_dim)
        self.logit_scale = nn.Parameter(torch.tensor(float(config.logit_scale_init_value)))
        self._init_tower(self.text_model, text_config)
        self._init_tower(self.vision_model, vision_config)
        for head in (self.visual_projection, self.text_projection):
            self._init_tower(head, vision_config)

    def _apply(self, fn, recurse: bool = True):
        """`.to(torch.bfloat16)` and the like leave `logit_scale` in float32: rounded to bfloat16, exp(2.6592)
        = 14.29 would become 14.24 and shift every logit by 0.3 %."""
        saved = self.logit_scale.detach().clone()
        super()._apply(fn, recurse)
        # (a meta tensor cannot be copied to a real device, but stays a meta tensor of the saved dtype)
        moved_out_of_meta = saved.device.type == "meta" and self.logit_scale.device.type != "meta"
        if self.logit_scale.dtype in (torch.bfloat16, torch.float16) and not moved_out_of_meta:
            self.logit_scale.data = saved.to(self.logit_scale.device)
        return self

    def get_text_features(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> BaseModelOutputWithPooling | tuple:
        """As transformers 5: the text tower's outputs whose `pooler_output` is the projected (un-normalized)
        text features [B, projection_dim]; a tuple with `return_dict=False`. (transformers 4.x returned those
        features alone: they are `.pooler_output` here; `text_features` below returns them as a tensor.)"""
        check_text_inputs(input_ids, attention_mask, self.config.text_config)
        output_attentions, output_hidden_states, return_dict = self._feature_flags(
            self.config.text_config, output_attentions, output_hidden_states, return_dict)
        out = self.text_model(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states)
        out.pooler_output = self.text_projection(out.pooler_output)
        return out if return_dict else out.to_tuple()

    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        """As transformers 5: the vision tower's outputs whose `pooler_output` is the projected (un-normalized)
        image features [B, projection_dim]; a tuple with `return_dict=False`. (transformers 4.x returned those
        features alone: they are `.pooler_output` here; `image_features` below returns them as a tensor.)"""
        check_vision_inputs(pixel_values, self.config.vision_config, interpolate_pos_encoding)
        output_attentions, output_hidden_states, return_dict = self._feature_flags(
            self.config.vision_config, output_attentions, output_hidden_states, return_dict)
        out = self.vision_model(pixel_values, output_attentions, output_hidden_states,
                                interpolate_pos_encoding=interpolate_pos_encoding)
        out.pooler_output = self.visual_projection(out.pooler_output)
        return out if return_dict else out.to_tuple()

    def _feature_flags(self, tower_config, output_attentions, output_hidden_states, return_dict):
        """As transformers 5's get_*_features: attentions and hidden states default to the tower config's flags
        (the tower runs on its own config), return_dict to the model config's."""
        output_attentions, output_hidden_states, _ = call_flags(tower_config, output_attentions,
                                                                output_hidden_states, None)
        return output_attentions, output_hidden_states, call_flags(self.config, None, None, return_dict)[2]

    def text_features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                      position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """The projected (un-normalized) text features [B, projection_dim] as one tensor."""
        return self.get_text_features(input_ids, attention_mask, position_ids).pooler_output

    def image_features(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        """The projected (un-normalized) image features [B, projection_dim] as one tensor."""
        return self.get_image_features(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding).pooler_output

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        return_loss: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        output_segmentation: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence[torch.Tensor] | None = None,
        drop_path_scales: torch.Tensor | None = None,
    ) -> GroupViTModelOutput | tuple:
        """Outputs and tuple order as the `transformers` port; `gumbel_noise` and `drop_path_scales` as in
        `GroupViTVisionModel`."""
        config = self.config
        output_segmentation = bool(
            output_segmentation if output_segmentation is not None else config.output_segmentation
        )
        output_attentions, output_hidden_states, return_dict = call_flags(
            config, output_attentions, output_hidden_states, return_dict)
        output_attentions = output_attentions or output_segmentation
        check_text_inputs(input_ids, attention_mask, config.text_config)
        check_vision_inputs(pixel_values, config.vision_config, interpolate_pos_encoding)
        check_noise(gumbel_noise, config.vision_config, drop_path_scales, pixel_values.shape[0])
        if return_loss:
            input_checks.check_loss_pairs(pixel_values.shape[0], input_ids.shape[0])
        if output_segmentation:
            input_checks.check_segmentation(config.vision_config)

        vision_outputs = self.vision_model(
            pixel_values, output_attentions, output_hidden_states, interpolate_pos_encoding, gumbel_noise,
            drop_path_scales,
        )
        text_outputs = self.text_model(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states)

        image_embeds = _normalize(self.visual_projection(vision_outputs.pooler_output))
        text_embeds = _normalize(self.text_projection(text_outputs.pooler_output))
        with float32_island(image_embeds):
            logit_scale = widen(self.logit_scale).exp()
            logits_per_text = (text_embeds @ image_embeds.t()) * logit_scale
        logits_per_image = logits_per_text.t()

        seg_logits = None
        if output_segmentation:
            with torch.no_grad():
                last = vision_outputs.last_hidden_state  # (B_img, O, D): one token per group
                group_embeds = self.visual_projection(last.reshape(-1, last.shape[-1]))
                group_embeds = _normalize(group_embeds).reshape(last.shape[0], last.shape[1], -1)
                with float32_island(group_embeds):
                    grouping = pixel_grouping(vision_outputs.attentions, *pixel_values.shape[-2:],
                                              config.vision_config.patch_hw)
                    seg_logits = segmentation_logits(group_embeds, text_embeds, grouping, logit_scale)

        out = GroupViTModelOutput(
            loss=contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_text,
            segmentation_logits=seg_logits,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )
        return out if return_dict else out.to_tuple()
