"""Helpers to run the same weights through our PyTorch backend and the transformers 5.x port."""

import numpy as np
import torch
import transformers
from transformers.models.groupvit import modeling_groupvit as port_module  # noqa: F401 - conftest.py patches it

from groupvit.configs import GroupViTConfig
from groupvit.equivalence.tolerances import ACTIVATION
from groupvit.pt import GroupViTModel
from groupvit.random_checkpoint import random_weights


def random_state(config: GroupViTConfig, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random weights of unit-scale activations (so that features differ between images:
    BatchNorm in train mode divides by their batch spread), non-trivial BatchNorm statistics and
    a non-default logit scale."""
    return {k: torch.from_numpy(v) for k, v in random_weights(config, seed).items()}


def build_pair(config: GroupViTConfig, seed: int = 0):
    torch.manual_seed(seed)
    state = random_state(config, seed)
    ours = GroupViTModel(config)
    ours.load_weights(state)
    ref = transformers.GroupViTModel(transformers.GroupViTConfig.from_dict(config.to_dict()))
    result = ref.load_state_dict(state, strict=False)
    assert not result.missing_keys and not result.unexpected_keys
    return ours.eval(), ref.eval(), state


class InjectedGumbel:
    """Replaces the port's gumbel_softmax so that it uses the given noise, stage by stage."""

    def __init__(self, noise):
        self.noise = list(noise)
        self.calls = 0

    def __call__(self, logits, tau=1, hard=False, dim=-1):
        noise = self.noise[self.calls]
        self.calls += 1
        y_soft = ((logits + noise) / tau).softmax(dim)
        index = y_soft.max(dim, keepdim=True)[1]
        y_hard = torch.zeros_like(logits).scatter_(dim, index, 1.0)
        return y_hard - y_soft.detach() + y_soft


def max_abs(a, b) -> float:
    return float((a.detach() - b.detach()).abs().max())


def assert_close(a, b, atol=1e-5, what=""):
    diff = max_abs(a, b)
    assert diff <= atol, f"{what}: max abs diff {diff:.3g} > {atol}"


def assert_activation_close(a, b, what=""):
    """The equivalence suite's activation bound: 1e-5 for values of order one, relative beyond.

    Residual streams grow to ~12 at the default size, where float32 rounding alone is ~1e-5:
    measured there against a float64 run of the port, the port's own float32 error was 5.7e-6 and
    ours (oneDNN products) 8.6e-6 on hidden_states[8] of magnitude 12.
    """
    bound = ACTIVATION.bound(float(b.detach().abs().max()))
    diff = max_abs(a, b)
    assert diff <= bound, f"{what}: max abs diff {diff:.3g} > bound {bound:.3g} ({ACTIVATION.scale})"


def assert_close_relative_to_max(a, b, rtol=1e-5, what=""):
    scale = float(b.detach().abs().max())
    diff = max_abs(a, b)
    assert diff <= rtol * scale, f"{what}: max abs diff {diff:.3g} > {rtol} x max |ref| {scale:.3g}"


def inputs_for(config: GroupViTConfig, n_images: int, n_texts: int, length: int, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    h, w = config.vision_config.image_hw
    pixels = torch.randn(n_images, config.vision_config.num_channels, h, w, generator=gen)
    text = config.text_config
    ids = torch.randint(3, min(text.vocab_size, text.eos_token_id), (n_texts, length), generator=gen)
    ids[:, 0] = text.bos_token_id
    ids[:, -1] = text.eos_token_id
    mask = torch.ones_like(ids)
    if n_texts > 1:  # right padding after an early end token
        ids[1, length // 2 + 1:] = text.pad_token_id
        ids[1, length // 2] = text.eos_token_id
        mask[1, length // 2 + 1:] = 0
    return pixels, ids, mask


def noise_for(config: GroupViTConfig, n_images: int, seed: int = 7):
    gen = torch.Generator().manual_seed(seed)
    vision = config.vision_config
    tokens, shapes = vision.num_patches, []
    for g, o in zip(vision.num_group_tokens, vision.num_output_groups):
        if g:
            shapes.append((n_images, o, tokens))
            tokens = o
    return [-torch.log(-torch.log(torch.rand(s, generator=gen).clamp(1e-10, 1 - 1e-7))) for s in shapes]


def as_np(x):
    return np.asarray(x.detach())
