"""The two training losses of GroupViT (docs/training.md), across ranks.

Every rank holds `b` local rows; embeddings of all ranks are gathered with gradients, rows are
the local ones, columns the global ones, and targets are offset by `b * rank`. With one process
both are exactly the single-process losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from groupvit.pt.training.distributed import all_gather_with_grad, world

MAX_LOGIT_SCALE = 100.0


def clamped_scale(log_scale: torch.Tensor) -> torch.Tensor:
    """`min(exp(log_scale), 100)`: the temperature clamp of CLIP and of the authors."""
    return torch.clamp(log_scale.exp(), max=MAX_LOGIT_SCALE)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of `-sum(targets * log_softmax(logits))`."""
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()


def contrastive_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor,
                     log_scale: torch.Tensor) -> torch.Tensor:
    """Image-text InfoNCE of L2-normalised local embeddings [b, P] against all ranks' embeddings."""
    rank, _ = world()
    scale = clamped_scale(log_scale)
    all_images, all_texts = all_gather_with_grad(image_embeds), all_gather_with_grad(text_embeds)
    targets = torch.arange(image_embeds.shape[0], device=image_embeds.device) + image_embeds.shape[0] * rank
    per_image = scale * image_embeds @ all_texts.t()  # (b, W b)
    per_text = scale * text_embeds @ all_images.t()  # (b, W b)
    return 0.5 * (F.cross_entropy(per_image, targets) + F.cross_entropy(per_text, targets))


def multi_label_loss(image_embeds: torch.Tensor, prompt_embeds: torch.Tensor,
                     log_scale: torch.Tensor) -> torch.Tensor:
    """Multi-label contrastive loss: images [b, P] against K noun prompts per image [b, K, P].

    Image -> prompts: soft targets 1/K on the image's own K prompts among all W b K prompts;
    prompt -> images: one-hot on the prompt's own image among all W b images.
    """
    rank, size = world()
    b, k, _ = prompt_embeds.shape
    scale = clamped_scale(log_scale)
    local_prompts = prompt_embeds.reshape(b * k, -1)
    all_prompts = all_gather_with_grad(local_prompts)  # (W b K, P), ordered (rank, image, prompt)
    all_images = all_gather_with_grad(image_embeds)  # (W b, P)
    own = torch.arange(b, device=image_embeds.device) + b * rank  # global index of each local image
    image_targets = F.one_hot(own, size * b).to(image_embeds.dtype)  # (b, W b)
    image_targets = image_targets.repeat_interleave(k, dim=1) / k  # (b, W b K)
    per_image = scale * image_embeds @ all_prompts.t()
    per_prompt = scale * local_prompts @ all_images.t()  # (b K, W b)
    prompt_targets = own.repeat_interleave(k)
    return 0.5 * (soft_cross_entropy(per_image, image_targets) + F.cross_entropy(per_prompt, prompt_targets))
