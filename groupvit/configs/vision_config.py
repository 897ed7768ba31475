"""Configuration of the GroupViT vision encoder."""

from __future__ import annotations

from typing import Any

from groupvit.configs._base import ConfigBase


def _pair(value: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        return (value[0], value[1])
    return (value, value)


class GroupViTVisionConfig(ConfigBase):
    """Vision encoder settings; field names and defaults equal the `transformers` port's.

    Stage s has `depths[s]` layers, `num_group_tokens[s]` learned group tokens and
    assigns the image tokens to `num_output_groups[s]` groups (no grouping where the
    stage has no group tokens).
    """

    model_type = "groupvit_vision_model"
    base_config_key = "vision_config"
    _defaults = {
        "hidden_size": 384,
        "intermediate_size": 1536,
        "depths": [6, 3, 3],
        "num_hidden_layers": 12,
        "num_group_tokens": [64, 8, 0],
        "num_output_groups": [64, 8, 8],
        "num_attention_heads": 6,
        "image_size": 224,
        "patch_size": 16,
        "num_channels": 3,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "dropout": 0.0,
        "attention_dropout": 0.0,
        "initializer_range": 0.02,
        "initializer_factor": 1.0,
        "assign_eps": 1.0,
        "assign_mlp_ratio": [0.5, 4],
    }

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in ("depths", "num_group_tokens", "num_output_groups", "assign_mlp_ratio"):
            value = getattr(self, name)
            if isinstance(value, tuple):
                setattr(self, name, list(value))
        if isinstance(self.image_size, tuple):
            self.image_size = list(self.image_size)
        if isinstance(self.patch_size, tuple):
            self.patch_size = list(self.patch_size)
        self.validate()

    hidden_size: int
    intermediate_size: int
    depths: list[int]
    num_hidden_layers: int
    num_group_tokens: list[int]
    num_output_groups: list[int]
    num_attention_heads: int
    image_size: int | list[int]
    patch_size: int | list[int]
    num_channels: int
    hidden_act: str
    layer_norm_eps: float
    dropout: float
    attention_dropout: float
    initializer_range: float
    initializer_factor: float
    assign_eps: float
    assign_mlp_ratio: list[float]

    # ----- derived sizes -----------------------------------------------------------------
    @property
    def image_hw(self) -> tuple[int, int]:
        return _pair(self.image_size)

    @property
    def patch_hw(self) -> tuple[int, int]:
        return _pair(self.patch_size)

    @property
    def grid_hw(self) -> tuple[int, int]:
        """Patch grid (rows, columns) of the position table."""
        (h, w), (ph, pw) = self.image_hw, self.patch_hw
        return (h // ph, w // pw)

    @property
    def num_patches(self) -> int:
        gh, gw = self.grid_hw
        return gh * gw

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def grouping_stages(self) -> list[int]:
        """Indices of the stages that assign tokens to groups."""
        return [s for s, g in enumerate(self.num_group_tokens) if g > 0]

    @property
    def assign_mlp_dims(self) -> tuple[int, int]:
        """(tokens_dim, channels_dim) of every TokenAssign block."""
        ratio = self.assign_mlp_ratio
        if not isinstance(ratio, (list, tuple)):
            ratio = [ratio, ratio]
        return int(ratio[0] * self.hidden_size), int(ratio[1] * self.hidden_size)

    def prev_group_tokens(self, stage: int) -> int:
        """Group tokens the projector of `stage` mixes (0 where there is no projector)."""
        if stage == 0 or self.num_group_tokens[stage] == 0:
            return 0
        return self.num_output_groups[stage - 1]

    # ----- validation ----------------------------------------------------------------------
    def validate(self) -> None:
        self._check_flags()
        self._check_positive("hidden_size", "intermediate_size", "num_attention_heads", "num_channels")
        self._check_heads()
        self._check_activation()
        self._check_non_negative_float("layer_norm_eps", "assign_eps")
        self._check_probability("dropout", "attention_dropout")
        self._validate_sizes()
        self._validate_stages()
        ratio = self.assign_mlp_ratio
        ratios = ratio if isinstance(ratio, list) else [ratio, ratio]
        if len(ratios) != 2 or any(isinstance(r, bool) or not isinstance(r, (int, float)) for r in ratios):
            raise ValueError(
                f"{self._ctx()}assign_mlp_ratio must be a number or a pair of numbers. "
                f"Received: assign_mlp_ratio={ratio!r}"
            )
        if min(self.assign_mlp_dims) <= 0:
            raise ValueError(
                f"{self._ctx()}assign_mlp_ratio times hidden_size must give positive widths. "
                f"Received: assign_mlp_ratio={ratio!r}, hidden_size={self.hidden_size}"
            )

    def _validate_sizes(self) -> None:
        for name in ("image_size", "patch_size"):
            value = getattr(self, name)
            items = value if isinstance(value, list) else [value]
            if len(items) not in (1, 2) or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in items):
                raise ValueError(
                    f"{self._ctx()}{name} must be a positive integer or a pair of them. Received: {name}={value!r}"
                )
        # A size that is not a multiple of the patch floors the grid (the patch convolution drops the rest),
        # as both transformers ports do; at least one patch must fit.
        (h, w), (ph, pw) = self.image_hw, self.patch_hw
        if h < ph or w < pw:
            raise ValueError(
                f"{self._ctx()}image_size must hold at least one patch. "
                f"Received: image_size={self.image_size!r}, patch_size={self.patch_size!r}"
            )

    def _validate_stages(self) -> None:
        lists = {n: getattr(self, n) for n in ("depths", "num_group_tokens", "num_output_groups")}
        for name, value in lists.items():
            if not isinstance(value, list) or not value:
                raise ValueError(
                    f"{self._ctx()}{name} must be a non-empty list of integers. Received: {name}={value!r}"
                )
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
                raise ValueError(f"{self._ctx()}{name} must hold non-negative integers. Received: {name}={value!r}")
        if len({len(v) for v in lists.values()}) != 1:
            raise ValueError(
                f"{self._ctx()}depths, num_group_tokens and num_output_groups must have the same length "
                f"(one entry per stage). Received: depths={self.depths}, num_group_tokens={self.num_group_tokens}, "
                f"num_output_groups={self.num_output_groups}"
            )
        groups, outputs = self.num_group_tokens, self.num_output_groups
        for s in range(len(groups)):
            if groups[s] > 0 and outputs[s] <= 0:
                raise ValueError(
                    f"{self._ctx()}a stage with group tokens must have output groups. "
                    f"Received: num_group_tokens[{s}]={groups[s]}, num_output_groups[{s}]={outputs[s]}"
                )
            if s == 0:
                continue
            # (a grouping stage may follow a plain one when num_output_groups[s - 1] == 0: it has no projector)
            if groups[s] > 0 and groups[s - 1] != outputs[s - 1]:
                raise ValueError(
                    f"{self._ctx()}stage {s} projects the previous stage's group tokens as if there were "
                    f"num_output_groups[{s - 1}] of them, so num_group_tokens[{s - 1}] == num_output_groups[{s - 1}] "
                    f"must hold. Received: num_group_tokens[{s - 1}]={groups[s - 1]}, "
                    f"num_output_groups[{s - 1}]={outputs[s - 1]}"
                )
