"""The training losses against independent formulas (one process)."""

import numpy as np
import torch

from groupvit.pt.groupvit_model import contrastive_loss as model_contrastive_loss
from groupvit.pt.training.losses import (clamped_scale, contrastive_loss, group_balance_loss, group_exclusivity_loss,
                                         group_naming_loss, grouped_multi_label_loss, multi_label_loss)
from loss_reference import (exclusivity_by_loops, group_balance_by_loops, grouped_by_loops, naming_by_loops,
                            shared_noun_case, soft_map_case)


def _normalized(rng, *shape):
    x = rng.normal(size=shape)
    return torch.tensor(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=torch.float64)


def test_contrastive_equals_the_models_return_loss_below_the_clamp():
    rng = np.random.default_rng(0)
    images, texts = _normalized(rng, 5, 8), _normalized(rng, 5, 8)
    log_scale = torch.tensor(2.3, dtype=torch.float64)
    ours = contrastive_loss(images, texts, log_scale)
    reference = model_contrastive_loss(texts @ images.t() * log_scale.exp())  # the port's formula
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)


def test_scale_is_clamped_at_100_and_gets_no_gradient_there():
    log_scale = torch.tensor(5.0, requires_grad=True)  # exp(5) = 148 > 100
    scale = clamped_scale(log_scale)
    scale.backward()
    assert float(scale) == 100.0 and float(log_scale.grad) == 0.0


