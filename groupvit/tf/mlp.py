"""Two-layer MLPs: over channels (`TFGroupViTMLP`) and over tokens (`TFGroupViTMixerMLP`)."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTTextConfig, GroupViTVisionConfig
from groupvit.tf.activations import get_activation
from groupvit.tf.dense import TFGroupViTDense


class TFGroupViTMLP(keras.layers.Layer):
    """fc1 -> activation -> fc2; sizes default to the config's hidden and intermediate sizes."""

    def __init__(
        self,
        config: GroupViTTextConfig | GroupViTVisionConfig,
        hidden_size: int | None = None,
        intermediate_size: int | None = None,
        output_size: int | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.activation_fn = get_activation(config.hidden_act)
        # the exact gelu goes into fc1's 2-D product as it is, without the float32 casts that get_activation
        # adds for bfloat16 inputs: there TensorFlow fuses it into the MatMul (TFGroupViTDense), in float32
        self.fused_activation = getattr(self.activation_fn, "__wrapped__", self.activation_fn) \
            if config.hidden_act == "gelu" else self.activation_fn
        self.hidden_size = hidden_size if hidden_size is not None else config.hidden_size
        self.intermediate_size = intermediate_size if intermediate_size is not None else config.intermediate_size
        self.output_size = output_size if output_size is not None else self.hidden_size
        self.fc1 = TFGroupViTDense(self.intermediate_size, name="fc1")
        self.fc2 = TFGroupViTDense(self.output_size, name="fc2")

    def build(self, input_shape=None) -> None:
        self.fc1.build((None, self.hidden_size))
        self.fc2.build((None, self.intermediate_size))

    def call(self, hidden_states):
        return self.fc2(self.fc1(hidden_states, activation=self.fused_activation))


class TFGroupViTMixerMLP(TFGroupViTMLP):
    """The same MLP applied along the token axis: [B, T, D] -> [B, T', D]."""

    def call(self, hidden_states):
        return ops.transpose(super().call(ops.transpose(hidden_states, (0, 2, 1))), (0, 2, 1))
