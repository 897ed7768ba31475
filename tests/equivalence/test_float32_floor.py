"""The float32 floor of `groupvit verify`: measured against float64, lifts a bound only to float32's own error,
so a real bug (an error far above it) still fails."""

import numpy as np
from eq_helpers import make_inputs, pair
from tiny_configs import tiny_config

from groupvit.equivalence.runner import compare_outputs, float32_error, run_pytorch
from groupvit.equivalence.tolerances import FLOAT32_FLOOR


def test_float32_error_is_measured_against_float64_and_a_real_bug_still_fails():
    config = tiny_config("three_stage")
    pt_model, _, _ = pair(config)
    inputs = make_inputs(config, 2, 3, 7, seed=0)
    reference = run_pytorch(pt_model, inputs)
    own = float32_error(pt_model, inputs, reference)
    assert own["image_embeds"] > 0 and own["image_embeds"] < 1e-5  # float32 rounding, not zero, not large
    assert own["vision.attentions.0"] < 1e-5
    broken = dict(reference)
    broken["vision.attentions.0"] = reference["vision.attentions.0"] + 1e-3  # a bug-sized error
    rows = {r.name: r for r in compare_outputs(reference, broken, own_error=own)}
    assert not rows["vision.attentions.0"].ok
    assert rows["vision.attentions.0"].bound >= FLOAT32_FLOOR * own["vision.attentions.0"]
    scaled = {name: 1e-2 for name in own}  # a pretended float32 error of 1e-2 lifts the bound past the bug
    assert {r.name: r for r in compare_outputs(reference, broken, own_error=scaled)}["vision.attentions.0"].ok
    assert np.isfinite(list(own.values())).all()
