"""The list of zero-gradient parameters (tests/training_invariants.py) holds, in float64."""

import torch

from groupvit.pt.training.step_module import GroupViTTrainingStep
from groupvit.pt.groupvit_model import GroupViTModel
from groupvit.training.noise import gumbel_noise
from training_batches import config_and_weights, synthetic_batch
from training_invariants import zero_gradient


def test_exactly_the_listed_parameters_have_zero_gradient():
    config, weights = config_and_weights()
    model = GroupViTModel(config)
    model.load_weights(weights)
    step = GroupViTTrainingStep(model.double().train(), multi_label=2, logit_scale_init=2.0).double()
    batch = synthetic_batch(config, 4, k=2)
    tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
    tensors["pixel_values"] = tensors["pixel_values"].double()
    noise = [torch.from_numpy(n).double() for n in gumbel_noise(config.vision_config, 0, 0, 4)]
    step(gumbel_noise=noise, **tensors)["loss"].backward()
    scale = max(float(p.grad.abs().max()) for p in model.parameters())
    for name, param in model.named_parameters():
        relative = float(param.grad.abs().max()) / scale
        if zero_gradient(name):
            assert relative < 1e-12, (name, relative)
        else:
            assert relative > 1e-9, (name, relative)
