"""The authors' initialisation of a GroupViT trained from scratch, in numpy, shared by both trainers.

`initial_weights(config, seed)` gives every weight of `config` as NVlabs/GroupViT initialises its
model (models/group_vit.py `_init_weights` and `BasicLayer`, models/transformer.py,
models/multi_label_contrastive.py `ProjectMLP`), seeded, in PyTorch names and layouts:
- vision: every linear layer N(0, 0.02) (timm's `trunc_normal_(std=.02)`, whose cut at +-2 in absolute
  value never acts at that std) with zero bias, LayerNorms 1 / 0, the position table and the group
  tokens N(0, 0.02) except a stage with a group projector, whose tokens start at zero; the patch
  convolution PyTorch's default (uniform +-1/sqrt(fan_in), weight and bias);
- text (CLIP's scheme): token table N(0, 0.02), positions N(0, 0.01), q/k/v N(0, width^-0.5) with zero
  bias, the attention output N(0, width^-0.5 (2 layers)^-0.5) with zero bias, the MLP's first layer
  N(0, (2 width)^-0.5) and second N(0, width^-0.5 (2 layers)^-0.5), their biases PyTorch's default;
  LayerNorms 1 / 0;
- projection heads (1x1 convolutions there): PyTorch's default uniform +-1/sqrt(fan_in) for weights
  and biases, BatchNorm 1 / 0 with running statistics 0 / 1;
- the logit scale: the config's `logit_scale_init_value` (ln(1/0.07)).
Both backends' constructors follow the `transformers` ports instead (zero tables, and Keras' own
initialisers), which is right for loading a checkpoint but not for learning one: a run from scratch
starts here in either backend, so both start from the same weights.
"""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.keys import expected_shapes

import re

TABLE_STD = 0.02  # timm's trunc_normal_(std=.02): cut at +-2 in absolute value, i.e. never at this std
TEXT_POSITION_STD = 0.01
LINEAR = re.compile(r"\.(q_proj|k_proj|v_proj|out_proj|proj|fc1|fc2)\.(weight|bias)$")


def initial_weights(config: GroupViTConfig, seed: int) -> dict[str, np.ndarray]:
    """Every weight of `config`, initialised as the authors do (module docstring), float32 (int64 counters)."""
    rng = np.random.default_rng([seed, 20220301])
    shapes = expected_shapes(config)
    projected_stages = {key.split(".group_projector.")[0] for key in shapes if ".group_projector." in key}
    text = config.text_config
    width, layers = text.hidden_size, text.num_hidden_layers
    out = {}
    for key, shape in shapes.items():
        out[key] = _initial(key, shape, rng, width, layers, projected_stages, config)
    return out


def _initial(key: str, shape: tuple[int, ...], rng: np.random.Generator, width: int, layers: int,
             projected_stages: set[str], config: GroupViTConfig) -> np.ndarray:
    def normal(std: float) -> np.ndarray:
        return rng.normal(0.0, std, shape).astype(np.float32)

    def torch_default(fan_in: int) -> np.ndarray:  # nn.Linear / nn.Conv* reset_parameters, weight and bias
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    if key == "logit_scale":
        return np.asarray(config.logit_scale_init_value, dtype=np.float32)
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    if key.endswith("running_mean"):
        return np.zeros(shape, dtype=np.float32)
    if key.endswith("running_var"):
        return np.ones(shape, dtype=np.float32)
    if key.startswith(("visual_projection.", "text_projection.")):
        if key.split(".")[1] == "1":  # the BatchNorm
            return np.ones(shape, np.float32) if key.endswith("weight") else np.zeros(shape, np.float32)
        fan_in = shape[1] if key.endswith("weight") else _weight_fan_in(key, config)
        return torch_default(fan_in)
    if _is_norm(key):
        return np.ones(shape, np.float32) if key.endswith("weight") else np.zeros(shape, np.float32)
    if key.startswith("text_model."):
        return _text(key, shape, normal, torch_default, width, layers, config)
    if key == "vision_model.embeddings.patch_embeddings.projection.weight":
        return torch_default(int(np.prod(shape[1:])))
    if key == "vision_model.embeddings.patch_embeddings.projection.bias":
        vision = config.vision_config
        return torch_default(vision.num_channels * vision.patch_hw[0] * vision.patch_hw[1])
    if key.endswith("group_token"):
        stage = key[: -len(".group_token")]
        return np.zeros(shape, np.float32) if stage in projected_stages else normal(TABLE_STD)
    if key == "vision_model.embeddings.position_embeddings":
        return normal(TABLE_STD)
    if key.startswith("vision_model.") and LINEAR.search(key):
        return normal(TABLE_STD) if key.endswith("weight") else np.zeros(shape, np.float32)
    raise ValueError(f"Every weight must have an initialisation rule. Received: {key!r} {shape}")


def _is_norm(key: str) -> bool:
    return bool(re.search(r"(layer_?norm\d?|final_layer_norm|norm_\w+|norm\d|group_projector\.0)\.(weight|bias)$",
                          key))


def _text(key, shape, normal, torch_default, width: int, layers: int, config: GroupViTConfig) -> np.ndarray:
    proj_std, attn_std, fc_std = width**-0.5 * (2 * layers) ** -0.5, width**-0.5, (2 * width) ** -0.5
    if key.endswith("token_embedding.weight"):
        return normal(TABLE_STD)
    if key.endswith("position_embedding.weight"):
        return normal(TEXT_POSITION_STD)
    if re.search(r"\.self_attn\.(q_proj|k_proj|v_proj)\.weight$", key):
        return normal(attn_std)
    if key.endswith("self_attn.out_proj.weight"):
        return normal(proj_std)
    if re.search(r"\.self_attn\.\w+\.bias$", key):
        return np.zeros(shape, np.float32)  # nn.MultiheadAttention zeroes its biases
    if key.endswith("mlp.fc1.weight"):
        return normal(fc_std)
    if key.endswith("mlp.fc2.weight"):
        return normal(proj_std)
    if key.endswith("mlp.fc1.bias"):
        return torch_default(width)
    if key.endswith("mlp.fc2.bias"):
        return torch_default(config.text_config.intermediate_size)
    raise ValueError(f"Every weight must have an initialisation rule. Received: {key!r} {shape}")


def _weight_fan_in(bias_key: str, config: GroupViTConfig) -> int:
    """Fan-in of the layer a projection-head bias belongs to (its weight's second dimension)."""
    head, index = bias_key.split(".")[:2]
    if index == "0":
        return (config.vision_config if head == "visual_projection" else config.text_config).hidden_size
    return config.projection_intermediate_dim
