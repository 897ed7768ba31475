"""Output fields and shapes of the three Keras models on tiny configs."""

import numpy as np
import pytest
from tf_helpers import make_inputs, randomize

from groupvit.outputs import BaseModelOutputWithPooling, GroupViTModelOutput
from groupvit.tf import TFGroupViTModel, TFGroupViTTextModel, TFGroupViTVisionModel
from tiny_configs import tiny_config


def _token_counts(vision, num_patches):
    """Tokens entering each stage, and the final token count."""
    counts, n = [], num_patches
    for groups, outputs in zip(vision.num_group_tokens, vision.num_output_groups):
        counts.append(n)
        n = outputs if groups > 0 else n
    return counts, n


@pytest.mark.parametrize("stages", ["three_stage", "two_stage", "two_grouping", "four_stage"])
def test_full_model_shapes(stages):
    config = tiny_config(stages)
    vision, text = config.vision_config, config.text_config
    model = randomize(TFGroupViTModel(config))
    pixels, ids, mask = make_inputs(config, n_images=2, n_texts=3)
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True,
                output_hidden_states=True)
    assert isinstance(out, GroupViTModelOutput)
    assert list(out.keys()) == ["logits_per_image", "logits_per_text", "segmentation_logits", "text_embeds",
                                "image_embeds", "text_model_output", "vision_model_output"]
    assert out.logits_per_image.shape == (2, 3) and out.logits_per_text.shape == (3, 2)
    assert out.segmentation_logits.shape == (2, 3, *vision.image_hw)
    assert out.text_embeds.shape == (3, 24) and out.image_embeds.shape == (2, 24)
    np.testing.assert_allclose(np.linalg.norm(out.image_embeds.numpy(), axis=-1), 1.0, rtol=1e-5)

    counts, final = _token_counts(vision, vision.num_patches)
    v = out.vision_model_output
    assert v.last_hidden_state.shape == (2, final, vision.hidden_size)
    assert v.pooler_output.shape == (2, vision.hidden_size)
    assert [tuple(h.shape) for h in v.hidden_states] == [(2, n, vision.hidden_size) for n in counts + [final]]
    expected_maps = [(2, vision.num_output_groups[s], counts[s]) for s in vision.grouping_stages]
    assert [tuple(a.shape) for a in v.attentions] == expected_maps
    for soft in v.attentions:  # each image token distributes over the groups
        np.testing.assert_allclose(soft.numpy().sum(axis=1), 1.0, rtol=1e-5)

    t = out.text_model_output
    assert t.last_hidden_state.shape == (3, 7, text.hidden_size)
    assert len(t.hidden_states) == text.num_hidden_layers + 1
    assert [tuple(a.shape) for a in t.attentions] == [(3, text.num_attention_heads, 7, 7)] * text.num_hidden_layers


def test_defaults_and_tuple_output(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    assert "segmentation_logits" not in out and "loss" not in out
    assert out.vision_model_output.attentions is None and out.text_model_output.hidden_states is None
    tup = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, return_dict=False, return_loss=True)
    assert isinstance(tup, tuple) and len(tup) == 7
    assert tup[0].shape == () and isinstance(tup[-1], tuple)
    np.testing.assert_allclose(tup[1].numpy(), out.logits_per_image.numpy(), rtol=1e-6, atol=1e-6)


def test_output_segmentation_forces_attentions(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True,
                output_attentions=False)
    assert len(out.vision_model_output.attentions) == 2
    assert len(out.text_model_output.attentions) == config.text_config.num_hidden_layers


