"""The trainer's stochastic-depth draws (groupvit.training.noise.drop_path_scales)."""

import numpy as np
import pytest
import torch

from groupvit.configs import GroupViTVisionConfig
from groupvit.training.noise import drop_path_rates, drop_path_scales

AUTHORS = GroupViTVisionConfig()  # depths 6, 3, 3


def test_rates_rise_linearly_over_all_layers_as_the_authors():
    rates = drop_path_rates(AUTHORS, 0.1)
    expected = [x.item() for x in torch.linspace(0, 0.1, sum(AUTHORS.depths))]  # their group_vit.py
    np.testing.assert_allclose(rates, expected, rtol=2e-7, atol=0)  # torch's float32 linspace: to its rounding
    assert rates[0] == 0 and rates[-1] == np.float32(0.1)
    with pytest.raises(ValueError, match=r"drop-path rate must be in \[0, 1\). Received: 1.0"):
        drop_path_rates(AUTHORS, 1.0)


def test_scales_are_zero_or_one_over_keep_with_the_layers_probability():
    scales = drop_path_scales(AUTHORS, 0.4, seed=0, step=3, global_batch=4000)
    assert scales.shape == (4000, 12, 2) and scales.dtype == np.float32
    keep = 1 - drop_path_rates(AUTHORS, 0.4)
    for layer in range(12):
        values = scales[:, layer]
        np.testing.assert_allclose(np.unique(values[values > 0]), [1 / keep[layer]], rtol=1e-6)
        dropped = float((values == 0).mean())
        assert abs(dropped - (1 - keep[layer])) < 0.03, (layer, dropped)
    assert not (scales[:, 0] == 0).any()  # the first layer is never dropped (rate 0)
    # the two branches of a layer are drawn apart, as the authors' two DropPath calls
    assert (scales[:, -1, 0] != scales[:, -1, 1]).mean() > 0.3


def test_a_rank_takes_its_rows_of_the_global_draw_and_steps_differ():
    full = drop_path_scales(AUTHORS, 0.3, seed=5, step=2, global_batch=8)
    np.testing.assert_array_equal(drop_path_scales(AUTHORS, 0.3, 5, 2, 8, rows=slice(4, 8)), full[4:8])
    assert not np.array_equal(drop_path_scales(AUTHORS, 0.3, 5, 3, 8), full)
    assert drop_path_scales(AUTHORS, 0.0, 5, 2, 8) is None
    # its generator is not the first grouping stage's (seeded (seed, step, 0)): the draws are not its uniforms
    stage_0 = np.random.default_rng([5, 2, 0]).random((8, 12, 2)) < (1 - drop_path_rates(AUTHORS, 0.3))[:, None]
    assert not np.array_equal(full > 0, stage_0)
