"""`TFGroupViTTextModel`: the text tower on its own (weights under `text_model.`)."""

from __future__ import annotations


from groupvit.configs import GroupViTTextConfig, call_flags
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.tf._inputs import check_text_inputs, text_inputs
from groupvit.tf.precision import dtype_policy_scope
from groupvit.tf.pretrained import TFGroupViTPreTrainedModel
from groupvit.tf.text_transformer import TFGroupViTTextTransformer


class TFGroupViTTextModel(TFGroupViTPreTrainedModel):
    """GroupViT text encoder: last hidden state, pooled end token, optional hidden states / attentions."""

    config_class = GroupViTTextConfig
    default_name = "groupvit_text_model"

    def __init__(self, config: GroupViTTextConfig, **kwargs) -> None:
        """`dtype="bfloat16"` / `"mixed_bfloat16"` builds every layer under that policy (groupvit.tf.precision)."""
        with dtype_policy_scope(kwargs.get("dtype")):
            super().__init__(config, **kwargs)
            self.text_model = TFGroupViTTextTransformer(config, name="text_model")
            self.build()

    def build(self, input_shape=None) -> None:
        self.text_model.build(None)

    def call(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        input_ids, attention_mask, position_ids = text_inputs(input_ids, attention_mask, position_ids)
        check_text_inputs(input_ids, attention_mask, self.config)
        tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
        output_attentions, output_hidden_states, return_dict = call_flags(
            self.config, output_attentions, output_hidden_states, return_dict)
        out = self._run(self._forward, tensors, output_attentions=output_attentions,
                        output_hidden_states=output_hidden_states, training=bool(training))
        return out if return_dict else out.to_tuple()

    def _forward(self, input_ids, attention_mask=None, position_ids=None, **flags) -> BaseModelOutputWithPooling:
        return self.text_model(input_ids, attention_mask=attention_mask, position_ids=position_ids, **flags)
