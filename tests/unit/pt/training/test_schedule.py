"""The schedule against torch's own schedulers, and the weight-decay groups."""

import pytest
import torch

from groupvit.training.schedule import CosineSchedule
from groupvit.training.weight_decay import decays


def test_warmup_then_cosine_equals_torch_schedulers():
    """timm's CosineLRScheduler as the authors build it (warmup_prefix False): a linear warm-up, then the cosine
    of the whole run measured from step 0 (torch's CosineAnnealingLR over all steps, read from the warm-up on)."""
    base, warm_lr, floor, warm, total = 1e-3, 1e-5, 1e-4, 4, 20
    schedule = CosineSchedule(base_lr=base, total_steps=total, warmup_steps=warm, warmup_lr=warm_lr, min_lr=floor)
    warm_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    warmup = torch.optim.lr_scheduler.LinearLR(warm_opt, start_factor=warm_lr / base, end_factor=1.0,
                                               total_iters=warm)
    cos_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(cos_opt, T_max=total, eta_min=floor)
    for step in range(total):
        expected = (warm_opt if step < warm else cos_opt).param_groups[0]["lr"]
        assert schedule.lr_at(step) == pytest.approx(expected, rel=1e-9), step
        for opt, sched in ((warm_opt, warmup), (cos_opt, cosine)):
            opt.step()
            sched.step()
    assert schedule.lr_at(warm) < base and schedule.lr_at(total) == pytest.approx(floor)


def test_schedule_rejects_bad_settings():
    with pytest.raises(ValueError, match="warmup_steps must be"):
        CosineSchedule(base_lr=1e-3, total_steps=5, warmup_steps=5)


def test_no_decay_on_one_dimensional_parameters():
    assert decays("text_model.encoder.layers.0.mlp.fc1.weight", (37, 32))
    assert decays("vision_model.encoder.stages.0.group_token", (1, 8, 32))
    assert not decays("text_model.encoder.layers.0.mlp.fc1.bias", (37,))
    assert not decays("visual_projection.1.weight", (48,))
    assert not decays("logit_scale", ())
