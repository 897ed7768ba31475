"""The module one training step runs: the model's towers and heads, both losses, one forward."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from groupvit.pt.groupvit_model import GroupViTModel
from groupvit.pt.training.losses import (clamped_scale, contrastive_loss, group_balance_loss, group_exclusivity_loss,
                                         group_naming_loss, grouped_multi_label_loss, multi_label_loss)
from groupvit.training.options import check_group_terms


class GroupViTTrainingStep(nn.Module):
    """`forward(batch tensors, gumbel_noise) -> {"loss", "contrastive", "multi_label"}` for DDP to wrap.

    Captions and the K noun prompts of each image go through the text tower as one batch of
    b (1 + K) texts, as the authors do, so the text head's BatchNorm sees all of them.
    The multi-label temperature is a parameter of this module, never of the model.
    With `grouped`, the multi-label loss scores each prompt against the image's best group
    (`grouped_multi_label_loss`); the pooled image and its final groups then go through the
    visual head as one batch, so its BatchNorm learns the statistics segmentation meets;
    `group_exclusivity` > 0 adds that weight times `group_exclusivity_loss` (each noun in one group),
    `group_naming` > 0 that weight times `group_naming_loss` (each group names only the nouns it carries).
    """

    def __init__(self, model: GroupViTModel, multi_label: int, logit_scale_init: float, grouped: bool = False,
                 group_balance: float = 0.0, pooling_tau: float = 0.0, group_exclusivity: float = 0.0,
                 group_naming: float = 0.0) -> None:
        super().__init__()
        self.model = model
        self.multi_label = int(multi_label)
        self.grouped = bool(grouped) and self.multi_label > 0
        self.group_balance = float(group_balance)
        self.pooling_tau = float(pooling_tau)
        self.group_exclusivity, self.group_naming = float(group_exclusivity), float(group_naming)
        check_group_terms(group_exclusivity, group_naming, grouped, multi_label)
        self.multi_label_logit_scale = nn.Parameter(torch.tensor(float(logit_scale_init)),
                                                    requires_grad=self.multi_label > 0)

    def forward(
        self,
        pixel_values: torch.Tensor,  # (b, C, H, W)
        input_ids: torch.Tensor,  # (b, L)
        attention_mask: torch.Tensor,  # (b, L)
        gumbel_noise: list[torch.Tensor],
        prompt_ids: torch.Tensor | None = None,  # (b, K, L)
        prompt_mask: torch.Tensor | None = None,
        image_nouns: torch.Tensor | None = None,  # (b, M) noun ids, -1 padding; needed when grouped
        prompt_nouns: torch.Tensor | None = None,  # (b, K)
        drop_path_scales: torch.Tensor | None = None,  # (b, vision layers, 2): stochastic depth
    ) -> dict[str, torch.Tensor]:
        model = self.model
        vision = model.vision_model(pixel_values, gumbel_noise=gumbel_noise, output_attentions=self.group_balance > 0,
                                    drop_path_scales=drop_path_scales)
        if self.grouped:
            groups = vision.last_hidden_state  # (b, G, D)
            b_img, count = groups.shape[:2]
            projected = model.visual_projection(torch.cat([vision.pooler_output, groups.reshape(b_img * count, -1)]))
            projected = F.normalize(projected.float(), dim=-1)
            image_embeds, group_embeds = projected[:b_img], projected[b_img:].reshape(b_img, count, -1)
        else:
            image_embeds = F.normalize(model.visual_projection(vision.pooler_output).float(), dim=-1)
        b, length = input_ids.shape
        ids, mask = input_ids[:, None], attention_mask[:, None]
        if self.multi_label:
            ids, mask = torch.cat([ids, prompt_ids], dim=1), torch.cat([mask, prompt_mask], dim=1)
        texts = ids.shape[1]  # 1 + K
        text_pooled = model.text_model(ids.reshape(b * texts, length), mask.reshape(b * texts, length)).pooler_output
        text_embeds = F.normalize(model.text_projection(text_pooled).float(), dim=-1).reshape(b, texts, -1)

        contrastive = contrastive_loss(image_embeds, text_embeds[:, 0], model.logit_scale)
        out = {"contrastive": contrastive, "loss": contrastive}
        if self.multi_label:
            if self.grouped:
                if image_nouns is None or prompt_nouns is None:
                    raise ValueError("The grouped multi-label loss needs the batch's image_nouns and prompt_nouns. "
                                     "Received: a batch without them")
                multi = grouped_multi_label_loss(group_embeds, text_embeds[:, 1:], self.multi_label_logit_scale,
                                                 image_nouns, prompt_nouns, self.pooling_tau)
            else:
                multi = multi_label_loss(image_embeds, text_embeds[:, 1:], self.multi_label_logit_scale)
            out["multi_label"] = multi
            out["loss"] = contrastive + multi
            for name, weight, term in (("group_exclusivity", self.group_exclusivity, group_exclusivity_loss),
                                       ("group_naming", self.group_naming, group_naming_loss)):
                if weight > 0:
                    out[name] = term(group_embeds, text_embeds[:, 1:], self.multi_label_logit_scale, prompt_nouns)
                    out["loss"] = out["loss"] + weight * out[name]
        if self.group_balance > 0:
            out["group_balance"] = group_balance_loss(list(vision.attentions))
            out["loss"] = out["loss"] + self.group_balance * out["group_balance"]
        out["logit_scale"] = clamped_scale(model.logit_scale.detach())
        return out
