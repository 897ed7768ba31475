"""Run one checkpoint through both backends and compare every output (behind `groupvit verify`).

Frameworks are imported inside the functions, so importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.equivalence.compare import Row, compare_argmax, compare_dense
from groupvit.equivalence.tolerances import ACTIVATION, FLOAT32_FLOOR, LOGITS, SEGMENTATION_LOGITS, Tolerance
from groupvit.outputs import ModelOutput

Outputs = dict[str, np.ndarray]
LOGIT_SCALE = "exp(logit_scale)"
GROUP_FEATURES = "group_features"  # projected, un-normalized group tokens behind the segmentation logits


@dataclass
class Inputs:
    pixel_values: np.ndarray  # float32 [B, C, H, W]
    input_ids: np.ndarray  # int64 [T, L]
    attention_mask: np.ndarray | None = None
    interpolate_pos_encoding: bool = False


def flatten(out: ModelOutput, to_numpy, prefix: str = "") -> Outputs:
    """Nested model outputs -> {"vision.hidden_states.0": array, ...}."""
    flat: Outputs = {}
    short = {"text_model_output": "text", "vision_model_output": "vision"}
    for key, value in out.items():
        name = prefix + short.get(key, key)
        if isinstance(value, ModelOutput):
            flat.update(flatten(value, to_numpy, name + "."))
        elif isinstance(value, (tuple, list)):
            for i, item in enumerate(value):
                flat[f"{name}.{i}"] = to_numpy(item)
        else:
            flat[name] = to_numpy(value)
    return flat


def build_models(config: GroupViTConfig, weights: dict[str, np.ndarray]):
    """The same weights in a PyTorch model and a Keras model, both in inference mode."""
    from groupvit.pt import GroupViTModel
    from groupvit.tf import TFGroupViTModel

    pt_model = GroupViTModel(config)
    pt_model.load_weights(weights)
    tf_model = TFGroupViTModel(config)
    tf_model.assign_numpy(weights)
    return pt_model.eval(), tf_model


def can_segment(config, height: int, width: int) -> bool:
    """Whether segmentation maps exist to compare: the model has a grouping stage and the reference grid rule
    (groupvit.token_grid) reads its tokens at this image size (e.g. not 23 x 23 px of patch 2). A model or size
    without them is compared on every other output."""
    from groupvit.token_grid import patch_grid

    vision = config.vision_config
    if not vision.grouping_stages:
        return False
    try:
        patch_grid(height, width, vision.patch_hw)
    except ValueError:
        return False
    return True


def run_pytorch(model, inputs: Inputs) -> Outputs:
    import torch

    from groupvit.pt.precision import widen

    mask = None if inputs.attention_mask is None else torch.from_numpy(inputs.attention_mask)
    pixels, ids = torch.from_numpy(inputs.pixel_values), torch.from_numpy(inputs.input_ids)
    if next(model.parameters()).dtype == torch.float64:  # the exact run of float32_error
        pixels = pixels.double()
    with torch.no_grad():
        out = model(input_ids=ids, pixel_values=pixels, attention_mask=mask, output_attentions=True,
                    output_hidden_states=True,
                    output_segmentation=can_segment(model.config, *inputs.pixel_values.shape[2:]),
                    interpolate_pos_encoding=inputs.interpolate_pos_encoding)
        flat = flatten(out, lambda t: widen(t.detach()).numpy())  # a bfloat16 model's widened
        flat["image_features"] = widen(model.image_features(pixels, inputs.interpolate_pos_encoding)).numpy()
        flat["text_features"] = widen(model.text_features(ids, mask)).numpy()
        last = out.vision_model_output.last_hidden_state
        flat[GROUP_FEATURES] = widen(model.visual_projection(last.reshape(-1, last.shape[-1])).reshape(
            last.shape[0], last.shape[1], -1)).numpy()
        flat[LOGIT_SCALE] = widen(model.logit_scale).exp().numpy()
    return flat


def float32_error(model, inputs: Inputs, reference: Outputs) -> dict[str, float]:
    """Max |float32 - float64| of every output of a float32 PyTorch `model` (its `reference` run) on `inputs`:
    how far float32 itself is from the exact answer here (see tolerances.FLOAT32_FLOOR)."""
    import copy

    exact = run_pytorch(copy.deepcopy(model).double(), inputs)
    return {name: float(np.abs(np.asarray(reference[name], np.float64) - exact[name]).max())
            for name in reference if name in exact and np.size(reference[name])}


def run_keras(model, inputs: Inputs, jit_compile: bool = False) -> Outputs:
    import tensorflow as tf

    interpolate = inputs.interpolate_pos_encoding

    def forward(pixel_values, input_ids, attention_mask):
        out = model(input_ids=input_ids, pixel_values=pixel_values, attention_mask=attention_mask,
                    output_attentions=True, output_hidden_states=True,
                    output_segmentation=can_segment(model.config, *inputs.pixel_values.shape[2:]),
                    interpolate_pos_encoding=interpolate, training=False)
        flat = flatten(out, lambda t: t)
        flat["image_features"] = model.get_image_features(pixel_values, interpolate_pos_encoding=interpolate)
        flat["text_features"] = model.get_text_features(input_ids, attention_mask=attention_mask)
        last = out.vision_model_output.last_hidden_state
        flat[GROUP_FEATURES] = tf.reshape(model.visual_projection(tf.reshape(last, (-1, last.shape[-1]))),
                                          (-1, last.shape[1], model.config.projection_dim))
        flat[LOGIT_SCALE] = tf.exp(tf.cast(model.logit_scale, tf.float32))
        return flat

    if jit_compile:
        forward = tf.function(forward, jit_compile=True)
    flat = forward(inputs.pixel_values, inputs.input_ids, inputs.attention_mask)
    return {k: np.asarray(tf.cast(v, tf.float32)) for k, v in flat.items()}  # a bfloat16 model's widened


def tolerance_for(name: str) -> Tolerance:
    if name == "segmentation_logits":
        return SEGMENTATION_LOGITS
    if name.startswith("logits_per"):
        return LOGITS
    return ACTIVATION


def normalization_gain(features: np.ndarray) -> float:
    """How much dividing by the norm magnifies the features' rounding, relative to ACTIVATION.

    The features are held to ACTIVATION.bound(max|f|); normalizing divides that error by each
    row's norm. Rows of small norm (all but a few ReLU units zero in a narrow head) are poorly
    conditioned: the bound of everything computed from the normalized rows grows by this factor.
    """
    rows = np.asarray(features, np.float64).reshape(-1, features.shape[-1])
    if rows.size == 0:
        return 1.0
    norms = np.linalg.norm(rows, axis=-1)
    error = ACTIVATION.bound(float(np.abs(rows).max()))
    return max(1.0, error / max(float(norms.min()), 1e-30) / ACTIVATION.atol)


def compare_outputs(reference: Outputs, other: Outputs, context: Outputs | None = None,
                    own_error: dict[str, float] | None = None) -> list[Row]:
    """Every dense output, plus the hard decisions: group assignments and the segmentation map.
    `context`: more reference outputs that set the bounds (features, the logit scale) without being compared.
    `own_error`: the reference's own float32 error per output (`float32_error`); no bound is set below
    FLOAT32_FLOOR times it."""
    rows = []
    known = {**(context or {}), **reference}
    # logits are s x cosines and segmentation logits s x group logits, s = exp(logit_scale): their
    # rounding scales with s even where the values happen to be small
    seg_floor = float(known.get(LOGIT_SCALE, 0.0))
    gain = {name: normalization_gain(known[f]) for name, f in
            (("image", "image_features"), ("text", "text_features"), ("group", GROUP_FEATURES)) if f in known}
    amplification = {
        "image_embeds": gain.get("image", 1.0),
        "text_embeds": gain.get("text", 1.0),
        "logits_per_image": max(gain.get("image", 1.0), gain.get("text", 1.0)),
        "logits_per_text": max(gain.get("image", 1.0), gain.get("text", 1.0)),
        "segmentation_logits": max(gain.get("group", 1.0), gain.get("text", 1.0)),
    }
    missing = sorted(set(reference) ^ set(other))
    for name in missing:
        rows.append(Row(f"{name} (only in one backend)", float("inf"), float("inf"), 0.0, False))
    for name in sorted(set(reference) & set(other)):
        floor = seg_floor if name == "segmentation_logits" or name.startswith("logits_per") else 0.0
        rows.append(compare_dense(name, reference[name], other[name], tolerance_for(name), floor,
                                  amplification.get(name, 1.0),
                                  min_bound=FLOAT32_FLOOR * (own_error or {}).get(name, 0.0)))
    for name in sorted(n for n in reference if n.startswith("vision.attentions.") and n in other):
        stage = name.rsplit(".", 1)[1]
        rows.append(compare_argmax(f"hard assignment {stage} (argmax over groups)", reference[name], other[name],
                                   axis=1, tolerance=ACTIVATION))
    if "segmentation_logits" in reference and "segmentation_logits" in other:
        rows.append(compare_argmax("segmentation map (argmax over texts)", reference["segmentation_logits"],
                                   other["segmentation_logits"], axis=1, tolerance=SEGMENTATION_LOGITS,
                                   scale_floor=seg_floor, amplification=amplification["segmentation_logits"]))
    return rows
