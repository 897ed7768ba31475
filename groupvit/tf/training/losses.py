"""The two training losses of GroupViT (docs/training.md), across the replicas of a tf.distribute strategy.

Mirrors `groupvit/pt/training/losses.py`: every replica holds `b` local rows; embeddings of all
replicas are gathered with gradients (`ReplicaContext.all_gather`: its gradient is an all-reduce
SUM of the upstream gradient, sliced to the replica's rows), rows are the local ones, columns
the global ones, and targets are offset by `b * replica_id`. With no strategy or one replica both
are exactly the single-process losses.
"""

from __future__ import annotations

import math

import tensorflow as tf
from keras import ops

MAX_LOGIT_SCALE = 100.0


def replica_world():
    """(replica id, number of replicas, replica context or None when there is only one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0, 1, None
    return context.replica_id_in_sync_group, context.num_replicas_in_sync, context


def all_gather_with_grad(x):
    """Rows of every replica concatenated in replica order; gradients flow back to each row's owner."""
    _, _, context = replica_world()
    # tf.identity: a step's raw input (the image nouns) has no device inside the traced step, and
    # MultiWorkerMirroredStrategy's gather refuses it ("destinations can not be empty")
    return x if context is None else context.all_gather(tf.identity(x), axis=0)


def clamped_scale(log_scale):
    """`min(exp(log_scale), 100)`: the temperature clamp of CLIP and of the authors."""
    return ops.minimum(ops.exp(log_scale), MAX_LOGIT_SCALE)


def cross_entropy(logits, targets):
    """Mean over rows of `-log_softmax(logits)[row, target]` (PyTorch's F.cross_entropy)."""
    log_probs = ops.log_softmax(logits, axis=-1)
    return -ops.mean(ops.take_along_axis(log_probs, ops.expand_dims(targets, 1), axis=1))


def soft_cross_entropy(logits, targets):
    """Mean over rows of `-sum(targets * log_softmax(logits))`."""
    return ops.mean(ops.sum(-targets * ops.log_softmax(logits, axis=-1), axis=-1))


def _own_rows(embeds):
    """Global index of each local row: arange(b) + b * replica_id."""
    rank, _, _ = replica_world()
    b = tf.shape(embeds)[0]
    return tf.range(b) + b * tf.cast(rank, tf.int32)


def contrastive_loss(image_embeds, text_embeds, log_scale):
    """Image-text InfoNCE of L2-normalised local embeddings [b, P] against all replicas' embeddings."""
    scale = clamped_scale(log_scale)
    all_images, all_texts = all_gather_with_grad(image_embeds), all_gather_with_grad(text_embeds)
    targets = _own_rows(image_embeds)
    per_image = scale * ops.matmul(image_embeds, ops.transpose(all_texts))  # (b, W b)
    per_text = scale * ops.matmul(text_embeds, ops.transpose(all_images))  # (b, W b)
    return 0.5 * (cross_entropy(per_image, targets) + cross_entropy(per_text, targets))


def multi_label_loss(image_embeds, prompt_embeds, log_scale):
    """Multi-label contrastive loss: images [b, P] against K noun prompts per image [b, K, P].

    Image -> prompts: soft targets 1/K on the image's own K prompts among all W b K prompts;
    prompt -> images: one-hot on the prompt's own image among all W b images.
    """
    k, width = prompt_embeds.shape[1], prompt_embeds.shape[2]
    scale = clamped_scale(log_scale)
    local_prompts = ops.reshape(prompt_embeds, (-1, width))  # (b K, P)
    all_prompts = all_gather_with_grad(local_prompts)  # (W b K, P), ordered (replica, image, prompt)
    all_images = all_gather_with_grad(image_embeds)  # (W b, P)
    own = _own_rows(image_embeds)
    image_targets = tf.one_hot(own, tf.shape(all_images)[0], dtype=image_embeds.dtype)  # (b, W b)
    image_targets = tf.repeat(image_targets, k, axis=1) / k  # (b, W b K)
    per_image = scale * ops.matmul(image_embeds, ops.transpose(all_prompts))
    per_prompt = scale * ops.matmul(local_prompts, ops.transpose(all_images))  # (b K, W b)
    prompt_targets = tf.repeat(own, k)
    return 0.5 * (soft_cross_entropy(per_image, image_targets) + cross_entropy(per_prompt, prompt_targets))


