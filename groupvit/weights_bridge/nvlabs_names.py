"""Parameter names of the authors' training checkpoints (NVlabs/GroupViT) <-> ours.

A table of pairs (templates over stage `{s}` and layer `{l}`), then the special cases:
fused attention projections split into q, k, v (in that order); the projectors' Conv1d
weights [out, in, 1] squeezed to Linear weights; `multi_label_logit_scale` (the
multi-label loss temperature) dropped.
"""

from __future__ import annotations

import numpy as np

from groupvit.configs import GroupViTConfig

# (authors' module, our module): parameters below them keep their names.
MODULE_PAIRS: list[tuple[str, str]] = [
    ("img_encoder.patch_embed.proj", "vision_model.embeddings.patch_embeddings.projection"),
    ("img_encoder.patch_embed.norm", "vision_model.embeddings.layernorm"),
    ("img_encoder.layers.{s}.blocks.{l}.norm1", "vision_model.encoder.stages.{s}.layers.{l}.layer_norm1"),
    ("img_encoder.layers.{s}.blocks.{l}.attn.proj", "vision_model.encoder.stages.{s}.layers.{l}.self_attn.out_proj"),
    ("img_encoder.layers.{s}.blocks.{l}.norm2", "vision_model.encoder.stages.{s}.layers.{l}.layer_norm2"),
    ("img_encoder.layers.{s}.blocks.{l}.mlp.fc1", "vision_model.encoder.stages.{s}.layers.{l}.mlp.fc1"),
    ("img_encoder.layers.{s}.blocks.{l}.mlp.fc2", "vision_model.encoder.stages.{s}.layers.{l}.mlp.fc2"),
    ("img_encoder.layers.{s}.group_projector.0", "vision_model.encoder.stages.{s}.group_projector.0"),
    ("img_encoder.layers.{s}.group_projector.1.fc1", "vision_model.encoder.stages.{s}.group_projector.1.fc1"),
    ("img_encoder.layers.{s}.group_projector.1.fc2", "vision_model.encoder.stages.{s}.group_projector.1.fc2"),
    ("img_encoder.norm", "vision_model.layernorm"),
    ("text_encoder.token_embedding", "text_model.embeddings.token_embedding"),
    ("text_encoder.transformer.resblocks.{l}.ln_1", "text_model.encoder.layers.{l}.layer_norm1"),
    ("text_encoder.transformer.resblocks.{l}.attn.out_proj", "text_model.encoder.layers.{l}.self_attn.out_proj"),
    ("text_encoder.transformer.resblocks.{l}.ln_2", "text_model.encoder.layers.{l}.layer_norm2"),
    ("text_encoder.transformer.resblocks.{l}.mlp.c_fc", "text_model.encoder.layers.{l}.mlp.fc1"),
    ("text_encoder.transformer.resblocks.{l}.mlp.c_proj", "text_model.encoder.layers.{l}.mlp.fc2"),
    ("text_encoder.ln_final", "text_model.final_layer_norm"),
    ("img_projector.linear_hidden.0", "visual_projection.0"),
    ("img_projector.linear_hidden.1", "visual_projection.1"),
    ("img_projector.linear_out", "visual_projection.3"),
    ("text_projector.linear_hidden.0", "text_projection.0"),
    ("text_projector.linear_hidden.1", "text_projection.1"),
    ("text_projector.linear_out", "text_projection.3"),
]

# The grouping block (GroupingBlock) has the same module names on both sides but one.
DOWNSAMPLE_MODULES = [
    "norm_tokens", "mlp_inter.fc1", "mlp_inter.fc2", "norm_post_tokens", "norm_x",
    "pre_assign_attn.attn.q_proj", "pre_assign_attn.attn.k_proj", "pre_assign_attn.attn.v_proj",
    "pre_assign_attn.norm2", "pre_assign_attn.mlp.fc1", "pre_assign_attn.mlp.fc2", "pre_assign_attn.norm_post",
    "assign.q_proj", "assign.k_proj", "assign.v_proj", "assign.proj", "norm_new_x",
    "mlp_channels.fc1", "mlp_channels.fc2",
]  # fmt: skip
MODULE_PAIRS += [
    (f"img_encoder.layers.{{s}}.downsample.{m}", f"vision_model.encoder.stages.{{s}}.downsample.{m}")
    for m in DOWNSAMPLE_MODULES
]
MODULE_PAIRS.append(
    ("img_encoder.layers.{s}.downsample.pre_assign_attn.attn.proj",
     "vision_model.encoder.stages.{s}.downsample.pre_assign_attn.attn.out_proj")
)  # fmt: skip

