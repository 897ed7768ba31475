"""The checkpoint contract: every PyTorch state-dict key of a config and its shape.

Computed from the config alone (no framework), so each backend and the weight bridge
can check a checkpoint without building a model.
"""

from __future__ import annotations

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig

Shape = tuple[int, ...]

# Keys a PyTorch state dict may carry that have no parameter behind them.
OPTIONAL_BUFFER_SUFFIXES = ("num_batches_tracked",)
IGNORED_KEYS = ("text_model.embeddings.position_ids",)


def _linear(prefix: str, n_in: int, n_out: int) -> dict[str, Shape]:
    return {f"{prefix}.weight": (n_out, n_in), f"{prefix}.bias": (n_out,)}


def _norm(prefix: str, dim: int) -> dict[str, Shape]:
    return {f"{prefix}.weight": (dim,), f"{prefix}.bias": (dim,)}


def _mlp(prefix: str, n_in: int, n_mid: int, n_out: int) -> dict[str, Shape]:
    return {**_linear(f"{prefix}.fc1", n_in, n_mid), **_linear(f"{prefix}.fc2", n_mid, n_out)}


def _attention(prefix: str, dim: int) -> dict[str, Shape]:
    out: dict[str, Shape] = {}
    for name in ("k_proj", "v_proj", "q_proj", "out_proj"):
        out.update(_linear(f"{prefix}.{name}", dim, dim))
    return out


def _encoder_layer(prefix: str, dim: int, intermediate: int) -> dict[str, Shape]:
    return {
        **_attention(f"{prefix}.self_attn", dim),
        **_norm(f"{prefix}.layer_norm1", dim),
        **_mlp(f"{prefix}.mlp", dim, intermediate, dim),
        **_norm(f"{prefix}.layer_norm2", dim),
    }


def text_shapes(config: GroupViTTextConfig, prefix: str = "text_model") -> dict[str, Shape]:
    d = config.hidden_size
    out: dict[str, Shape] = {
        f"{prefix}.embeddings.token_embedding.weight": (config.vocab_size, d),
        f"{prefix}.embeddings.position_embedding.weight": (config.max_position_embeddings, d),
    }
    for layer in range(config.num_hidden_layers):
        out.update(_encoder_layer(f"{prefix}.encoder.layers.{layer}", d, config.intermediate_size))
    out.update(_norm(f"{prefix}.final_layer_norm", d))
    return out


def _token_assign(prefix: str, config: GroupViTVisionConfig, groups: int, outputs: int) -> dict[str, Shape]:
    d = config.hidden_size
    tokens_dim, channels_dim = config.assign_mlp_dims
    out: dict[str, Shape] = {}
    out.update(_norm(f"{prefix}.norm_tokens", d))
    out.update(_mlp(f"{prefix}.mlp_inter", groups, tokens_dim, outputs))
    out.update(_norm(f"{prefix}.norm_post_tokens", d))
    out.update(_norm(f"{prefix}.norm_x", d))
    out.update(_attention(f"{prefix}.pre_assign_attn.attn", d))
    out.update(_norm(f"{prefix}.pre_assign_attn.norm2", d))
    out.update(_mlp(f"{prefix}.pre_assign_attn.mlp", d, config.intermediate_size, d))
    out.update(_norm(f"{prefix}.pre_assign_attn.norm_post", d))
    for name in ("q_proj", "k_proj", "v_proj", "proj"):
        out.update(_linear(f"{prefix}.assign.{name}", d, d))
    out.update(_norm(f"{prefix}.norm_new_x", d))
    out.update(_mlp(f"{prefix}.mlp_channels", d, channels_dim, d))
    return out


def vision_shapes(config: GroupViTVisionConfig, prefix: str = "vision_model") -> dict[str, Shape]:
    d = config.hidden_size
    ph, pw = config.patch_hw
    out: dict[str, Shape] = {
        f"{prefix}.embeddings.position_embeddings": (1, config.num_patches, d),
        f"{prefix}.embeddings.patch_embeddings.projection.weight": (d, config.num_channels, ph, pw),
        f"{prefix}.embeddings.patch_embeddings.projection.bias": (d,),
    }
    out.update(_norm(f"{prefix}.embeddings.layernorm", d))
    for s, depth in enumerate(config.depths):
        stage = f"{prefix}.encoder.stages.{s}"
        groups, outputs = config.num_group_tokens[s], config.num_output_groups[s]
        if groups > 0:
            out[f"{stage}.group_token"] = (1, groups, d)
        for layer in range(depth):
            out.update(_encoder_layer(f"{stage}.layers.{layer}", d, config.intermediate_size))
        if groups > 0:
            out.update(_token_assign(f"{stage}.downsample", config, groups, outputs))
        prev = config.prev_group_tokens(s)
        if prev > 0:
            out.update(_norm(f"{stage}.group_projector.0", d))
            out.update(_mlp(f"{stage}.group_projector.1", prev, d // 2, groups))
    out.update(_norm(f"{prefix}.layernorm", d))
    return out


def _projection(prefix: str, n_in: int, n_mid: int, n_out: int) -> dict[str, Shape]:
    return {
        **_linear(f"{prefix}.0", n_in, n_mid),
        f"{prefix}.1.weight": (n_mid,),
        f"{prefix}.1.bias": (n_mid,),
        f"{prefix}.1.running_mean": (n_mid,),
        f"{prefix}.1.running_var": (n_mid,),
        f"{prefix}.1.num_batches_tracked": (),
        **_linear(f"{prefix}.3", n_mid, n_out),
    }


def model_shapes(config: GroupViTConfig) -> dict[str, Shape]:
    """Every key of a `GroupViTModel` state dict (docs/checkpoints.md) with its shape."""
    mid, dim = config.projection_intermediate_dim, config.projection_dim
    return {
        **text_shapes(config.text_config),
        **vision_shapes(config.vision_config),
        **_projection("visual_projection", config.vision_config.hidden_size, mid, dim),
        **_projection("text_projection", config.text_config.hidden_size, mid, dim),
        "logit_scale": (),
    }


def expected_shapes(config: GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig) -> dict[str, Shape]:
    """Keys and shapes of the state dict of the model class that `config` builds.

    The text and vision models nest their transformer under `text_model.` /
    `vision_model.`, as the port's `GroupViTTextModel` / `GroupViTVisionModel` do.
    """
    if isinstance(config, GroupViTConfig):
        return model_shapes(config)
    if isinstance(config, GroupViTTextConfig):
        return text_shapes(config)
    if isinstance(config, GroupViTVisionConfig):
        return vision_shapes(config)
    raise TypeError(f"expected_shapes needs a GroupViT config. Received: {type(config).__name__}")