def noun_positives(own, image_nouns, prompt_nouns, prompt_owner):
    """[rows, prompts] bool: prompt p is a positive of image i when i owns it or i's nouns hold p's noun."""
    same_noun = ops.logical_and(ops.equal(image_nouns[:, :, None], prompt_nouns[None, None, :]),
                                ops.greater_equal(prompt_nouns, 0)[None, None, :])
    return ops.logical_or(ops.any(same_noun, axis=1), ops.equal(own[:, None], prompt_owner[None, :]))


def pool_groups(scores, axis, tau):
    """The maximum over `axis` (tau 0), else its soft form `tau * logsumexp(scores / tau)`."""
    if tau == 0:
        return ops.max(scores, axis=axis)
    return tau * ops.logsumexp(scores / tau, axis=axis)


def grouped_multi_label_loss(group_embeds, prompt_embeds, log_scale, image_nouns, prompt_nouns, pooling_tau=0.0):
    """The multi-label loss scored by groups, every image holding a prompt's noun a positive.

    `group_embeds` [b, G, P] L2-normalised final groups; `prompt_embeds` [b, K, P]; `image_nouns`
    [b, M] and `prompt_nouns` [b, K] noun ids (-1: none). Image i and prompt p score
    `max_g z_ig . t_p`, or with `pooling_tau` > 0 `tau * logsumexp_g(z_ig . t_p / tau)`; targets are soft
    over the positives in both directions (docs/training.md).
    """
    k, width = prompt_embeds.shape[1], prompt_embeds.shape[2]
    scale = clamped_scale(log_scale)
    local_prompts = ops.reshape(prompt_embeds, (-1, width))  # (b K, P)
    local_nouns = ops.reshape(prompt_nouns, (-1,))
    all_prompts = all_gather_with_grad(local_prompts)  # (W b K, P)
    all_groups = all_gather_with_grad(group_embeds)  # (W b, G, P)
    all_image_nouns = all_gather_with_grad(image_nouns)  # (W b, M)
    all_prompt_nouns = all_gather_with_grad(local_nouns)  # (W b K,)
    own = _own_rows(group_embeds)
    every = tf.range(tf.shape(all_groups)[0])
    per_image = scale * pool_groups(ops.einsum("bgp,np->bgn", group_embeds, all_prompts), 1, pooling_tau)
    per_prompt = scale * pool_groups(ops.einsum("np,igp->nig", local_prompts, all_groups), 2, pooling_tau)
    image_pos = noun_positives(own, image_nouns, all_prompt_nouns, tf.repeat(every, k))
    prompt_pos = ops.transpose(noun_positives(every, all_image_nouns, local_nouns, tf.repeat(own, k)))
    image_pos, prompt_pos = ops.cast(image_pos, per_image.dtype), ops.cast(prompt_pos, per_prompt.dtype)
    image_targets = image_pos / ops.sum(image_pos, axis=1, keepdims=True)
    prompt_targets = prompt_pos / ops.sum(prompt_pos, axis=1, keepdims=True)
    return 0.5 * (soft_cross_entropy(per_image, image_targets) + soft_cross_entropy(per_prompt, prompt_targets))