def test_features_are_unnormalized_projections(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    text = model.get_text_features(ids, attention_mask=mask).numpy()
    image = model.get_image_features(pixels).numpy()
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask)
    assert text.shape == (2, 24) and image.shape == (2, 24)
    np.testing.assert_allclose(text / np.linalg.norm(text, axis=-1, keepdims=True), out.text_embeds.numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(image / np.linalg.norm(image, axis=-1, keepdims=True), out.image_embeds.numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("height,width", [(24, 36), (36, 21), (30, 30)])
def test_interpolate_pos_encoding_non_square(three_stage, height, width):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config, height=height, width=width)
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, interpolate_pos_encoding=True,
                output_segmentation=True)
    n = (height // 3) * (width // 3)
    assert out.vision_model_output.attentions[0].shape == (2, 8, n)
    assert out.segmentation_logits.shape == (2, 2, height, width)


def test_interpolation_to_trained_size_is_a_no_op(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    a = model(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_image.numpy()
    b = model(input_ids=ids, pixel_values=pixels, attention_mask=mask,
              interpolate_pos_encoding=True).logits_per_image.numpy()
    np.testing.assert_array_equal(a, b)


def test_text_pooling_first_eos_and_legacy_argmax():
    config = tiny_config()
    model = randomize(TFGroupViTTextModel(config.text_config))
    ids = np.array([[97, 5, 98, 7, 98, 1], [3, 8, 9, 97, 11, 12]], dtype=np.int32)  # row 1 has no eos
    out = model(ids)
    last = out.last_hidden_state.numpy()
    np.testing.assert_array_equal(out.pooler_output.numpy(), last[[0, 1], [2, 0]])  # first eos; none -> 0

    legacy = tiny_config(text={"eos_token_id": 2}).text_config
    legacy_model = TFGroupViTTextModel(legacy)
    legacy_model.assign_numpy(model.to_numpy())
    out = legacy_model(ids)
    largest_id = out.last_hidden_state.numpy()[[0, 1], [2, 3]]
    np.testing.assert_array_equal(out.pooler_output.numpy(), largest_id)


def test_padding_mask_hides_padded_keys_and_left_padding_is_uniform():
    config = tiny_config()
    model = randomize(TFGroupViTTextModel(config.text_config))
    ids = np.array([[97, 5, 6, 98, 1, 1], [1, 1, 97, 5, 6, 98]], dtype=np.int32)
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]], dtype=np.int32)
    out = model(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
    weights = out.attentions[0].numpy()  # (B, nh, L, L)
    assert np.all(weights[0, :, :, 4:] == 0)  # right padding is never attended
    assert np.all(np.triu(weights[0, 0], 1) == 0)  # causal
    np.testing.assert_allclose(weights[1, :, 0, :], 1 / 6, rtol=1e-6)  # fully blocked row: uniform
    assert len(out.hidden_states) == 3
    # the pooled end token does not depend on what the padded positions hold
    ids2 = ids.copy()
    ids2[0, 4:] = 50
    out2 = model(ids2, attention_mask=mask)
    np.testing.assert_allclose(out2.pooler_output.numpy()[0], out.pooler_output.numpy()[0], rtol=1e-6, atol=1e-6)


def test_vision_model_outputs():
    config = tiny_config("two_grouping")
    model = randomize(TFGroupViTVisionModel(config.vision_config))
    pixels, _, _ = make_inputs(config)
    out = model(pixels, output_attentions=True, output_hidden_states=True)
    assert isinstance(out, BaseModelOutputWithPooling)
    assert out.last_hidden_state.shape == (2, 5, 32)
    assert [tuple(a.shape) for a in out.attentions] == [(2, 8, 100), (2, 5, 8)]
    assert len(model(pixels, return_dict=False)) == 2


def test_gumbel_noise_changes_hard_assignment_but_not_soft_map(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    rng = np.random.default_rng(3)
    noise = [rng.gumbel(size=(2, 8, 100)).astype(np.float32), rng.gumbel(size=(2, 4, 8)).astype(np.float32)]
    kwargs = dict(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_attentions=True)
    eval_out = model(**kwargs)
    a = model(**kwargs, gumbel_noise=noise, training=True)
    b = model(**kwargs, gumbel_noise=noise, training=True)
    np.testing.assert_array_equal(a.vision_model_output.last_hidden_state.numpy(),
                                  b.vision_model_output.last_hidden_state.numpy())
    np.testing.assert_allclose(a.vision_model_output.attentions[0].numpy(),
                               eval_out.vision_model_output.attentions[0].numpy(), rtol=1e-5, atol=1e-6)
    sampled = model(**kwargs, training=True)  # noise drawn internally
    assert sampled.logits_per_image.shape == (2, 2)


def test_loss_is_the_symmetric_cross_entropy(three_stage):
    config, model = three_stage
    pixels, ids, mask = make_inputs(config)
    out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, return_loss=True)
    logits = out.logits_per_text.numpy().astype(np.float64)

    def cross_entropy(x):
        log_probs = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
        return -np.mean(np.diag(log_probs))

    expected = (cross_entropy(logits) + cross_entropy(logits.T)) / 2
    np.testing.assert_allclose(float(out.loss), expected, rtol=1e-5)


def test_position_ids_default_to_arange():
    config = tiny_config()
    model = randomize(TFGroupViTTextModel(config.text_config))
    _, ids, mask = make_inputs(config)
    default = model(ids, attention_mask=mask).last_hidden_state.numpy()
    explicit = model(ids, attention_mask=mask, position_ids=np.arange(7)[None]).last_hidden_state.numpy()
    shifted = model(ids, attention_mask=mask, position_ids=np.arange(1, 8)[None]).last_hidden_state.numpy()
    np.testing.assert_array_equal(default, explicit)
    assert not np.allclose(default, shifted)
