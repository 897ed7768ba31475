"""Shared pieces of the equivalence suite: models with the same weights, inputs, train steps."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import torch

from groupvit.configs import GroupViTConfig
from groupvit.equivalence.runner import Inputs, build_models
from groupvit.random_checkpoint import random_weights


def make_inputs(config: GroupViTConfig, n_images: int, n_texts: int, length: int, seed: int,
                height: int | None = None, width: int | None = None, pad_lengths=None) -> Inputs:
    rng = np.random.default_rng(seed)
    vision, text = config.vision_config, config.text_config
    h, w = vision.image_hw
    pixels = rng.normal(size=(n_images, vision.num_channels, height or h, width or w)).astype(np.float32)
    ids = rng.integers(0, text.vocab_size, size=(n_texts, length)).astype(np.int64)
    mask = np.ones((n_texts, length), np.int64)
    for row in range(n_texts):
        end = length - 1 - (pad_lengths[row] if pad_lengths is not None else 0)
        if 0 <= text.eos_token_id < text.vocab_size:
            ids[row, ids[row] == text.eos_token_id] = 0  # one end token per row, where we put it
            ids[row, end] = text.eos_token_id
        mask[row, end + 1:] = 0
    interpolate = (height or h, width or w) != (h, w)
    return Inputs(pixels, ids, mask, interpolate_pos_encoding=interpolate)


def pair(config: GroupViTConfig, seed: int = 0):
    weights = random_weights(config, seed)
    pt_model, tf_model = build_models(config, weights)
    return pt_model, tf_model, weights


def gumbel(config: GroupViTConfig, n_images: int, seed: int, height: int | None = None,
           width: int | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    vision = config.vision_config
    (ph, pw), (h, w) = vision.patch_hw, vision.image_hw
    tokens, shapes = ((height or h) // ph) * ((width or w) // pw), []
    for g, o in zip(vision.num_group_tokens, vision.num_output_groups):
        if g:
            shapes.append((n_images, o, tokens))
            tokens = o
    return [rng.gumbel(size=s).astype(np.float32) for s in shapes]


def train_step_pytorch(model, inputs: Inputs, noise, drop_path=None):
    """Loss, every parameter's gradient and the outputs of one train-mode forward/backward."""
    model.train()
    model.zero_grad()
    out = model(input_ids=torch.from_numpy(inputs.input_ids), pixel_values=torch.from_numpy(inputs.pixel_values),
                attention_mask=torch.from_numpy(inputs.attention_mask), return_loss=True,
                interpolate_pos_encoding=inputs.interpolate_pos_encoding,
                gumbel_noise=[torch.from_numpy(n) for n in noise],
                drop_path_scales=None if drop_path is None else torch.from_numpy(drop_path))
    out.loss.backward()
    grads = {k: (p.grad.numpy() if p.grad is not None else np.zeros(p.shape, np.float32))
             for k, p in model.named_parameters()}
    return float(out.loss), grads, out


def train_step_keras(model, inputs: Inputs, noise, drop_path=None):
    slots = model._weight_slots()  # {PyTorch key: (variable, to_torch, from_torch)}
    keys = sorted(k for k, (v, _, _) in slots.items() if v.trainable)
    with tf.GradientTape() as tape:
        out = model(input_ids=inputs.input_ids, pixel_values=inputs.pixel_values,
                    attention_mask=inputs.attention_mask, return_loss=True,
                    interpolate_pos_encoding=inputs.interpolate_pos_encoding, gumbel_noise=noise, training=True,
                    drop_path_scales=drop_path)
    variables = [slots[k][0] for k in keys]
    grads = tape.gradient(out.loss, variables)
    mapped = {}
    for key, grad in zip(keys, grads):
        value = np.zeros(variables[keys.index(key)].shape, np.float32) if grad is None else np.asarray(
            tf.convert_to_tensor(grad))
        mapped[key] = slots[key][1](value)
    return float(out.loss), mapped, out
