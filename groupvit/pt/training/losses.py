"""The training losses of GroupViT and this project's terms beside them (docs/training.md), across ranks.

Every rank holds `b` local rows; embeddings of all ranks are gathered with gradients, rows are
the local ones, columns the global ones, and targets are offset by `b * rank`. With one process
both are exactly the single-process losses.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from groupvit.pt.training.distributed import all_gather_with_grad, all_reduce_sum_with_grad, world

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


def noun_positives(own: torch.Tensor, image_nouns: torch.Tensor, prompt_nouns: torch.Tensor,
                   prompt_owner: torch.Tensor) -> torch.Tensor:
    """[rows, prompts] bool: prompt p is a positive of image i when i owns it or i's nouns hold p's noun.

    `own` (rows,) global image index of each row; `image_nouns` (rows, M) noun ids of each row's image,
    -1 padding; `prompt_nouns` (N,) noun id of each prompt, -1 for a caption padding the list;
    `prompt_owner` (N,) global image index of each prompt.
    """
    same_noun = (image_nouns[:, :, None] == prompt_nouns[None, None, :]) & (prompt_nouns[None, None, :] >= 0)
    return same_noun.any(dim=1) | (own[:, None] == prompt_owner[None, :])


def pool_groups(scores: torch.Tensor, dim: int, tau: float) -> torch.Tensor:
    """The maximum over `dim` (tau 0), else its soft form `tau * logsumexp(scores / tau)`."""
    if tau == 0:
        return scores.amax(dim=dim)
    return tau * torch.logsumexp(scores / tau, dim=dim)


def grouped_multi_label_loss(group_embeds: torch.Tensor, prompt_embeds: torch.Tensor, log_scale: torch.Tensor,
                             image_nouns: torch.Tensor, prompt_nouns: torch.Tensor,
                             pooling_tau: float = 0.0) -> torch.Tensor:
    """The multi-label loss scored by groups, with every image holding a prompt's noun a positive.

    `group_embeds` [b, G, P]: the L2-normalised projected final groups of each local image;
    `prompt_embeds` [b, K, P]; `image_nouns` [b, M] and `prompt_nouns` [b, K] noun ids (-1: none).
    Image i and prompt p score `max_g z_ig . t_p`: a noun must be found in one group of the image,
    which is how zero-shot segmentation later names each group. With `pooling_tau` > 0 the maximum is
    `tau * logsumexp(cosine / tau)` over the groups, so every group, not only the best one, gets a share of
    the gradient. Targets are soft over the positives (docs/training.md, "Grouped multi-label loss"), in
    both directions.
    """
    rank, _ = world()
    b, k, width = prompt_embeds.shape
    scale = clamped_scale(log_scale)
    local_prompts = prompt_embeds.reshape(b * k, width)
    all_prompts = all_gather_with_grad(local_prompts)  # (W b K, P)
    all_groups = all_gather_with_grad(group_embeds)  # (W b, G, P)
    all_image_nouns = all_gather_with_grad(image_nouns)  # (W b, M)
    all_prompt_nouns = all_gather_with_grad(prompt_nouns.reshape(b * k))  # (W b K,)
    own = torch.arange(b, device=group_embeds.device) + b * rank
    every = torch.arange(all_groups.shape[0], device=group_embeds.device)
    per_image = scale * pool_groups(torch.einsum("bgp,np->bgn", group_embeds, all_prompts), 1, pooling_tau)
    per_prompt = scale * pool_groups(torch.einsum("np,igp->nig", local_prompts, all_groups), 2, pooling_tau)
    image_pos = noun_positives(own, image_nouns, all_prompt_nouns, every.repeat_interleave(k))
    prompt_pos = noun_positives(every, all_image_nouns, prompt_nouns.reshape(b * k), own.repeat_interleave(k)).t()
    image_targets = image_pos.to(per_image.dtype) / image_pos.sum(dim=1, keepdim=True)
    prompt_targets = prompt_pos.to(per_prompt.dtype) / prompt_pos.sum(dim=1, keepdim=True)
    return 0.5 * (soft_cross_entropy(per_image, image_targets) + soft_cross_entropy(per_prompt, prompt_targets))


def group_exclusivity_loss(group_embeds: torch.Tensor, prompt_embeds: torch.Tensor, log_scale: torch.Tensor,
                           prompt_nouns: torch.Tensor) -> torch.Tensor:
    """Each noun of an image is carried by one of the image's groups: `logsumexp_g(s z_ig . t_ik) - max_g(...)`.

    `group_embeds` [b, G, P] the L2-normalised final groups, `prompt_embeds` [b, K, P] the image's own noun
    prompts, `prompt_nouns` [b, K] their noun ids (-1: a caption padding the list, which names several
    objects and takes no part). Per image and prompt it is the cross-entropy of the softmax over the image's
    groups against its best group, so every other group of the image, a background group above all, is
    pushed away from the nouns the image's captions name (docs/training.md). The temperature is the
    multi-label one without its gradient: sharpening it would lower the term without moving a group. Mean
    over the b K prompt slots (a caption slot counts 0), so the mean over ranks is the global mean.
    """
    scale = clamped_scale(log_scale.detach())
    logits = scale * torch.einsum("bgp,bkp->bkg", group_embeds, prompt_embeds)  # (b, K, G)
    per_prompt = torch.logsumexp(logits, dim=-1) - logits.amax(dim=-1)
    named = (prompt_nouns >= 0).to(per_prompt.dtype)
    return (per_prompt * named).sum() / per_prompt.numel()


def group_naming_loss(group_embeds: torch.Tensor, prompt_embeds: torch.Tensor, log_scale: torch.Tensor,
                      prompt_nouns: torch.Tensor) -> torch.Tensor:
    """Each group of an image names the nouns it carries and nothing else, as segmentation reads it.

    `group_embeds` [b, G, P] the L2-normalised final groups, `prompt_embeds` [b, K, P] the image's own noun
    prompts, `prompt_nouns` [b, K] their noun ids (-1: a caption padding the list). Group g of image i
    carries noun n when it is the image's best group for its prompt of n. Every group gets a softmax over the
    named prompts of the global batch (scores `s z_ig . t_q`) and the KL divergence from a target: uniform
    over the prompts of the nouns it carries, or, carrying none, uniform over all of them, a flat class
    distribution that segmentation's background threshold reads as background (docs/training.md). It trains
    the groups only: the prompts and the temperature (the multi-label one) take no gradient from it, since
    moving the prompts of every noun together flattens every group at once (measured: with that gradient,
    the class scores of all groups fell to 0.05-0.09 by step 800 on the shapes world). Mean over the local
    b G groups.
    """
    b, count, width = group_embeds.shape
    k = prompt_embeds.shape[1]
    scale = clamped_scale(log_scale.detach())
    all_prompts = all_gather_with_grad(prompt_embeds.detach().reshape(b * k, width))  # (N, P)
    all_nouns = all_gather_with_grad(prompt_nouns.reshape(b * k))  # (N,)
    named = all_nouns >= 0
    logits = scale * torch.einsum("bgp,np->bgn", group_embeds, all_prompts)
    logits = torch.where(named, logits, torch.full_like(logits, -1e4))  # (b, G, N): unnamed prompts drop out
    own = torch.einsum("bgp,bkp->bkg", group_embeds.detach(), prompt_embeds.detach())  # (b, K, G)
    carried = F.one_hot(own.argmax(dim=-1), count).to(logits.dtype) * (prompt_nouns >= 0)[..., None]  # (b, K, G)
    same = ((prompt_nouns[:, :, None] == all_nouns[None, None, :]) & named).to(logits.dtype)  # (b, K, N)
    carries = torch.einsum("bkg,bkn->bgn", carried, same) > 0  # (b, G, N)
    flat = named.expand_as(carries)
    target = torch.where(carries.any(dim=-1, keepdim=True), carries, flat).to(logits.dtype)
    target = target / target.sum(dim=-1, keepdim=True).clamp_min(1.0)
    log_p = F.log_softmax(logits, dim=-1)
    log_target = torch.log(torch.where(target > 0, target, torch.ones_like(target)))
    return (target * (log_target - log_p)).sum(dim=-1).mean()


def group_balance_loss(soft_maps: list[torch.Tensor]) -> torch.Tensor:
    """Mean over grouping stages of `log O - H(u) + mean H(soft[:, n])`, with `u_g` the share of all tokens of
    the global batch (every rank) that the soft assignment gives to group g, and the token entropies averaged
    over the local tokens: 0 when every token picks one group for sure and the groups are used equally
    over the batch (an image may still use few), `log O` both when one group takes every token of every
    image and when no token prefers a group (docs/training.md).

    `soft_maps`: the noiseless soft assignments [b, O_s, N_s] of each stage (softmax over groups).
    """
    _, size = world()
    terms = []
    for soft in soft_maps:
        soft = soft.float()
        usage = all_reduce_sum_with_grad(soft.sum(dim=(0, 2))) / (soft.shape[0] * soft.shape[2] * size)  # (O,)
        usage_entropy = -(usage * torch.log(usage.clamp_min(1e-12))).sum()
        token_entropy = -(soft * torch.log(soft.clamp_min(1e-12))).sum(dim=1).mean()
        terms.append(math.log(soft.shape[1]) - usage_entropy + token_entropy)
    return torch.stack(terms).mean()
