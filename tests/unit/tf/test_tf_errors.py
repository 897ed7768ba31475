"""Bad inputs raise a ValueError that says what must hold and what was received."""

import numpy as np
import pytest
import tensorflow as tf
from tf_helpers import make_inputs

from groupvit.configs import GroupViTConfig
from groupvit.tf import TFGroupViTModel, TFGroupViTTextModel, TFGroupViTVisionModel
from tiny_configs import tiny_config


@pytest.fixture(scope="module")
def setup(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    return config, model, pixels, ids, mask


def call(model, ids, pixels, mask=None, **kwargs):
    return model(input_ids=ids, pixel_values=pixels, attention_mask=mask, **kwargs)


def test_pixel_values_rank_and_channels(setup):
    _, model, pixels, ids, _ = setup
    with pytest.raises(ValueError, match="NCHW.*Received: shape=\\(2, 30, 30\\)"):
        call(model, ids, pixels[:, 0])
    with pytest.raises(ValueError, match="channels in axis 1 \\(NCHW\\).*Received: shape=\\(2, 30, 30, 3\\)"):
        call(model, ids, pixels.transpose(0, 2, 3, 1))


def test_image_size_without_and_with_interpolation(setup):
    config, model, _, ids, _ = setup
    wrong = np.zeros((2, 3, 24, 30), np.float32)
    with pytest.raises(ValueError, match="interpolate_pos_encoding=True.*Received: 24x30"):
        call(model, ids, wrong)
    odd = np.random.default_rng(0).normal(size=(2, 3, 31, 30)).astype(np.float32)
    # not a multiple of the patch: the partial last patch is dropped, as in the ports
    out = call(model, ids, odd, interpolate_pos_encoding=True, output_segmentation=True)
    cut = call(model, ids, odd[:, :, :30], interpolate_pos_encoding=True)
    np.testing.assert_array_equal(out.image_embeds.numpy(), cut.image_embeds.numpy())
    assert tuple(out.segmentation_logits.shape) == (2, ids.shape[0], 31, 30)
    with pytest.raises(ValueError, match=r"must hold at least one patch \(3x3\). Received: 2x30"):
        call(model, ids, odd[:, :, :2], interpolate_pos_encoding=True)


def test_input_ids_range_length_and_mask_shape(setup):
    config, model, pixels, ids, mask = setup
    bad = ids.copy()
    bad[0, 1] = 99
    with pytest.raises(ValueError, match="vocab_size=99.*Received: ids from 1 to 99"):
        call(model, bad, pixels)
    bad[0, 1] = -1
    with pytest.raises(ValueError, match="vocab_size=99"):
        call(model, bad, pixels)
    too_long = np.ones((2, 17), np.int32)
    with pytest.raises(ValueError, match="max_position_embeddings=16. Received: sequence_length=17"):
        call(model, too_long, pixels)
    message = "attention_mask must have the shape of input_ids \\(2, 7\\). Received: \\(2, 6\\)"
    with pytest.raises(ValueError, match=message):
        call(model, ids, pixels, mask[:, :6])
    text = TFGroupViTTextModel(config.text_config)
    with pytest.raises(ValueError, match="input_ids must be 2-D"):
        text(ids[0])


def test_return_loss_needs_pairs(setup):
    _, model, pixels, ids, _ = setup
    three_texts = np.concatenate([ids, ids[:1]])
    with pytest.raises(ValueError, match="as many images as texts.*Received: 2 images and 3 texts"):
        call(model, three_texts, pixels, return_loss=True)


def test_segmentation_needs_a_grouping_stage():
    as_dict = tiny_config().to_dict()
    as_dict["vision_config"].update(depths=[1, 1], num_group_tokens=[0, 0], num_output_groups=[0, 0])
    config = GroupViTConfig.from_dict(as_dict)
    model = TFGroupViTModel(config)
    pixels, ids, mask = make_inputs(config)
    with pytest.raises(ValueError, match="output_segmentation needs at least one stage with group tokens"):
        call(model, ids, pixels, mask, output_segmentation=True)


def test_gumbel_noise_count_and_shape(setup):
    config, model, pixels, ids, mask = setup
    with pytest.raises(ValueError, match="one tensor per grouping stage \\(2\\). Received: 1"):
        call(model, ids, pixels, mask, gumbel_noise=[np.zeros((2, 8, 100), np.float32)], training=True)
    noise = [np.zeros((2, 8, 99), np.float32), np.zeros((2, 4, 8), np.float32)]
    with pytest.raises(ValueError, match="shape of its assignment logits.*Received: \\(2, 8, 99\\)"):
        call(model, ids, pixels, mask, gumbel_noise=noise, training=True)


def test_shape_checks_run_under_tf_function(setup):
    _, model, pixels, ids, _ = setup
    vision = TFGroupViTVisionModel(tiny_config().vision_config)

    @tf.function
    def run(x):
        return vision(x).pooler_output

    with pytest.raises(ValueError, match="pixel_values must be 30x30"):
        run(tf.zeros((1, 3, 27, 30)))
    out_of_range = tf.constant(np.full((2, 7), 500, np.int32))

    @tf.function
    def text_run(ids):  # value checks are skipped while tracing (ids are symbolic)
        return model.get_text_features(ids)

    assert text_run(tf.constant(ids)).shape == (2, 24)
    with pytest.raises(ValueError, match="vocab_size"):
        model.get_text_features(out_of_range)  # eagerly the range is checked


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda p, i, m: (p, i.astype(np.float32), m), "integer token ids (int32 or int64). Received: dtype=float32"),
        (lambda p, i, m: (p, i > 3, m), "integer token ids (int32 or int64). Received: dtype=bool"),
        (lambda p, i, m: (p, i.astype(np.complex64), m), "Received: dtype=complex64"),
        (lambda p, i, m: (p.astype(np.uint8), i, m), "pixel_values must be floating point"),
        (lambda p, i, m: (p.astype(np.int64), i, m), "Received: dtype=int64"),
        (lambda p, i, m: (np.where(np.arange(p.size).reshape(p.shape) < 5, np.inf, p).astype(np.float32), i, m),
         "must be finite. Received: 5 NaN or infinite"),
        (lambda p, i, m: (p[:0], i[:0], m[:0]), "at least one row. Received: an empty batch"),
    ],
)
def test_dtype_value_and_empty_batch_errors(setup, change, fragment):
    _, model, pixels, ids, mask = setup
    pixels, ids, mask = change(np.asarray(pixels), np.asarray(ids), np.asarray(mask))
    with pytest.raises(ValueError, match="Received") as info:
        call(model, ids, pixels, mask)
    assert fragment in str(info.value)
