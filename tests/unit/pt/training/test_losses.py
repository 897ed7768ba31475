"""The training losses against independent formulas (one process)."""

import numpy as np
import torch

from groupvit.pt.groupvit_model import contrastive_loss as model_contrastive_loss
from groupvit.pt.training.losses import clamped_scale, contrastive_loss, multi_label_loss


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
