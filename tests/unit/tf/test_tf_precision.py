"""The Keras model under mixed_bfloat16 (float32 variables: checkpoints in and out unchanged) and bfloat16 (weights
rounded once on loading, written back as float32), with float32 islands."""

import keras
import numpy as np
import pytest
from tf_helpers import make_inputs

from groupvit.tf import TFGroupViTModel


def _run(model, config):
    pixels, ids, mask = make_inputs(config)
    return model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True,
                 output_attentions=True, training=False)


def _check_float32_outputs_close(reference, model, config):
    """The bfloat16 model's outputs and attentions are float32, its image embeddings close to float32's, not equal."""
    ref, out = _run(reference, config), _run(model, config)
    for name in ("image_embeds", "text_embeds", "logits_per_image", "segmentation_logits"):
        assert out[name].dtype == "float32", name
    assert all(a.dtype == "float32" for a in out.vision_model_output.attentions)
    a, b = np.asarray(ref.image_embeds), np.asarray(out.image_embeds)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cos.min() > 0.99 and not np.array_equal(a, b)


def test_mixed_bfloat16_computes_in_bfloat16_keeps_float32_weights_and_islands(three_stage):
    config, reference = three_stage
    weights = reference.to_numpy()
    model = TFGroupViTModel(config, dtype="mixed_bfloat16")
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    model.assign_numpy(weights)
    assert {v.dtype for v in model.weights} == {"float32"}
    assert all(np.array_equal(weights[k], v) for k, v in model.to_numpy().items())  # float32 back, bit for bit
    layer = model.vision_model.embeddings.patch_embeddings
    assert layer.compute_dtype == "bfloat16"
    _check_float32_outputs_close(reference, model, config)


def test_pure_bfloat16_rounds_the_weights_once_and_writes_them_back_as_float32(three_stage, tmp_path):
    import ml_dtypes

    config, reference = three_stage
    weights = reference.to_numpy()
    model = TFGroupViTModel(config, dtype="bfloat16")
    assert keras.config.dtype_policy().name == "float32"
    model.assign_numpy(weights)
    dtypes = {v.path: v.dtype for v in model.weights}
    assert dtypes.pop(model.logit_scale.path) == "float32" and set(dtypes.values()) == {"bfloat16"}
    rounded = {k: v.astype(ml_dtypes.bfloat16).astype(np.float32) for k, v in weights.items()}
    rounded["logit_scale"] = weights["logit_scale"]
    back = model.to_numpy()
    assert {v.dtype for v in back.values()} == {np.dtype("float32")}
    assert all(np.array_equal(rounded[k], v) for k, v in back.items())
    assert not all(np.array_equal(weights[k], v) for k, v in back.items())
    model.save_pretrained(tmp_path / "bf16")
    again = TFGroupViTModel.from_pretrained(tmp_path / "bf16", dtype="bfloat16")
    assert all(np.array_equal(rounded[k], v) for k, v in again.to_numpy().items())  # rounding is idempotent
    _check_float32_outputs_close(reference, model, config)


def test_dtype_auto_takes_what_config_json_names(three_stage, tmp_path):
    """transformers' dtype="auto" (the README lists it for from_pretrained) was refused as an unknown policy."""
    import json

    config, reference = three_stage
    reference.save_pretrained(tmp_path / "ckpt")
    model = TFGroupViTModel.from_pretrained(tmp_path / "ckpt", dtype="auto")
    assert {v.dtype for v in model.weights} == {"float32"}
    stored = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    (tmp_path / "ckpt" / "config.json").write_text(json.dumps({**stored, "dtype": "bfloat16"}))
    model = TFGroupViTModel.from_pretrained(tmp_path / "ckpt", dtype="auto")
    assert model.vision_model.embeddings.patch_embeddings.variable_dtype == "bfloat16"


def test_other_policies_are_refused(three_stage):
    config, _ = three_stage
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        TFGroupViTModel(config, dtype="float16")
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("policy", ["float16", "mixed_float16"])
def test_a_global_policy_other_than_these_is_refused_too(three_stage, policy):
    from groupvit.tf import TFGroupViTTextModel, TFGroupViTVisionModel

    config, _ = three_stage
    keras.config.set_dtype_policy(policy)
    try:
        for build in (lambda: TFGroupViTModel(config), lambda: TFGroupViTTextModel(config.text_config),
                      lambda: TFGroupViTVisionModel(config.vision_config)):
            with pytest.raises(ValueError, match=rf"global dtype policy must be one of .*Received: .*'{policy}'"):
                build()
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "bfloat16"])
def test_a_global_bfloat16_policy_builds_as_the_dtype_argument_does(three_stage, policy):
    config, _ = three_stage
    keras.config.set_dtype_policy(policy)
    try:
        model = TFGroupViTModel(config)
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.vision_model.embeddings.patch_embeddings.compute_dtype == "bfloat16"
    assert model.logit_scale.dtype == "float32"


@pytest.mark.parametrize("policy, variables", [("mixed_bfloat16", {"float32"}), ("bfloat16", {"bfloat16"})])
def test_text_and_vision_models_build_every_layer_under_the_policy(three_stage, policy, variables):
    """The towers on their own take `dtype` as TFGroupViTModel does (they used to keep float32 layers)."""
    from groupvit.tf import TFGroupViTTextModel, TFGroupViTVisionModel

    config, _ = three_stage
    pixels, ids, mask = make_inputs(config)
    text = TFGroupViTTextModel(config.text_config, dtype=policy)
    vision = TFGroupViTVisionModel(config.vision_config, dtype=policy)
    assert keras.config.dtype_policy().name == "float32"
    for model in (text, vision):
        assert {v.dtype for v in model.weights} == variables
    assert text(input_ids=ids, attention_mask=mask).pooler_output.dtype == "bfloat16"
    assert vision(pixel_values=pixels).pooler_output.dtype == "bfloat16"
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        TFGroupViTTextModel(config.text_config, dtype="float16")