# (authors' parameter, our parameter): parameters held directly by a module.
PARAMETER_PAIRS: list[tuple[str, str]] = [
    ("img_encoder.pos_embed", "vision_model.embeddings.position_embeddings"),
    ("img_encoder.layers.{s}.group_token", "vision_model.encoder.stages.{s}.group_token"),
    ("text_encoder.positional_embedding", "text_model.embeddings.position_embedding.weight"),
    ("logit_scale", "logit_scale"),
]

# Special case 1: (authors' fused q|k|v parameter with `{p}` in weight/bias, our attention module).
FUSED_QKV: list[tuple[str, str]] = [
    ("img_encoder.layers.{s}.blocks.{l}.attn.qkv.{p}", "vision_model.encoder.stages.{s}.layers.{l}.self_attn"),
    ("text_encoder.transformer.resblocks.{l}.attn.in_proj_{p}", "text_model.encoder.layers.{l}.self_attn"),
]
QKV_ORDER = ("q_proj", "k_proj", "v_proj")

# Special case 2: Conv1d (kernel size 1) weights of the projectors, [out, in, 1] <-> [out, in].
CONV1D_WEIGHTS = (
    "img_projector.linear_hidden.0.weight", "img_projector.linear_out.weight",
    "text_projector.linear_hidden.0.weight", "text_projector.linear_out.weight",
)  # fmt: skip

# Special case 3: in the authors' checkpoints, unused by the model (multi-label loss temperature).
DROPPED = ("multi_label_logit_scale",)


def _expand(template: str, config: GroupViTConfig) -> list[tuple[dict[str, int], str]]:
    stages = range(config.vision_config.num_stages)
    layers = range(max(max(config.vision_config.depths), config.text_config.num_hidden_layers))
    combos = [{}]
    if "{s}" in template:
        combos = [{"s": s, **c} for c in combos for s in stages]
    if "{l}" in template:
        combos = [{"l": layer, **c} for c in combos for layer in layers]
    return combos


def _fill(template: str, values: dict[str, int | str]) -> str:
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", str(value))
    return out


def authors_names(config: GroupViTConfig, our_keys: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """({authors' key: our key}, {authors' fused key: [our q, k, v keys]}) for `our_keys`.

    Raises if a key of ours has no authors' name (the table is incomplete).
    """
    modules: dict[str, str] = {}
    for theirs, ours in MODULE_PAIRS:
        for values in _expand(ours, config):
            modules[_fill(ours, values)] = _fill(theirs, values)
    params: dict[str, str] = {}
    for theirs, ours in PARAMETER_PAIRS:
        for values in _expand(ours, config):
            params[_fill(ours, values)] = _fill(theirs, values)
    fused_by_ours: dict[str, tuple[str, int]] = {}
    for theirs, ours in FUSED_QKV:
        for values in _expand(ours, config):
            for p in ("weight", "bias"):
                for index, proj in enumerate(QKV_ORDER):
                    fused_by_ours[f"{_fill(ours, values)}.{proj}.{p}"] = (_fill(theirs, {**values, "p": p}), index)
    plain: dict[str, str] = {}
    fused: dict[str, list[str]] = {}
    unknown = []
    for key in our_keys:
        module, param = key.rsplit(".", 1) if "." in key else ("", key)
        if key in fused_by_ours:
            theirs, index = fused_by_ours[key]
            fused.setdefault(theirs, [""] * len(QKV_ORDER))[index] = key
        elif key in params:
            plain[params[key]] = key
        elif module in modules:
            plain[f"{modules[module]}.{param}"] = key
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"Every key must have an authors' name in the table. Received keys without one: {unknown[:5]}")
    return plain, fused


def squeeze_conv1d(value: np.ndarray) -> np.ndarray:
    if value.ndim != 3 or value.shape[-1] != 1:
        raise ValueError(f"A Conv1d projector weight must have shape (out, in, 1). Received: shape={value.shape}")
    return value[:, :, 0]


def split_qkv(value: np.ndarray) -> list[np.ndarray]:
    if value.shape[0] % 3:
        raise ValueError(f"A fused q|k|v parameter must have 3*dim rows. Received: shape={value.shape}")
    return list(np.split(value, 3, axis=0))
