"""Keras model vs golden outputs of the PyTorch backend (tests/fixtures/make_golden.py).

Each fixture holds PyTorch-named weights (with `num_batches_tracked`, skipped by name),
inputs and outputs; the model runs eagerly and under XLA. Tolerance 1e-5; segmentation
logits 1e-5 relative to their largest magnitude. The fixtures' seeds were chosen so every
hard assignment has a clear top-two margin.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors import safe_open

from groupvit.configs import GroupViTConfig
from groupvit.tf import TFGroupViTModel
from groupvit.tf.pretrained import plain_structure

GOLDEN_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "golden")
CASES = sorted(os.path.basename(p)[: -len(".json")] for p in glob.glob(os.path.join(GOLDEN_DIR, "*.json")))


def load_case(name: str):
    config = GroupViTConfig.from_pretrained(os.path.join(GOLDEN_DIR, f"{name}.json"))
    groups: dict[str, dict[str, np.ndarray]] = {"weights": {}, "inputs": {}, "outputs": {}}
    with safe_open(os.path.join(GOLDEN_DIR, f"{name}.safetensors"), framework="np") as f:
        metadata = f.metadata()
        for key in f.keys():
            group, _, rest = key.partition("/")
            groups[group][rest] = f.get_tensor(key)
    options = {"interpolate_pos_encoding": metadata.get("interpolate_pos_encoding") == "true"}
    return config, groups["weights"], groups["inputs"], groups["outputs"], options


def build(config, weights):
    model = TFGroupViTModel(config)
    model.assign_numpy(weights)
    return model


def flatten(out: dict) -> dict[str, np.ndarray]:
    """The golden file's flat names from a `plain_structure` output."""
    v, t = out["vision_model_output"], out["text_model_output"]
    flat = {k: out[k] for k in ("loss", "logits_per_image", "logits_per_text", "segmentation_logits",
                                "text_embeds", "image_embeds")}
    flat.update({f"text_{k}": t[k] for k in ("pooler_output", "last_hidden_state")})
    flat.update({f"vision_{k}": v[k] for k in ("pooler_output", "last_hidden_state")})
    flat.update({f"vision_attentions_{i}": a for i, a in enumerate(v["attentions"])})
    flat.update({f"vision_hidden_states_{i}": h for i, h in enumerate(v["hidden_states"])})
    flat.update({f"text_attentions_{i}": a for i, a in enumerate(t["attentions"])})
    return {k: np.asarray(val) for k, val in flat.items()}


def assert_matches(actual: dict, expected: dict, label: str) -> None:
    for key, value in actual.items():
        want = expected[key]
        assert value.shape == want.shape, f"{label} {key}"
        atol = 1e-5 * max(1.0, float(np.abs(want).max())) if key == "segmentation_logits" else 1e-5
        np.testing.assert_allclose(value, want, rtol=1e-5, atol=atol, err_msg=f"{label} {key}")


def test_fixtures_exist():
    assert len(CASES) == 3, f"run tests/fixtures/make_golden.py; found {CASES}"


@pytest.mark.parametrize("name", CASES)
def test_eval_outputs_match_pytorch_eager_and_xla(name):
    config, weights, inputs, expected, options = load_case(name)
    model = build(config, weights)
    args = tuple(tf.constant(inputs[k]) for k in ("input_ids", "pixel_values", "attention_mask"))

    def run(input_ids, pixel_values, attention_mask):
        out = model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                    output_segmentation=True, output_hidden_states=True, return_loss=True, **options)
        # tf.function rebuilds a returned mapping as type(mapping)(pairs), which ModelOutput does not take
        return plain_structure(out)

    assert_matches(flatten(run(*args)), expected, "eager")
    assert_matches(flatten(tf.function(run, jit_compile=True)(*args)), expected, "xla")


@pytest.mark.parametrize("name", CASES)
def test_training_step_with_injected_noise_matches_pytorch(name):
    config, weights, inputs, expected, options = load_case(name)
    model = build(config, weights)
    noise = [inputs[f"gumbel_noise_{i}"] for i in range(len(config.vision_config.grouping_stages))]
    out = model(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"],
                attention_mask=inputs["attention_mask"], gumbel_noise=noise, training=True, **options)
    np.testing.assert_allclose(out.logits_per_image.numpy(), expected["train_logits_per_image"], rtol=1e-5, atol=1e-5)
    after = model.to_numpy()  # BatchNorm running statistics updated PyTorch-style
    np.testing.assert_allclose(after["visual_projection.1.running_mean"], expected["train_visual_running_mean"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(after["text_projection.1.running_var"], expected["train_text_running_var"],
                               rtol=1e-5, atol=1e-6)
