"""`TFGroupViTVisionModel`: the vision tower on its own (weights under `vision_model.`)."""

from __future__ import annotations

from typing import Sequence

from groupvit.configs import GroupViTVisionConfig, call_flags
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.tf._inputs import check_drop_path, check_noise, check_vision_inputs, vision_inputs
from groupvit.tf.precision import dtype_policy_scope
from groupvit.tf.pretrained import TFGroupViTPreTrainedModel
from groupvit.tf.vision_transformer import TFGroupViTVisionTransformer


class TFGroupViTVisionModel(TFGroupViTPreTrainedModel):
    """GroupViT vision encoder; `attentions` are the soft assignment maps of the grouping stages.

    `gumbel_noise` (training only): one tensor per grouping stage, in stage order, shaped
    [B, num_output_groups[s], tokens entering that stage's assignment]; sampled when None.
    `drop_path_scales` (training only): [B, sum(depths), 2], each vision layer's attention and MLP branch scale
    per sample (stochastic depth: 0 or 1 / keep probability, as the authors' DropPath); none when None.
    """

    config_class = GroupViTVisionConfig
    default_name = "groupvit_vision_model"

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        """`dtype="bfloat16"` / `"mixed_bfloat16"` builds every layer under that policy (groupvit.tf.precision)."""
        with dtype_policy_scope(kwargs.get("dtype")):
            super().__init__(config, **kwargs)
            self.vision_model = TFGroupViTVisionTransformer(config, name="vision_model")
            self.build()

    def build(self, input_shape=None) -> None:
        self.vision_model.build(None)

    def call(
        self,
        pixel_values=None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence | None = None,
        training: bool = False,
        drop_path_scales=None,
    ) -> BaseModelOutputWithPooling | tuple:
        pixel_values = vision_inputs(pixel_values)
        check_vision_inputs(pixel_values, self.config, interpolate_pos_encoding)
        gumbel_noise = check_noise(gumbel_noise, self.config)
        drop_path_scales = check_drop_path(drop_path_scales, self.config, pixel_values.shape[0])
        output_attentions, output_hidden_states, return_dict = call_flags(
            self.config, output_attentions, output_hidden_states, return_dict)
        out = self._run(
            self._forward, {"pixel_values": pixel_values, "gumbel_noise": gumbel_noise,
                            "drop_path_scales": drop_path_scales},
            output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            interpolate_pos_encoding=bool(interpolate_pos_encoding), training=bool(training),
        )
        return out if return_dict else out.to_tuple()

    def _forward(self, pixel_values, gumbel_noise=None, drop_path_scales=None, **flags) -> BaseModelOutputWithPooling:
        return self.vision_model(pixel_values, gumbel_noise=gumbel_noise, drop_path_scales=drop_path_scales, **flags)