def test_multi_label_loss_equals_a_loop_over_rows():
    rng = np.random.default_rng(1)
    b, k, p = 3, 2, 6
    images, prompts = _normalized(rng, b, p), _normalized(rng, b, k, p)
    log_scale = torch.tensor(1.5, dtype=torch.float64)
    ours = float(multi_label_loss(images, prompts, log_scale))

    s = float(np.exp(1.5))
    img, pr = images.numpy(), prompts.numpy().reshape(b * k, p)
    image_terms = []
    for i in range(b):  # image -> all prompts, 1/K on its own
        logits = s * pr @ img[i]
        log_p = logits - np.log(np.exp(logits).sum())
        image_terms.append(-np.mean([log_p[i * k + j] for j in range(k)]))
    prompt_terms = []
    for row in range(b * k):  # prompt -> all images, its own image
        logits = s * img @ pr[row]
        prompt_terms.append(-(logits[row // k] - np.log(np.exp(logits).sum())))
    expected = 0.5 * (np.mean(image_terms) + np.mean(prompt_terms))
    assert abs(ours - expected) < 1e-12


def test_grouped_loss_with_one_group_and_distinct_nouns_is_the_multi_label_loss():
    rng = np.random.default_rng(2)
    b, k, p = 4, 3, 6
    images, prompts = _normalized(rng, b, p), _normalized(rng, b, k, p)
    log_scale = torch.tensor(1.2, dtype=torch.float64)
    prompt_nouns = torch.arange(b * k).reshape(b, k)  # no noun shared between images
    image_nouns = torch.cat([prompt_nouns, torch.full((b, 2), -1)], dim=1)
    grouped = grouped_multi_label_loss(images[:, None], prompts, log_scale, image_nouns, prompt_nouns)
    torch.testing.assert_close(grouped, multi_label_loss(images, prompts, log_scale), rtol=1e-12, atol=1e-12)


def test_grouped_loss_takes_the_best_group_and_every_image_with_the_noun_as_positive():
    groups, prompts, image_nouns, prompt_nouns, log_scale = shared_noun_case()
    b, k = prompt_nouns.shape
    def as_t(x):
        return torch.tensor(x, dtype=torch.float64)

    ours = grouped_multi_label_loss(as_t(groups), as_t(prompts), torch.tensor(log_scale, dtype=torch.float64),
                                    torch.from_numpy(image_nouns), torch.from_numpy(prompt_nouns))
    expected = grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns)
    assert abs(float(ours) - expected) < 1e-12
    # and the positives matter: with every noun distinct the value differs
    distinct = np.arange(b * k).reshape(b, k)
    other = grouped_multi_label_loss(as_t(groups), as_t(prompts), torch.tensor(log_scale, dtype=torch.float64),
                                     torch.from_numpy(np.pad(distinct, ((0, 0), (0, 1)), constant_values=-1)),
                                     torch.from_numpy(distinct))
    assert abs(float(other) - expected) > 1e-3


def test_soft_pooling_matches_the_loops_nears_the_maximum_and_reaches_every_group():
    groups, prompts, image_nouns, prompt_nouns, log_scale = shared_noun_case()
    def run(tau, g=None):
        g = torch.tensor(groups, dtype=torch.float64) if g is None else g
        return grouped_multi_label_loss(g, torch.tensor(prompts, dtype=torch.float64),
                                        torch.tensor(log_scale, dtype=torch.float64), torch.from_numpy(image_nouns),
                                        torch.from_numpy(prompt_nouns), pooling_tau=tau)

    for tau in (0.05, 0.3):
        expected = grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns, tau=tau)
        assert abs(float(run(tau)) - expected) < 1e-12
    hard = grouped_by_loops(groups, prompts, log_scale, image_nouns, prompt_nouns)
    assert abs(float(run(1e-4)) - hard) < 1e-3 < abs(float(run(0.3)) - hard)
    rng = np.random.default_rng(4)
    axis = np.eye(prompts.shape[-1])[0]
    near = axis + 0.1 * rng.normal(size=prompts.shape)  # every prompt close to one direction ...
    near /= np.linalg.norm(near, axis=-1, keepdims=True)
    prompts = near
    hubbed = np.stack([np.broadcast_to(axis, groups[:, 0].shape), -groups[:, 1], -groups[:, 2]], axis=1)
    hubbed[:, 1:] -= 2 * axis  # ... group 0 of every image along it, the other groups away from it
    hubbed /= np.linalg.norm(hubbed, axis=-1, keepdims=True)
    assert (np.einsum("bgp,np->bgn", hubbed, near.reshape(-1, near.shape[-1])).argmax(axis=1) == 0).all()
    for tau, reached_groups in ((0.0, [True, False, False]), (0.3, [True, True, True])):
        g = torch.tensor(hubbed, dtype=torch.float64, requires_grad=True)
        run(tau, g).backward()
        reached = g.grad.abs().sum(dim=-1) > 0  # (images, groups)
        assert reached.tolist() == [reached_groups] * len(groups)


def test_group_balance_is_zero_for_sure_equal_use_log_groups_for_collapse_or_indecision_and_the_loop_formula():
    maps, collapsed, uniform, balanced = soft_map_case()
    as_t = lambda x: torch.tensor(x, dtype=torch.float64)  # noqa: E731
    assert abs(float(group_balance_loss([as_t(balanced)]))) < 1e-6
    assert abs(float(group_balance_loss([as_t(uniform)])) - np.log(4)) < 1e-6
    assert abs(float(group_balance_loss([as_t(collapsed)])) - np.log(4)) < 1e-6
    assert abs(float(group_balance_loss([as_t(m) for m in maps])) - group_balance_by_loops(maps)) < 1e-6


def test_group_exclusivity_matches_the_loops_and_pushes_the_other_groups_away_from_the_noun():
    groups, prompts, _, prompt_nouns, log_scale = shared_noun_case()
    g = torch.tensor(groups, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(log_scale, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(prompts, dtype=torch.float64)
    ours = group_exclusivity_loss(g, t, scale, torch.from_numpy(prompt_nouns))
    assert abs(float(ours) - exclusivity_by_loops(groups, prompts, log_scale, prompt_nouns)) < 1e-12
    ours.backward()
    assert scale.grad is None or float(scale.grad) == 0.0  # the temperature is not sharpened by this term
    # one image, one named prompt: the best group is pulled towards the prompt, every other group pushed away
    one = torch.tensor(groups[:1], dtype=torch.float64, requires_grad=True)
    group_exclusivity_loss(one, t[:1, :1], scale.detach(), torch.tensor([[7]])).backward()
    along = (one.grad[0] @ t[0, 0]).numpy()  # a step against the gradient changes each cosine by -lr * along
    best = int(np.argmax(groups[0] @ prompts[0, 0]))
    assert along[best] < 0 and all(along[j] > 0 for j in range(groups.shape[1]) if j != best), along
    # image 1 names one noun: its caption slot (-1) takes no part, so only prompt 0 moves its groups
    alone = torch.tensor(groups[1:2], dtype=torch.float64, requires_grad=True)
    group_exclusivity_loss(alone, t[1:2], scale.detach(), torch.tensor([[9, -1]])).backward()
    only_named = torch.tensor(groups[1:2], dtype=torch.float64, requires_grad=True)
    group_exclusivity_loss(only_named, t[1:2, :1], scale.detach(), torch.tensor([[9]])).backward()
    torch.testing.assert_close(alone.grad * 2, only_named.grad, rtol=1e-12, atol=1e-12)  # mean over 2 vs 1 slots


def test_group_exclusivity_is_log_groups_when_the_groups_are_alike_and_zero_when_one_carries_the_noun():
    prompts = torch.eye(4, dtype=torch.float64)[None, :2]  # one image, nouns along axes 0 and 1
    alike = torch.full((1, 3, 4), 0.5, dtype=torch.float64)
    scale = torch.tensor(np.log(100.0), dtype=torch.float64)
    nouns = torch.tensor([[0, 1]])
    assert abs(float(group_exclusivity_loss(alike, prompts, scale, nouns)) - np.log(3)) < 1e-12
    apart = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]], dtype=torch.float64)
    assert float(group_exclusivity_loss(apart, prompts, scale, nouns)) < 1e-40  # log(1 + 2 e^-100)


