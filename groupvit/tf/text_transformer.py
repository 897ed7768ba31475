"""The text tower: embeddings, causal encoder, final LayerNorm and end-token pooling."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from groupvit.configs import GroupViTTextConfig
from groupvit.outputs import BaseModelOutputWithPooling
from groupvit.tf.encoder_layer import TFGroupViTEncoderLayer
from groupvit.tf.text_embeddings import TFGroupViTTextEmbeddings


def additive_text_mask(attention_mask, length: int):
    """[B or 1, 1, L, L]: 0 where a query may look (causal and not padding), float32 min elsewhere.

    Blocked entries get the minimum once, so a fully blocked row (left padding) turns into
    uniform attention after the softmax, as in the reference.
    """
    allowed = ops.convert_to_tensor(np.tril(np.ones((length, length), dtype=bool))[None, None])  # (1, 1, L, L)
    if attention_mask is not None:
        keys = ops.cast(attention_mask, "bool")[:, None, None, :]  # (B, 1, 1, L)
        allowed = ops.logical_and(allowed, keys)
    return ops.where(allowed, 0.0, float(np.finfo(np.float32).min))


class TFGroupViTTextEncoder(keras.layers.Layer):
    """`num_hidden_layers` encoder layers (named `layers.{l}` as the PyTorch ModuleList)."""

    def __init__(self, config: GroupViTTextConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embed_dim = config.hidden_size
        self.layers = [TFGroupViTEncoderLayer(config, name=f"layers.{i}") for i in range(config.num_hidden_layers)]

    def build(self, input_shape=None) -> None:
        for layer in self.layers:
            layer.build((None, None, self.embed_dim))

    def call(self, hidden_states, attention_mask, output_attentions: bool = False,
             output_hidden_states: bool = False, training: bool = False):
        """Returns (last hidden state, all hidden states or None, attention weights or None)."""
        all_hidden = [hidden_states] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        for layer in self.layers:
            hidden_states, weights = layer(hidden_states, attention_mask=attention_mask, training=training)
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            if all_attn is not None:
                all_attn.append(weights)
        return (
            hidden_states,
            tuple(all_hidden) if all_hidden is not None else None,
            tuple(all_attn) if all_attn is not None else None,
        )


class TFGroupViTTextTransformer(keras.layers.Layer):
    """Embeddings -> causal encoder -> final LayerNorm; pooled at the end token."""

    def __init__(self, config: GroupViTTextConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.eos_token_id = config.eos_token_id
        self.embeddings = TFGroupViTTextEmbeddings(config, name="embeddings")
        self.encoder = TFGroupViTTextEncoder(config, name="encoder")
        self.final_layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps,
                                                                name="final_layer_norm")

    def build(self, input_shape=None) -> None:
        self.embeddings.build(None)
        self.encoder.build(None)
        self.final_layer_norm.build((None, None, self.config.hidden_size))

    def call(self, input_ids, attention_mask=None, position_ids=None, output_attentions: bool = False,
             output_hidden_states: bool = False, training: bool = False) -> BaseModelOutputWithPooling:
        hidden = self.embeddings(input_ids, position_ids=position_ids)  # (B, L, D)
        mask = additive_text_mask(attention_mask, input_ids.shape[1])
        hidden, all_hidden, all_attn = self.encoder(
            hidden, attention_mask=mask, output_attentions=output_attentions,
            output_hidden_states=output_hidden_states, training=training,
        )
        last = self.final_layer_norm(hidden)
        ids = ops.cast(input_ids, "int32")
        if self.eos_token_id == 2:
            # legacy config.json files: the end token is the largest id of the sequence
            pooled_index = ops.argmax(ids, axis=-1)
        else:
            pooled_index = ops.argmax(ops.cast(ops.equal(ids, self.eos_token_id), "int32"), axis=-1)
        pooled = ops.take_along_axis(last, ops.reshape(pooled_index, (-1, 1, 1)), axis=1)[:, 0]  # (B, D)
        return BaseModelOutputWithPooling(
            last_hidden_state=last, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attn
        )
