"""The PyTorch modules that are exported: the full model with segmentation, and the two towers.

Each takes plain tensors and returns a tuple in the order of `groupvit.export.metadata`'s output names,
so exporters see no Python options and no dataclass outputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from groupvit.configs import GroupViTConfig


def eager_model(config: GroupViTConfig, weights: dict[str, np.ndarray]):
    from groupvit.pt import GroupViTModel

    model = GroupViTModel(config)
    model.load_weights(weights)
    return model.eval()


class FullGraph(nn.Module):
    """(pixel_values, input_ids, attention_mask) -> logits_per_image, logits_per_text, text_embeds,
    image_embeds, segmentation_logits; any image size divisible by the patch size.

    The model's segmentation logits (docs/computation.md); square patches only, for which the model takes
    the token grid without float rounding (`groupvit.pt.segmentation.pixel_grouping`), so no traced size
    is frozen into the graph."""

    def __init__(self, model) -> None:
        super().__init__()
        ph, pw = model.config.vision_config.patch_hw
        if ph != pw:
            raise ValueError(f"Exporting the segmentation logits needs square patches. Received: patch {ph}x{pw}")
        self.model = model

    def forward(self, pixel_values, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                         output_segmentation=True, interpolate_pos_encoding=True)
        return out.logits_per_image, out.logits_per_text, out.text_embeds, out.image_embeds, out.segmentation_logits


class ImageGraph(nn.Module):
    """pixel_values -> image_features [B, P], group_features [B, O, P] (both projected, un-normalised) and
    the soft map of every grouping stage [B, O_s, N_s]: what zero-shot segmentation needs."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        model = self.model
        out = model.vision_model(pixel_values, output_attentions=True, interpolate_pos_encoding=True)
        last = out.last_hidden_state
        groups = model.visual_projection(last.reshape(-1, last.shape[-1])).reshape(last.shape[0], last.shape[1], -1)
        return (model.visual_projection(out.pooler_output), groups, *out.attentions)


class TextGraph(nn.Module):
    """(input_ids, attention_mask) -> text_features [T, P] (projected, un-normalised)."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model.text_features(input_ids, attention_mask=attention_mask)


def example_inputs(config: GroupViTConfig, size: tuple[int, int], images: int = 2, texts: int = 3):
    """Tracing inputs: `images` random images of `size`, `texts` in-vocabulary id rows of unequal length."""
    from groupvit.cli.verify import default_token_ids

    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.standard_normal((images, config.vision_config.num_channels, *size), np.float32))
    ids, mask = default_token_ids(config, count=texts, length=min(8, config.text_config.max_position_embeddings))
    return pixels, torch.from_numpy(ids), torch.from_numpy(mask)
