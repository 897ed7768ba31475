"""Base class of the PyTorch models: weight init, strict loading, `from_pretrained` / `save_pretrained`."""

from __future__ import annotations

import json
import os
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from groupvit.configs import CONFIG_NAME, GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.attention import GroupViTAttention
from groupvit.pt.mlp import GroupViTMLP
from groupvit.pt.text_embeddings import GroupViTTextEmbeddings
from groupvit.weights_bridge.keys import IGNORED_KEYS, OPTIONAL_BUFFER_SUFFIXES, expected_shapes

SAFETENSORS_NAME = "model.safetensors"
PYTORCH_BIN_NAME = "pytorch_model.bin"

AnyConfig = GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig


def _read_config_dict(directory: str) -> dict[str, Any]:
    with open(os.path.join(directory, CONFIG_NAME), encoding="utf-8") as f:
        return json.load(f)


def _read_weights(directory: str) -> dict[str, torch.Tensor]:
    safetensors_path = os.path.join(directory, SAFETENSORS_NAME)
    if os.path.isfile(safetensors_path):
        from safetensors.torch import load_file

        return load_file(safetensors_path)
    bin_path = os.path.join(directory, PYTORCH_BIN_NAME)
    if os.path.isfile(bin_path):
        return torch.load(bin_path, map_location="cpu", weights_only=True)
    raise FileNotFoundError(
        f"A checkpoint directory must hold {SAFETENSORS_NAME} or {PYTORCH_BIN_NAME}. Received: {directory!r}"
    )


def check_state_dict(state: dict[str, Any], shapes: dict[str, tuple[int, ...]], source: str) -> None:
    """Strict key and shape check; one error lists missing, unexpected and mis-shaped keys."""
    optional = {k for k in shapes if k.endswith(OPTIONAL_BUFFER_SUFFIXES)}
    missing = sorted(set(shapes) - set(state) - optional)
    unexpected = sorted(k for k in set(state) - set(shapes) if k not in IGNORED_KEYS)
    misshaped = [
        f"{k}: expected {shapes[k]}, received {tuple(state[k].shape)}"
        for k in sorted(set(state) & set(shapes))
        if tuple(state[k].shape) != shapes[k]
    ]
    if missing or unexpected or misshaped:
        lines = [f"The weights from {source} must match the config exactly."]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped)):
            if items:
                shown = items[:20] + ([f"... and {len(items) - 20} more"] if len(items) > 20 else [])
                lines.append(f"Received {len(items)} {title} key(s): " + ", ".join(shown))
        raise ValueError("\n".join(lines))


class GroupViTPreTrainedModel(nn.Module):
    """Shared behaviour of `GroupViTModel`, `GroupViTTextModel` and `GroupViTVisionModel`."""

    config_class: ClassVar[type] = GroupViTConfig
    # sub-config taken from a full GroupViT config.json, if this class is one tower
    sub_config_name: ClassVar[str | None] = None

    def __init__(self, config: AnyConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}. Received: {type(config).__name__}"
            )
        self.config = config

    # ----- initialization (as the reference port) -------------------------------------------
    def _init_weights(self, module: nn.Module, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        factor = config.initializer_factor
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, mean=0.0, std=config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        if isinstance(module, GroupViTTextEmbeddings):
            nn.init.normal_(module.token_embedding.weight, std=factor * 0.02)
            nn.init.normal_(module.position_embedding.weight, std=factor * 0.02)
        elif isinstance(module, GroupViTAttention):
            in_std = module.embed_dim**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
            for proj in (module.q_proj, module.k_proj, module.v_proj):
                nn.init.normal_(proj.weight, std=in_std)
            nn.init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
        elif isinstance(module, GroupViTMLP):
            in_std = config.hidden_size**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
            nn.init.normal_(module.fc1.weight, std=(2 * config.hidden_size) ** -0.5 * factor)
            nn.init.normal_(module.fc2.weight, std=in_std)

    def _init_tower(self, tower: nn.Module, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        with torch.no_grad():
            for module in tower.modules():
                self._init_weights(module, config)

    # ----- loading and saving ------------------------------------------------------------------
    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        return expected_shapes(self.config)

    def load_weights(self, state: dict[str, Any], source: str = "the given state dict") -> None:
        """Strictly load a state dict (tensors or numpy arrays) keyed as SPEC §3."""
        shapes = self.expected_shapes()
        check_state_dict(state, shapes, source)
        tensors = {
            k: (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v)
            for k, v in state.items()
            if k in shapes
        }
        result = self.load_state_dict(tensors, strict=False)
        leftover = [k for k in result.missing_keys if not k.endswith(OPTIONAL_BUFFER_SUFFIXES)]
        if leftover or result.unexpected_keys:
            raise ValueError(f"Internal key mismatch. Received: missing={leftover}, unexpected={result.unexpected_keys}")

    @classmethod
    def _config_from_dict(cls, config_dict: dict[str, Any]) -> AnyConfig:
        if cls.sub_config_name is not None and config_dict.get("model_type") == GroupViTConfig.model_type:
            # a full config.json: legacy *_config_dict keys are merged by the top config first
            return getattr(GroupViTConfig.from_dict(config_dict), cls.sub_config_name)
        return cls.config_class._from_file_dict(config_dict)

    @classmethod
    def _select_weights(cls, state: dict[str, Any], config: AnyConfig) -> dict[str, Any]:
        """A tower class keeps its part of a full GroupViT checkpoint."""
        if cls.sub_config_name is None:
            return state
        prefix = "text_model." if cls.sub_config_name == "text_config" else "vision_model."
        if any(k.startswith(("visual_projection.", "text_projection.")) for k in state):
            return {k: v for k, v in state.items() if k.startswith(prefix)}
        return state

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, config: AnyConfig | None = None):
        """Load a checkpoint directory (config.json + model.safetensors or pytorch_model.bin)."""
        directory = os.fspath(path)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"from_pretrained needs a checkpoint directory. Received: {directory!r}")
        if config is None:
            config = cls._config_from_dict(_read_config_dict(directory))
        state = cls._select_weights(_read_weights(directory), config)
        model = cls(config)
        model.load_weights(state, source=directory)
        return model.eval()

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write config.json and model.safetensors (each to a temporary file, then renamed)."""
        from safetensors.torch import save_file

        os.makedirs(save_directory, exist_ok=True)
        self.config.save_pretrained(save_directory)
        state = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
        path = os.path.join(save_directory, SAFETENSORS_NAME)
        tmp = path + ".tmp"
        try:
            save_file(state, tmp, metadata={"format": "pt"})
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
