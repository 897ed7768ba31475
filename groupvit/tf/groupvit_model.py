"""`TFGroupViTModel`: both towers, projection heads, contrastive logits and segmentation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Sequence

import keras
from keras import ops

from groupvit import input_checks
from groupvit.configs import GroupViTConfig, call_flags
from groupvit.outputs import GroupViTModelOutput
from groupvit.tf._inputs import (check_drop_path, check_noise, check_text_inputs, check_vision_inputs, input_list,
                                  pixels_tensor, text_inputs, to_tensor, vision_inputs)
from groupvit.tf._ops import contrastive_loss, normalize
from groupvit.tf.precision import dtype_policy_scope
from groupvit.tf.pretrained import TFGroupViTPreTrainedModel
from groupvit.tf.projection_head import TFGroupViTProjectionHead
from groupvit.tf.segmentation import pixel_grouping, segmentation_logits
from groupvit.tf.text_transformer import TFGroupViTTextTransformer
from groupvit.tf.vision_transformer import TFGroupViTVisionTransformer

INPUT_NAMES = ("input_ids", "pixel_values", "attention_mask", "position_ids")


class TFGroupViTModel(TFGroupViTPreTrainedModel):
    """GroupViT: image-text logits, embeddings and (optionally) zero-shot segmentation logits.

    `model.fit` trains with the contrastive loss of docs/computation.md (no `loss=` needed in compile);
    `model.predict` takes a dict of inputs and returns plain nested dicts.
    """

    config_class = GroupViTConfig
    default_name = "groupvit"

    def __init__(self, config: GroupViTConfig, **kwargs) -> None:
        """`dtype="bfloat16"` / `"mixed_bfloat16"` builds every layer under that policy (groupvit.tf.precision)."""
        with dtype_policy_scope(kwargs.get("dtype")):
            super().__init__(config, **kwargs)
            text_config, vision_config = config.text_config, config.vision_config
            mid, dim = config.projection_intermediate_dim, config.projection_dim
            self.text_model = TFGroupViTTextTransformer(text_config, name="text_model")
            self.vision_model = TFGroupViTVisionTransformer(vision_config, name="vision_model")
            self.visual_projection = TFGroupViTProjectionHead(vision_config.hidden_size, mid, dim,
                                                              name="visual_projection")
            self.text_projection = TFGroupViTProjectionHead(text_config.hidden_size, mid, dim, name="text_projection")
            self.build()

    def build(self, input_shape=None) -> None:
        for layer in (self.text_model, self.vision_model, self.visual_projection, self.text_projection):
            layer.build(None)
        self.logit_scale = self.add_weight(
            name="logit_scale", shape=(), initializer=keras.initializers.Constant(self.config.logit_scale_init_value),
            dtype="float32", autocast=False,  # float32 under any policy: the logits and segmentation are float32
        )

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None, output_attentions=None,
                          output_hidden_states=None, return_dict=None, training: bool = False):
        """Projected (un-normalized) text features [B, projection_dim], as the old Keras 2 port: its arguments in
        its order (`output_attentions`, `output_hidden_states` and `return_dict` change nothing in the
        features, there as here), a dict of inputs as the first argument too."""
        input_ids, attention_mask, position_ids = text_inputs(input_ids, attention_mask, position_ids)
        check_text_inputs(input_ids, attention_mask, self.config.text_config)
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
        return self._run(self._text_features, tensors, training=bool(training))

    def _text_features(self, input_ids, attention_mask=None, position_ids=None, training: bool = False):
        pooled = self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                 training=training).pooler_output
        return self.text_projection(pooled, training=training)

    def get_image_features(self, pixel_values=None, output_attentions=None, output_hidden_states=None,
                           return_dict=None, training: bool = False, interpolate_pos_encoding: bool = False):
        """Projected (un-normalized) image features [B, projection_dim], as the old Keras 2 port: its arguments in
        its order (`output_attentions`, `output_hidden_states` and `return_dict` change nothing in the
        features), a dict of inputs as the first argument too; `interpolate_pos_encoding` last."""
        pixel_values = vision_inputs(pixel_values)
        check_vision_inputs(pixel_values, self.config.vision_config, interpolate_pos_encoding)
        return self._run(self._image_features, {"pixel_values": pixel_values},
                         interpolate_pos_encoding=bool(interpolate_pos_encoding), training=bool(training))

    def _image_features(self, pixel_values, interpolate_pos_encoding: bool = False, training: bool = False):
        pooled = self.vision_model(pixel_values, interpolate_pos_encoding=interpolate_pos_encoding,
                                   training=training).pooler_output
        return self.visual_projection(pooled, training=training)

    def text_features(self, input_ids, attention_mask=None, position_ids=None, training: bool = False):
        """The same as `get_text_features` (the name PyTorch's model gives the features as a tensor)."""
        return self.get_text_features(input_ids, attention_mask, position_ids, training=training)

    def image_features(self, pixel_values, interpolate_pos_encoding: bool = False, training: bool = False):
        """The same as `get_image_features` (the name PyTorch's model gives the features as a tensor)."""
        return self.get_image_features(pixel_values, training=training,
                                       interpolate_pos_encoding=interpolate_pos_encoding)

    def encode_for_segmentation(self, pixel_values):
        """The segmenter's image pass, in one cached graph: (the assignment attentions of each stage, the
        projected group features [B, O, P], the projected image features [B, P]), at any image size divisible
        by the patch size (position embeddings interpolated)."""
        pixel_values = pixels_tensor(pixel_values)
        check_vision_inputs(pixel_values, self.config.vision_config, True)
        return self._run(self._segmentation_features, {"pixel_values": pixel_values})

    def _segmentation_features(self, pixel_values):
        out = self.vision_model(pixel_values, output_attentions=True, interpolate_pos_encoding=True, training=False)
        last = out.last_hidden_state
        groups, width = last.shape[1], last.shape[2]
        projected = self.visual_projection(ops.reshape(last, (-1, width)), training=False)
        return (tuple(out.attentions), ops.reshape(projected, (-1, groups, projected.shape[-1])),
                self.visual_projection(out.pooler_output, training=False))

    def call(
        self,
        input_ids=None,
        pixel_values=None,
        attention_mask=None,
        position_ids=None,
        return_loss: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        output_segmentation: bool | None = None,
        return_dict: bool | None = None,
        interpolate_pos_encoding: bool = False,
        gumbel_noise: Sequence | None = None,
        training: bool = False,
        drop_path_scales=None,
    ) -> GroupViTModelOutput | tuple:
        """Outputs and tuple order as the `transformers` port; `gumbel_noise` and `drop_path_scales` as in
        `TFGroupViTVisionModel`."""
        listed = input_list(input_ids, INPUT_NAMES, {"pixel_values": pixel_values, "attention_mask": attention_mask,
                                                     "position_ids": position_ids})
        if listed is not None:  # the old port's `model([input_ids, pixel_values, ...])`
            input_ids = listed
        if isinstance(input_ids, Mapping):  # `predict` / `fit` pass one dict of inputs
            inputs = dict(input_ids)
            unknown = sorted(set(inputs) - set(INPUT_NAMES))
            if unknown:
                raise ValueError(f"An input dict may hold {list(INPUT_NAMES)}. Received extra keys: {unknown}")
            input_ids = inputs.get("input_ids")
            pixel_values = inputs.get("pixel_values", pixel_values)
            attention_mask = inputs.get("attention_mask", attention_mask)
            position_ids = inputs.get("position_ids", position_ids)
        config = self.config
        output_segmentation = bool(
            output_segmentation if output_segmentation is not None else config.output_segmentation
        )
        output_attentions, output_hidden_states, return_dict = call_flags(
            config, output_attentions, output_hidden_states, return_dict)
        output_attentions = output_attentions or output_segmentation
        input_ids, attention_mask, position_ids = (to_tensor(x) for x in (input_ids, attention_mask, position_ids))
        pixel_values = pixels_tensor(pixel_values)
        check_text_inputs(input_ids, attention_mask, config.text_config)
        check_vision_inputs(pixel_values, config.vision_config, interpolate_pos_encoding)
        gumbel_noise = check_noise(gumbel_noise, config.vision_config)
        drop_path_scales = check_drop_path(drop_path_scales, config.vision_config, pixel_values.shape[0])
        if return_loss and None not in (pixel_values.shape[0], input_ids.shape[0]):
            input_checks.check_loss_pairs(pixel_values.shape[0], input_ids.shape[0])
        if output_segmentation:
            input_checks.check_segmentation(config.vision_config)

        tensors = {"input_ids": input_ids, "pixel_values": pixel_values, "attention_mask": attention_mask,
                   "position_ids": position_ids, "gumbel_noise": gumbel_noise, "drop_path_scales": drop_path_scales}
        out = self._run(
            self._forward, tensors, return_loss=bool(return_loss), output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, output_segmentation=output_segmentation,
            interpolate_pos_encoding=bool(interpolate_pos_encoding), training=bool(training),
        )
        return out if return_dict else out.to_tuple()

    def _forward(
        self, input_ids, pixel_values, attention_mask=None, position_ids=None, gumbel_noise=None,
        drop_path_scales=None, *,
        return_loss: bool, output_attentions: bool, output_hidden_states: bool, output_segmentation: bool,
        interpolate_pos_encoding: bool, training: bool,
    ) -> GroupViTModelOutput:
        config = self.config
        vision_outputs = self.vision_model(
            pixel_values, output_attentions=output_attentions, output_hidden_states=output_hidden_states,
            interpolate_pos_encoding=interpolate_pos_encoding, gumbel_noise=gumbel_noise, training=training,
            drop_path_scales=drop_path_scales,
        )
        text_outputs = self.text_model(
            input_ids, attention_mask=attention_mask, position_ids=position_ids, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, training=training,
        )
        image_embeds = normalize(self.visual_projection(vision_outputs.pooler_output, training=training))
        text_embeds = normalize(self.text_projection(text_outputs.pooler_output, training=training))
        logit_scale = ops.exp(self.logit_scale)
        logits_per_text = ops.matmul(text_embeds, ops.transpose(image_embeds)) * logit_scale
        logits_per_image = ops.transpose(logits_per_text)

        seg_logits = None
        if output_segmentation:
            last = vision_outputs.last_hidden_state  # (B_img, O, D): one token per group
            groups, width = last.shape[1], last.shape[2]
            group_embeds = self.visual_projection(ops.reshape(last, (-1, width)), training=training)
            group_embeds = ops.reshape(normalize(group_embeds), (-1, groups, config.projection_dim))
            grouping = pixel_grouping(vision_outputs.attentions, pixel_values.shape[2], pixel_values.shape[3])
            seg_logits = ops.stop_gradient(segmentation_logits(group_embeds, text_embeds, grouping, logit_scale))

        return GroupViTModelOutput(
            loss=contrastive_loss(logits_per_text) if return_loss else None,
            logits_per_image=logits_per_image,
            logits_per_text=logits_per_text,
            segmentation_logits=seg_logits,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text_outputs,
            vision_model_output=vision_outputs,
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training: bool = True):
        """The image-text contrastive loss of docs/computation.md (what `fit` minimizes), plus any added losses."""
        loss = contrastive_loss(y_pred["logits_per_text"])
        for extra in self.losses:
            loss = loss + extra
        return loss
