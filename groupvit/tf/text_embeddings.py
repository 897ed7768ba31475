"""Token embedding plus learned absolute positions."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTTextConfig


class TFGroupViTTextEmbeddings(keras.layers.Layer):
    """`token_embedding(ids) + position_embedding(position_ids or arange(L))`."""

    def __init__(self, config: GroupViTTextConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        init = keras.initializers.RandomNormal(stddev=0.02 * config.initializer_factor)
        self.token_embedding = keras.layers.Embedding(
            config.vocab_size, config.hidden_size, embeddings_initializer=init, name="token_embedding"
        )
        self.position_embedding = keras.layers.Embedding(
            config.max_position_embeddings, config.hidden_size, embeddings_initializer=init,
            name="position_embedding",
        )

    def build(self, input_shape=None) -> None:
        self.token_embedding.build(None)
        self.position_embedding.build(None)

    def call(self, input_ids, position_ids=None):
        if position_ids is None:
            position_ids = ops.expand_dims(ops.arange(input_ids.shape[1], dtype="int32"), 0)  # (1, L)
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)
