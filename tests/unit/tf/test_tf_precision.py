"""The Keras model under mixed_bfloat16: float32 variables (checkpoints in and out unchanged), float32 islands."""

import keras
import numpy as np
import pytest
from tf_helpers import make_inputs

from groupvit.tf import TFGroupViTModel


def _run(model, config):
    pixels, ids, mask = make_inputs(config)
    return model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_segmentation=True,
                 output_attentions=True, training=False)


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
    ref, out = _run(reference, config), _run(model, config)
    for name in ("image_embeds", "text_embeds", "logits_per_image", "segmentation_logits"):
        assert out[name].dtype == "float32", name
    assert all(a.dtype == "float32" for a in out.vision_model_output.attentions)
    a, b = np.asarray(ref.image_embeds), np.asarray(out.image_embeds)
    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
    assert cos.min() > 0.99 and not np.array_equal(a, b)


def test_pure_bfloat16_policy_is_refused(three_stage):
    config, _ = three_stage
    with pytest.raises(ValueError, match="mixed_bfloat16"):
        TFGroupViTModel(config, dtype="bfloat16")
    assert keras.config.dtype_policy().name == "float32"
