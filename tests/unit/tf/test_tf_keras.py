"""Keras conventions: config round trip, summary, tf.function / XLA, predict and fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf_helpers import make_inputs, randomize

from groupvit.tf import TFGroupViTModel, TFGroupViTTextModel, TFGroupViTVisionModel, assign_attention
from tiny_configs import tiny_config


def test_get_config_round_trip(three_stage):
    config, model = three_stage
    clone = TFGroupViTModel.from_config(model.get_config())
    assert clone.config == config
    assert clone.get_config() == model.get_config()
    text = TFGroupViTTextModel(config.text_config)
    assert TFGroupViTTextModel.from_config(text.get_config()).config == config.text_config
    vision = TFGroupViTVisionModel(config.vision_config)
    assert TFGroupViTVisionModel.from_config(vision.get_config()).config == config.vision_config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(text), custom_objects={"TFGroupViTTextModel": TFGroupViTTextModel}
    )
    assert restored.config == config.text_config


def test_keras_native_saving(tmp_path, three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras", custom_objects={"TFGroupViTModel": TFGroupViTModel})
    assert restored.config == config
    np.testing.assert_array_equal(
        restored(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_image.numpy(),
        model(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_image.numpy(),
    )


def test_summary_lists_parameters(three_stage):
    _, model = three_stage
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    text = "\n".join(lines)
    assert "text_model" in text and "visual_projection" in text
    assert model.count_params() == sum(int(np.prod(v.shape)) for v in model.variables)


def test_eager_tf_function_and_xla_agree(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    rng = np.random.default_rng(5)
    noise = [rng.gumbel(size=(2, 8, 100)).astype(np.float32), rng.gumbel(size=(2, 4, 8)).astype(np.float32)]

    def run(ids, pixels, mask, noise):
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True)
        train = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, gumbel_noise=noise, training=False)
        return out.logits_per_image, out.segmentation_logits, out.vision_model_output.attentions[1], train.text_embeds

    args = (tf.constant(ids), tf.constant(pixels), tf.constant(mask), [tf.constant(n) for n in noise])
    model.call_mode = "eager"  # op by op: the reference for the traced paths
    try:
        eager = run(*args)
    finally:
        model.call_mode = "graph"
    graph = tf.function(run)(*args)
    xla = tf.function(run, jit_compile=True)(*args)
    for e, g, x in zip(eager, graph, xla):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(x.numpy(), e.numpy(), rtol=1e-5, atol=1e-5)


def test_tf_function_can_return_model_output(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    out = tf.function(lambda i, p, m: model(input_ids=i, pixel_values=p, attention_mask=m))(ids, pixels, mask)
    assert type(out).__name__ == "GroupViTModelOutput"


def test_training_mode_with_noise_under_xla():
    config = tiny_config("two_grouping")
    model = randomize(TFGroupViTVisionModel(config.vision_config))
    pixels, _, _ = make_inputs(config)
    rng = np.random.default_rng(2)
    noise = [tf.constant(rng.gumbel(size=(2, 8, 100)), tf.float32), tf.constant(rng.gumbel(size=(2, 5, 8)), tf.float32)]

    def run(pixels, noise):
        return model(pixels, gumbel_noise=noise, training=True).last_hidden_state

    eager = run(tf.constant(pixels), noise)
    xla = tf.function(run, jit_compile=True)(tf.constant(pixels), noise)
    np.testing.assert_allclose(xla.numpy(), eager.numpy(), rtol=1e-5, atol=1e-5)


def test_predict_on_a_dict(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config, n_images=2, n_texts=2)
    outputs = model.predict({"input_ids": ids, "pixel_values": pixels, "attention_mask": mask}, batch_size=2,
                            verbose=0)
    direct = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    np.testing.assert_allclose(outputs["image_embeds"], direct.image_embeds.numpy(), rtol=1e-5, atol=1e-6)
    assert outputs["vision_model_output"]["pooler_output"].shape == (2, 32)


def test_a_list_of_inputs_fills_the_call_in_order_as_in_the_old_port(three_stage):
    """`model([input_ids, pixel_values, attention_mask])` (the Keras 2 port's list form; it raised an op error)."""
    config, model = three_stage
    pixels, ids, mask = make_inputs(config, n_images=2, n_texts=2)
    direct = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    for listed in (model([ids, pixels, mask]), model((tf.constant(ids), tf.constant(pixels), mask)),
                   model([ids, pixels], attention_mask=mask)):
        np.testing.assert_array_equal(listed.logits_per_image.numpy(), direct.logits_per_image.numpy())
    with pytest.raises(ValueError, match="attention_mask given both"):
        model([ids, pixels, mask], attention_mask=mask)
    with pytest.raises(ValueError, match="at most 4 tensors"):
        model([ids, pixels, mask, None, mask])
    # a nested Python list of ids is still the ids
    row = [int(i) for i in ids[0]]
    np.testing.assert_array_equal(model(input_ids=[row], pixel_values=pixels[:1]).logits_per_image.numpy(),
                                  model(input_ids=ids[:1], pixel_values=pixels[:1]).logits_per_image.numpy())
    text = randomize(TFGroupViTTextModel(config.text_config))
    np.testing.assert_array_equal(text([ids, mask]).pooler_output.numpy(),
                                  text(ids, attention_mask=mask).pooler_output.numpy())
    vision = randomize(TFGroupViTVisionModel(config.vision_config))
    np.testing.assert_array_equal(vision([pixels]).pooler_output.numpy(), vision(pixels).pooler_output.numpy())
    # a list of 3-D images is the batch it spells, not the list form
    np.testing.assert_array_equal(vision([pixels[0], pixels[1]]).pooler_output.numpy(),
                                  vision(pixels).pooler_output.numpy())
    np.testing.assert_array_equal(model.get_image_features([pixels[0], pixels[1]]).numpy(),
                                  model.get_image_features(pixels).numpy())


def test_fit_lowers_the_contrastive_loss(monkeypatch):
    # zero gumbel noise makes the training-mode forward deterministic, so the loss curve is smooth
    monkeypatch.setattr(assign_attention, "sample_gumbel", lambda shape: tf.zeros(shape))
    config = tiny_config()
    model = randomize(TFGroupViTModel(config))
    pixels, ids, mask = make_inputs(config, n_images=4, n_texts=4, seed=3)
    x = {"input_ids": ids, "pixel_values": pixels, "attention_mask": mask}
    model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = model.fit(x, epochs=4, batch_size=4, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:])), losses
    # BatchNorm running statistics moved during training (PyTorch-style update)
    assert not np.allclose(model.to_numpy()["text_projection.1.running_mean"],
                           randomize(TFGroupViTModel(config)).to_numpy()["text_projection.1.running_mean"])
