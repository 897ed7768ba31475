"""Stochastic depth (`drop_path_scales`) against the authors' block: `x + DropPath(attn(norm1(x)))`,
`x + DropPath(mlp(norm2(x)))`, with timm's DropPath `x.div(keep_prob) * mask` (mask 0/1 per sample)."""

import types

import numpy as np
import pytest
import torch
from pt_helpers import make_inputs, randomize

from groupvit.pt import GroupViTModel, GroupViTVisionModel
from groupvit.training.noise import gumbel_noise
from tiny_configs import tiny_config


def _authors_block(masks, keep):
    """A forward for one encoder layer written from the authors' AttnBlock with timm's drop_path."""
    def forward(self, hidden_states, attention_mask=None, output_attentions=False, residual_scales=None):
        assert residual_scales is None
        def drop(x, mask):
            return x.div(keep) * mask[:, None, None]

        attn = self.self_attn(self.layer_norm1(hidden_states), attention_mask=attention_mask)[0]
        hidden_states = hidden_states + drop(attn, masks[0])
        return hidden_states + drop(self.mlp(self.layer_norm2(hidden_states)), masks[1]), None
    return forward


def _vision_layers(model):
    return [layer for stage in model.vision_model.encoder.stages for layer in stage.layers]


@pytest.mark.parametrize("stages", ["three_stage", "two_stage", "empty_stage", "plain_then_grouping"])
def test_scales_equal_the_authors_drop_path(stages):
    config = tiny_config(stages)
    torch.manual_seed(0)
    model = randomize(GroupViTModel(config)).train()
    pixels, ids, mask = make_inputs(config, n_images=4, n_texts=4)
    noise = [torch.from_numpy(n) for n in gumbel_noise(config.vision_config, 0, 0, 4)]
    layers = _vision_layers(model)
    keep = 0.7
    rng = np.random.default_rng(3)
    masks = torch.from_numpy(rng.random((4, len(layers), 2)) < keep).float()
    masks[0] = 0  # one sample drops every branch, one keeps every branch
    masks[1] = 1
    scales = masks / keep
    ours = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, gumbel_noise=noise,
                 drop_path_scales=scales)
    for index, layer in enumerate(layers):
        layer.forward = types.MethodType(_authors_block(masks[:, index].unbind(-1), keep), layer)
    reference = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, gumbel_noise=noise)
    for name in ("image_embeds", "logits_per_image"):
        np.testing.assert_allclose(ours[name].detach().numpy(), reference[name].detach().numpy(), atol=2e-6, rtol=1e-5)
    for layer in layers:
        del layer.forward
    plain = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, gumbel_noise=noise)
    assert not torch.allclose(plain.image_embeds[0], ours.image_embeds[0], atol=1e-3)  # the scales did act


def test_ones_change_nothing_and_eval_mode_ignores_the_scales():
    config = tiny_config()
    torch.manual_seed(0)
    model = randomize(GroupViTVisionModel(config.vision_config))
    pixels = make_inputs(config, n_images=3)[0]
    noise = [torch.from_numpy(n) for n in gumbel_noise(config.vision_config, 0, 0, 3)]
    layers = sum(config.vision_config.depths)
    model.train()
    plain = model(pixels, gumbel_noise=noise).last_hidden_state
    ones = model(pixels, gumbel_noise=noise, drop_path_scales=torch.ones(3, layers, 2)).last_hidden_state
    torch.testing.assert_close(ones, plain, rtol=0, atol=0)
    model.eval()
    evaluated = model(pixels).last_hidden_state
    zeros = model(pixels, drop_path_scales=torch.zeros(3, layers, 2)).last_hidden_state
    torch.testing.assert_close(zeros, evaluated, rtol=0, atol=0)


def test_a_mis_shaped_scale_array_is_named():
    config = tiny_config()
    model = GroupViTVisionModel(config.vision_config).train()
    pixels = make_inputs(config, n_images=2)[0]
    with pytest.raises(ValueError, match=r"drop_path_scales must be \[batch, vision layers \(sum of depths\), 2\].* "
                                         r"= \[2, 3, 2\]. Received: shape=\[2, 2, 2\]"):
        model(pixels, drop_path_scales=torch.ones(2, 2, 2))
