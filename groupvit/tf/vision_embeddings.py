"""Patch embedding, LayerNorm, then learned positions (resizable to other image sizes)."""

from __future__ import annotations

import keras
from keras import ops

from groupvit.configs import GroupViTVisionConfig
from groupvit.tf._ops import dropout, widen
from groupvit.tf.resize import bicubic_matrix


class TFGroupViTPatchEmbeddings(keras.layers.Layer):
    """Conv2D(kernel=patch, stride=patch) on NCHW pixels, flattened row-major to [B, N, D]."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_channels = config.num_channels
        self.embed_dim = config.hidden_size
        self.projection = keras.layers.Conv2D(
            config.hidden_size, kernel_size=config.patch_hw, strides=config.patch_hw, padding="valid",
            data_format="channels_last", name="projection",
        )

    def build(self, input_shape=None) -> None:
        self.projection.build((None, None, None, self.num_channels))

    def call(self, pixel_values):
        x = ops.transpose(pixel_values, (0, 2, 3, 1))  # (B, H, W, C): TF's CPU conv needs channels last
        x = self.projection(x)  # (B, H/p, W/p, D)
        return ops.reshape(x, (-1, x.shape[1] * x.shape[2], self.embed_dim))  # (B, N, D)


class TFGroupViTVisionEmbeddings(keras.layers.Layer):
    """Vision embeddings; `interpolate_pos_encoding` resizes the position table bicubically."""

    def __init__(self, config: GroupViTVisionConfig, **kwargs) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.dropout_rate = config.dropout
        self.patch_embeddings = TFGroupViTPatchEmbeddings(config, name="patch_embeddings")
        self.layernorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="layernorm")

    def build(self, input_shape=None) -> None:
        self.patch_embeddings.build(None)
        self.layernorm.build((None, None, self.config.hidden_size))
        self.position_embeddings = self.add_weight(
            name="position_embeddings",
            shape=(1, self.config.num_patches, self.config.hidden_size),
            initializer=keras.initializers.TruncatedNormal(stddev=self.config.initializer_range),
        )

    def interpolate_pos_encoding(self, height: int, width: int):
        """Position table for an image of height x width pixels: [1, (H/p)*(W/p), D].

        Bicubic as PyTorch's `F.interpolate(mode="bicubic", align_corners=False)`. Resizing
        to the trained grid is the identity (the Keys kernel is 1 at 0 and 0 at +-1, +-2),
        so the table is returned unchanged there, as the reference does.
        """
        grid_h, grid_w = self.config.grid_hw
        new_h, new_w = height // self.config.patch_hw[0], width // self.config.patch_hw[1]
        if (new_h, new_w) == (grid_h, grid_w):
            return self.position_embeddings
        dim = self.config.hidden_size
        rows = ops.convert_to_tensor(bicubic_matrix(grid_h, new_h))  # (h', h)
        cols = ops.convert_to_tensor(bicubic_matrix(grid_w, new_w))  # (w', w)
        table = ops.reshape(widen(self.position_embeddings), (grid_h, grid_w, dim))  # resized in float32
        table = ops.einsum("jw,hwd->hjd", cols, table)  # (h, w', D)
        table = ops.einsum("ih,hjd->ijd", rows, table)  # (h', w', D)
        return ops.reshape(table, (1, new_h * new_w, dim))

    def call(self, pixel_values, interpolate_pos_encoding: bool = False, training: bool = False):
        height, width = pixel_values.shape[2], pixel_values.shape[3]
        embeddings = self.layernorm(self.patch_embeddings(pixel_values))
        if interpolate_pos_encoding:
            embeddings = embeddings + ops.cast(self.interpolate_pos_encoding(height, width), embeddings.dtype)
        else:
            embeddings = embeddings + self.position_embeddings
        return dropout(embeddings, self.dropout_rate, training)


