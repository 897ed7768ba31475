"""Shared helpers of the PyTorch unit tests."""

import numpy as np
import torch

from groupvit.pt import GroupViTModel


def randomize(model: GroupViTModel, seed: int = 0) -> GroupViTModel:
    """Non-trivial values everywhere: BatchNorm statistics, group tokens, positions, logit scale."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.dtype != torch.float32:
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) + 0.5)
            elif name == "logit_scale":
                tensor.fill_(1.7)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=gen) * 0.2)
    return model


def make_inputs(config, n_images=2, n_texts=3, length=7, height=None, width=None, seed=1):
    gen = torch.Generator().manual_seed(seed)
    h, w = config.vision_config.image_hw
    pixels = torch.randn(n_images, 3, height or h, width or w, generator=gen)
    text = config.text_config
    ids = torch.randint(2, text.eos_token_id, (n_texts, length), generator=gen)
    ids[:, 0] = text.bos_token_id
    ids[:, -1] = text.eos_token_id
    mask = torch.ones_like(ids)
    if n_texts > 1:
        ids[1, 4:] = text.pad_token_id
        ids[1, 3] = text.eos_token_id
        mask[1, 4:] = 0
    return pixels, ids, mask


def assert_close(a, b, atol=1e-5):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), atol=atol, rtol=0)
