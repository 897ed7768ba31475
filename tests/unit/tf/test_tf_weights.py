"""The checkpoint contract: variable names, strict numpy loading, safetensors round trips."""

import json
import os

import numpy as np
import pytest
from tf_helpers import make_inputs, random_weights, randomize

from groupvit.tf import TFGroupViTModel, TFGroupViTTextModel, TFGroupViTVisionModel
from groupvit.tf.weight_names import torch_key
from groupvit.weights_bridge.keys import expected_shapes
from tiny_configs import tiny_config


@pytest.mark.parametrize("stages", ["three_stage", "two_stage", "four_stage"])
def test_every_variable_maps_to_one_key_and_every_key_is_covered(stages):
    config = tiny_config(stages)
    for model, cfg in [
        (TFGroupViTModel(config), config),
        (TFGroupViTTextModel(config.text_config), config.text_config),
        (TFGroupViTVisionModel(config.vision_config), config.vision_config),
    ]:
        shapes = expected_shapes(cfg)
        prefix = model.path + "/"
        keys = [torch_key(v.path[len(prefix):]) for v in model.variables]
        assert len(keys) == len(set(keys))
        assert set(keys) == {k for k in shapes if not k.endswith("num_batches_tracked")}
        numpy_weights = model.to_numpy()
        for key, value in numpy_weights.items():
            assert value.shape == shapes[key], key
            assert value.dtype == np.float32


def test_layouts_are_pytorch_layouts(three_stage):
    config, model = three_stage
    weights = model.to_numpy()
    kernel = model.vision_model.embeddings.patch_embeddings.projection.kernel.numpy()  # (kh, kw, in, out)
    np.testing.assert_array_equal(weights["vision_model.embeddings.patch_embeddings.projection.weight"],
                                  kernel.transpose(3, 2, 0, 1))
    q = model.text_model.encoder.layers[0].self_attn.q_proj.kernel.numpy()  # (in, out)
    np.testing.assert_array_equal(weights["text_model.encoder.layers.0.self_attn.q_proj.weight"], q.T)
    assert weights["logit_scale"].shape == () and weights["logit_scale"] == np.float32(1.7)
    bn = model.visual_projection.batch_norm
    np.testing.assert_array_equal(weights["visual_projection.1.running_var"], bn.moving_variance.numpy())


def test_assign_numpy_to_numpy_round_trip_is_bit_exact(three_stage):
    config, _ = three_stage
    model = TFGroupViTModel(config)
    weights = random_weights(model, seed=11)
    weights["visual_projection.1.num_batches_tracked"] = np.array(7, dtype=np.int64)  # skipped by name
    weights["text_model.embeddings.position_ids"] = np.arange(16)[None]  # skipped by name
    model.assign_numpy(weights)
    back = model.to_numpy()
    assert set(back) == set(weights) - {"visual_projection.1.num_batches_tracked",
                                        "text_model.embeddings.position_ids"}
    for key, value in back.items():
        np.testing.assert_array_equal(value, weights[key], err_msg=key)


def test_save_and_load_round_trip(tmp_path, three_stage):
    config, model = three_stage
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    from groupvit.weights_bridge.safetensors_io import read_safetensors

    written = read_safetensors(tmp_path / "model.safetensors")
    # every key of a PyTorch state dict, the BatchNorm step counters too (transformers reports them missing)
    assert written.keys() == expected_shapes(config).keys()
    assert [int(written[k]) for k in written if k.endswith("num_batches_tracked")] == [0, 0]
    loaded = TFGroupViTModel.from_pretrained(tmp_path)
    assert loaded.config == config
    for key, value in model.to_numpy().items():
        np.testing.assert_array_equal(loaded.to_numpy()[key], value, err_msg=key)
    pixels, ids, mask = make_inputs(config)
    a = model(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_image.numpy()
    b = loaded(input_ids=ids, pixel_values=pixels, attention_mask=mask).logits_per_image.numpy()
    np.testing.assert_array_equal(a, b)

    # each tower takes its part of a full checkpoint and its sub-config
    text = TFGroupViTTextModel.from_pretrained(tmp_path)
    vision = TFGroupViTVisionModel.from_pretrained(tmp_path)
    assert text.config == config.text_config and vision.config == config.vision_config
    full = model.to_numpy()
    for tower, prefix in ((text, "text_model."), (vision, "vision_model.")):
        for key, value in tower.to_numpy().items():
            assert key.startswith(prefix)
            np.testing.assert_array_equal(value, full[key])


def test_tower_save_and_load(tmp_path):
    config = tiny_config().vision_config
    model = randomize(TFGroupViTVisionModel(config), seed=4)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "groupvit_vision_model"
    loaded = TFGroupViTVisionModel.from_pretrained(tmp_path)
    for key, value in model.to_numpy().items():
        np.testing.assert_array_equal(loaded.to_numpy()[key], value)


def test_assign_numpy_lists_missing_unexpected_and_mis_shaped_before_assigning(three_stage):
    config, _ = three_stage
    model = randomize(TFGroupViTModel(config), seed=1)
    before = model.to_numpy()
    weights = random_weights(model, seed=2)
    del weights["text_model.final_layer_norm.bias"]
    weights["vision_model.encoder.stages.0.extra.weight"] = np.zeros(3, np.float32)
    weights["visual_projection.0.weight"] = np.zeros((5, 5), np.float32)
    with pytest.raises(ValueError) as err:
        model.assign_numpy(weights)
    message = str(err.value)
    assert "missing 1: text_model.final_layer_norm.bias" in message
    assert "unexpected 1: vision_model.encoder.stages.0.extra.weight" in message
    assert "visual_projection.0.weight (expected (48, 32), received (5, 5))" in message
    for key, value in model.to_numpy().items():  # nothing was assigned
        np.testing.assert_array_equal(value, before[key])


def test_from_pretrained_is_strict(tmp_path, three_stage):
    config, model = three_stage
    model.save_pretrained(tmp_path)
    other = tiny_config("two_stage")
    other.save_pretrained(tmp_path)  # config no longer matches the weights
    with pytest.raises(ValueError, match="missing"):
        TFGroupViTModel.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError):
        TFGroupViTModel.from_pretrained(tmp_path / "nowhere")