def group_exclusivity_loss(group_embeds, prompt_embeds, log_scale, prompt_nouns):
    """Each noun of an image is carried by one of its groups: per image and own prompt, `logsumexp_g(s z_ig . t_ik)
    - max_g(s z_ig . t_ik)`, captions padding the list (noun -1) counted 0, mean over the b K slots; the
    temperature without its gradient (GroupViTTrainingStep's; docs/training.md)."""
    scale = clamped_scale(ops.stop_gradient(log_scale))
    logits = scale * ops.einsum("bgp,bkp->bkg", group_embeds, prompt_embeds)  # (b, K, G)
    per_prompt = ops.logsumexp(logits, axis=-1) - ops.max(logits, axis=-1)
    named = ops.cast(ops.greater_equal(prompt_nouns, 0), per_prompt.dtype)
    return ops.sum(per_prompt * named) / ops.cast(ops.size(per_prompt), per_prompt.dtype)


def group_naming_loss(group_embeds, prompt_embeds, log_scale, prompt_nouns):
    """Each group of an image names the nouns it carries (it is the image's best group for their prompts) and
    nothing else: per group, the KL divergence of the softmax over the global batch's named prompts from
    uniform over its nouns' prompts, or, carrying none, uniform over all named prompts; it trains the groups
    only (prompts and temperature without gradient); mean over the local b G groups (GroupViTTrainingStep's;
    docs/training.md)."""
    count, width = group_embeds.shape[1], group_embeds.shape[2]
    scale = clamped_scale(ops.stop_gradient(log_scale))
    all_prompts = all_gather_with_grad(ops.reshape(ops.stop_gradient(prompt_embeds), (-1, width)))  # (N, P)
    all_nouns = all_gather_with_grad(ops.reshape(prompt_nouns, (-1,)))  # (N,)
    named = ops.greater_equal(all_nouns, 0)
    logits = scale * ops.einsum("bgp,np->bgn", group_embeds, all_prompts)
    logits = ops.where(named, logits, ops.full_like(logits, -1e4))  # unnamed prompts drop out
    own = ops.einsum("bgp,bkp->bkg", ops.stop_gradient(group_embeds), ops.stop_gradient(prompt_embeds))
    carried = ops.one_hot(ops.argmax(own, axis=-1), count, dtype=logits.dtype)
    carried = carried * ops.cast(ops.greater_equal(prompt_nouns, 0), logits.dtype)[..., None]  # (b, K, G)
    same = ops.cast(ops.logical_and(ops.equal(prompt_nouns[:, :, None], all_nouns[None, None, :]), named),
                    logits.dtype)  # (b, K, N)
    carries = ops.greater(ops.einsum("bkg,bkn->bgn", carried, same), 0)  # (b, G, N)
    flat = ops.logical_and(ops.ones_like(carries), named)
    target = ops.cast(ops.where(ops.any(carries, axis=-1, keepdims=True), carries, flat), logits.dtype)
    target = target / ops.maximum(ops.sum(target, axis=-1, keepdims=True), 1.0)
    log_p = ops.log_softmax(logits, axis=-1)
    log_target = ops.log(ops.where(target > 0, target, ops.ones_like(target)))
    return ops.mean(ops.sum(target * (log_target - log_p), axis=-1))


def group_balance_loss(soft_maps):
    """Mean over grouping stages of `log O - H(u) + mean H(soft[:, n])`, `u` the groups' shares of all tokens of
    the global batch (every replica), token entropies over the local tokens (GroupViTTrainingStep's;
    docs/training.md); `soft_maps`: the noiseless soft assignments [b, O_s, N_s]."""
    _, replicas, context = replica_world()
    terms = []
    for soft in soft_maps:
        soft = ops.cast(soft, "float32")
        counts = ops.sum(soft, axis=(0, 2))  # (O,)
        if context is not None:
            counts = context.all_reduce(tf.distribute.ReduceOp.SUM, counts)
        tokens = ops.cast(tf.shape(soft)[0] * tf.shape(soft)[2] * replicas, "float32")
        usage = counts / tokens
        usage_entropy = -ops.sum(usage * ops.log(ops.maximum(usage, 1e-12)))
        token_entropy = ops.mean(-ops.sum(soft * ops.log(ops.maximum(soft, 1e-12)), axis=1))
        terms.append(math.log(soft.shape[1]) - usage_entropy + token_entropy)
    return ops.mean(ops.stack(terms))