def test_group_naming_matches_the_loops_and_flattens_the_groups_that_carry_no_noun():
    groups, prompts, _, prompt_nouns, log_scale = shared_noun_case()
    g = torch.tensor(groups, dtype=torch.float64, requires_grad=True)
    scale = torch.tensor(log_scale, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(prompts, dtype=torch.float64, requires_grad=True)
    ours = group_naming_loss(g, t, scale, torch.from_numpy(prompt_nouns))
    assert abs(float(ours) - naming_by_loops(groups, prompts, log_scale, prompt_nouns)) < 1e-12
    ours.backward()
    assert scale.grad is None or float(scale.grad) == 0.0
    assert t.grad is None or float(t.grad.abs().sum()) == 0.0  # the groups learn from it, not the prompts
    assert float(g.grad.abs().sum()) > 0
    # zero exactly when a carrying group puts all its mass on its noun and the others are flat
    prompts_apart = torch.eye(4, dtype=torch.float64)[None, :2]  # one image naming nouns 0 and 1
    nouns = torch.tensor([[0, 1]])
    flat = torch.tensor([0.0, 0.0, 1.0, 0.0], dtype=torch.float64)  # the same cosine to both prompts
    ideal = torch.stack([torch.eye(4, dtype=torch.float64)[0], torch.eye(4, dtype=torch.float64)[1], flat])[None]
    big = torch.tensor(np.log(100.0), dtype=torch.float64)
    assert float(group_naming_loss(ideal, prompts_apart, big, nouns)) < 1e-40  # (2 log(1 + e^-100) + 0) / 3
    # a third group as close to noun 0 as its carrier is pushed towards the flat distribution
    leaning = ideal.clone()
    leaning[0, 2] = torch.tensor([0.8, 0.0, 0.6, 0.0], dtype=torch.float64)
    leaning.requires_grad_(True)
    group_naming_loss(leaning, prompts_apart, big, nouns).backward()
    along = leaning.grad[0, 2] @ (prompts_apart[0, 0] - prompts_apart[0, 1])
    assert float(along) > 0  # a step against the gradient lowers its preference for noun 0 over noun 1
