"""The authors' initialisation for runs from scratch (groupvit.training.init), against their formulas."""

import numpy as np
import pytest

from groupvit.configs import GroupViTConfig
from groupvit.training.init import initial_weights
from groupvit.weights_bridge.keys import expected_shapes
from tiny_configs import tiny_config


@pytest.fixture(scope="module")
def default_init():
    return initial_weights(GroupViTConfig(), seed=3)


def test_every_weight_is_initialised_seeded_in_its_shape_and_dtype(default_init):
    for config in (tiny_config("two_grouping"), tiny_config("three_stage"), tiny_config("plain_then_grouping")):
        weights = initial_weights(config, seed=3)
        assert {k: v.shape for k, v in weights.items()} == {k: tuple(s) for k, s in expected_shapes(config).items()}
    assert all(v.dtype == (np.int64 if k.endswith("num_batches_tracked") else np.float32)
               for k, v in default_init.items())
    again = initial_weights(GroupViTConfig(), seed=3)
    assert all(np.array_equal(again[k], v) for k, v in default_init.items())
    other = initial_weights(GroupViTConfig(), seed=4)
    assert not np.array_equal(other["vision_model.encoder.stages.0.group_token"],
                              default_init["vision_model.encoder.stages.0.group_token"])


@pytest.mark.parametrize("key, std", [
    # text, CLIP's scheme as the authors' models/transformer.py: width 256, 12 layers
    ("text_model.embeddings.token_embedding.weight", 0.02),
    ("text_model.embeddings.position_embedding.weight", 0.01),
    ("text_model.encoder.layers.0.self_attn.q_proj.weight", 256 ** -0.5),
    ("text_model.encoder.layers.5.self_attn.v_proj.weight", 256 ** -0.5),
    ("text_model.encoder.layers.0.self_attn.out_proj.weight", 256 ** -0.5 * 24 ** -0.5),
    ("text_model.encoder.layers.0.mlp.fc1.weight", 512 ** -0.5),
    ("text_model.encoder.layers.0.mlp.fc2.weight", 256 ** -0.5 * 24 ** -0.5),
    ("text_model.encoder.layers.0.mlp.fc1.bias", 256 ** -0.5 / 3 ** 0.5),  # PyTorch's default U(+-1/sqrt(fan_in))
    # vision, the authors' _init_weights: linear layers N(0, 0.02), the patch convolution PyTorch's default
    ("vision_model.encoder.stages.0.layers.0.self_attn.q_proj.weight", 0.02),
    ("vision_model.encoder.stages.1.downsample.assign.proj.weight", 0.02),
    ("vision_model.encoder.stages.1.group_projector.1.fc1.weight", 0.02),
    ("vision_model.embeddings.position_embeddings", 0.02),
    ("vision_model.encoder.stages.0.group_token", 0.02),
    ("vision_model.embeddings.patch_embeddings.projection.weight", 768 ** -0.5 / 3 ** 0.5),
    # projection heads: 1x1 convolutions with PyTorch's default
    ("visual_projection.0.weight", 384 ** -0.5 / 3 ** 0.5),
    ("text_projection.0.weight", 256 ** -0.5 / 3 ** 0.5),
    ("visual_projection.3.weight", 4096 ** -0.5 / 3 ** 0.5),
])
def test_standard_deviations_are_the_authors(default_init, key, std):
    assert abs(float(default_init[key].std()) / std - 1) < 0.06, (key, float(default_init[key].std()), std)


def test_zeros_ones_and_the_projected_stages_group_tokens(default_init):
    # a stage with a group projector starts its tokens at zero (BasicLayer's zero_init_group_token)
    assert not default_init["vision_model.encoder.stages.1.group_token"].any()
    tokens = default_init["vision_model.encoder.stages.0.group_token"][0]
    assert len(np.unique(tokens, axis=0)) == tokens.shape[0]
    for key in ("vision_model.encoder.stages.0.layers.0.self_attn.q_proj.bias",
                "text_model.encoder.layers.0.self_attn.k_proj.bias", "vision_model.layernorm.bias",
                "visual_projection.1.bias", "text_projection.1.running_mean"):
        assert not default_init[key].any(), key
    for key in ("text_model.final_layer_norm.weight", "vision_model.encoder.stages.1.group_projector.0.weight",
                "visual_projection.1.weight", "visual_projection.1.running_var"):
        assert (default_init[key] == 1).all(), key
    assert float(default_init["logit_scale"]) == pytest.approx(2.6592)