def test_the_old_ports_loading_arguments(tmp_path):
    """from_pt (accepted: PyTorch files are read first either way), subfolder, use_safetensors,
    output_loading_info; other keyword arguments reach the Keras model."""
    from groupvit.weights_bridge import save_checkpoint

    config = tiny_config()
    model = TFGroupViTModel(config)
    a, b = random_weights(model, seed=1), random_weights(model, seed=2)
    folder = tmp_path / "both"
    save_checkpoint(config, a, folder)
    save_checkpoint(config, b, folder / "tf_model.h5")

    def same(model, weights):
        got = model.to_numpy()
        return all(np.array_equal(got[k], v) for k, v in weights.items() if not k.endswith("num_batches_tracked"))

    assert same(TFGroupViTModel.from_pretrained(folder, from_pt=True), a)
    assert same(TFGroupViTModel.from_pretrained(tmp_path, subfolder="both", use_safetensors=False), b)
    model, info = TFGroupViTModel.from_pretrained(folder, output_loading_info=True, name="renamed")
    assert same(model, a) and model.name == "renamed"
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": [], "error_msgs": []}
    os.remove(folder / "model.safetensors")
    with pytest.raises(FileNotFoundError, match="use_safetensors=True"):
        TFGroupViTModel.from_pretrained(folder, use_safetensors=True)


def test_get_features_take_the_old_ports_arguments_in_its_order():
    """The port's get_text_features(input_ids, attention_mask, position_ids, output_attentions, output_hidden_states,
    return_dict, training): a 4th positional argument is output_attentions there; it must not switch ours into
    training (which updates the projection head's BatchNorm statistics)."""
    config = tiny_config()
    model = TFGroupViTModel(config)
    model.assign_numpy(random_weights(model, seed=3))
    pixels, ids, mask = make_inputs(config)
    before = model.to_numpy()
    text = model.get_text_features(ids, mask, None, True, True, False)
    image = model.get_image_features(pixels, True, True, False)
    after = model.to_numpy()
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing trained
    np.testing.assert_array_equal(text.numpy(), model.get_text_features({"input_ids": ids,
                                                                         "attention_mask": mask}).numpy())
    np.testing.assert_array_equal(image.numpy(), model.get_image_features({"pixel_values": pixels}).numpy())
    with pytest.raises(ValueError, match="may hold pixel_values only"):
        model.get_image_features({"pixel_values": pixels, "input_ids": ids})


def test_save_pretrained_as_the_old_port_and_with_shards(tmp_path):
    config = tiny_config()
    model = TFGroupViTModel(config)
    weights = random_weights(model, seed=4)
    model.assign_numpy(weights)
    model.save_pretrained(tmp_path / "h5", safe_serialization=False)  # the port's default format
    assert sorted(os.listdir(tmp_path / "h5")) == ["config.json", "tf_model.h5"]
    model.save_pretrained(tmp_path / "sharded", max_shard_size="30KB")
    assert len([n for n in os.listdir(tmp_path / "sharded") if n.endswith(".safetensors")]) > 1
    for folder in ("h5", "sharded"):
        got = TFGroupViTModel.from_pretrained(tmp_path / folder).to_numpy()
        assert all(np.array_equal(got[k], v) for k, v in weights.items() if k in got), folder
    with pytest.raises(FileExistsError, match="read before it"):
        model.save_pretrained(tmp_path / "sharded", safe_serialization=False)
