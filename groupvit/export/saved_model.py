"""A TF SavedModel of the Keras model, written with Keras' `ExportArchive` (what `model.export` uses).

The export folder is itself the SavedModel: `tf.saved_model.load(OUT)` in any TensorFlow process (no
`groupvit` import needed) gives three serving signatures, each with a dynamic batch:

- `image_features(pixel_values)` -> `image_features`, `group_features`, `soft_maps_stage{k}`;
- `text_features(input_ids, attention_mask)` -> `text_features` (any number of texts, padded to
  `max_position_embeddings` tokens: the Keras model needs a static length);
- `segment(pixel_values, input_ids, attention_mask)` -> `logits_per_image`, `logits_per_text`,
  `text_embeds`, `image_embeds`, `segmentation_logits`.

Images are fixed at the traced size (`export.json`'s `trace_size`, the config's `image_size` unless
`image_size=` says otherwise): TensorFlow signatures need the token grid at trace time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.export import metadata


def _keras_model(config: GroupViTConfig, weights: dict[str, np.ndarray]):
    from groupvit.tf import TFGroupViTModel

    model = TFGroupViTModel(config)
    model.assign_numpy(weights)
    return model


def write_saved_model(folder: str, config: GroupViTConfig, weights: dict[str, np.ndarray], *, parts: str,
                      opset: int | None, size: tuple[int, int]) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    model = _keras_model(config, weights)
    height, width = size
    interpolate = tuple(size) != tuple(config.vision_config.image_hw)
    image_names = metadata.image_outputs(config)
    pixels_spec = tf.TensorSpec([None, config.vision_config.num_channels, height, width], tf.float32,
                                name="pixel_values")
    length = config.text_config.max_position_embeddings
    ids_spec = tf.TensorSpec([None, length], tf.int64, name="input_ids")
    mask_spec = tf.TensorSpec([None, length], tf.int64, name="attention_mask")

    def checked_pixels(pixel_values):
        # a signature does not check static shapes on its own: a wrong size would fail deep inside the graph.
        # The checks run before the model reads its inputs (control dependencies: graph order is not code order).
        checks = [
            tf.debugging.assert_equal(
                tf.shape(pixel_values)[1:], tf.constant([config.vision_config.num_channels, height, width]),
                message=f"pixel_values must be [batch, {config.vision_config.num_channels}, {height}, {width}] "
                        f"(NCHW at the exported size). Received shape"),
            tf.debugging.assert_greater(tf.shape(pixel_values)[0], 0,
                                        message="pixel_values must hold at least one image. Received batch"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(pixel_values)

    def checked_text(input_ids, attention_mask):
        checks = [tf.debugging.assert_equal(tf.shape(value)[1], length,
                                            message=f"{name} must be padded to {length} tokens (the export's text "
                                                    f"length). Received length")
                  for name, value in (("input_ids", input_ids), ("attention_mask", attention_mask))]
        checks += [
            tf.debugging.assert_equal(tf.shape(input_ids), tf.shape(attention_mask),
                                      message="attention_mask must have the shape of input_ids. Received"),
            tf.debugging.assert_non_negative(input_ids, message="input_ids must lie in [0, vocab_size). Received"),
            tf.debugging.assert_less(input_ids, tf.constant(config.text_config.vocab_size, tf.int64),
                                     message=f"input_ids must lie in [0, vocab_size={config.text_config.vocab_size})."
                                             f" Received"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(input_ids), tf.identity(attention_mask)

    def image_features(pixel_values):
        pixel_values = checked_pixels(pixel_values)
        out = model.vision_model(pixel_values, output_attentions=True, interpolate_pos_encoding=interpolate,
                                 training=False)
        last = out.last_hidden_state
        groups = model.visual_projection(tf.reshape(last, (-1, last.shape[-1])), training=False)
        values = (model.visual_projection(out.pooler_output, training=False),
                  tf.reshape(groups, (-1, last.shape[1], config.projection_dim)), *out.attentions)
        return dict(zip(image_names, values))

    def text_features(input_ids, attention_mask):
        input_ids, attention_mask = checked_text(input_ids, attention_mask)
        return {"text_features": model.get_text_features(input_ids, attention_mask=attention_mask, training=False)}

    def segment(pixel_values, input_ids, attention_mask):
        pixel_values = checked_pixels(pixel_values)
        input_ids, attention_mask = checked_text(input_ids, attention_mask)
        out = model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                    output_segmentation=True, interpolate_pos_encoding=interpolate, training=False)
        return {name: getattr(out, name) for name in metadata.FULL_OUTPUTS}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("image_features", image_features, input_signature=[pixels_spec])
    archive.add_endpoint("text_features", text_features, input_signature=[ids_spec, mask_spec])
    archive.add_endpoint("segment", segment, input_signature=[pixels_spec, ids_spec, mask_spec])
    archive.write_out(folder, verbose=False)
    return {"files": {"saved_model": "saved_model.pb"}, "dynamic_image_size": False, "opset": None,
            "text_length": length,
            "graphs": {"image_features": {"inputs": ["pixel_values"], "outputs": list(image_names)},
                       "text_features": {"inputs": list(metadata.TEXT_INPUTS), "outputs": ["text_features"]},
                       "segment": {"inputs": list(metadata.FULL_INPUTS), "outputs": list(metadata.FULL_OUTPUTS)}},
            "tensorflow_version": tf.__version__}
