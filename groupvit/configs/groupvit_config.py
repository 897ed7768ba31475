"""Configuration of the whole GroupViT model (text + vision + projection heads)."""

from __future__ import annotations

import copy
from typing import Any

from groupvit.configs._base import ConfigBase
from groupvit.configs.text_config import GroupViTTextConfig
from groupvit.configs.vision_config import GroupViTVisionConfig


def _sub_config(value: Any, cls: type, name: str):
    if value is None:
        return cls()
    if isinstance(value, cls):
        return copy.deepcopy(value)
    if isinstance(value, dict):
        return cls.from_dict(value)
    raise TypeError(f"{name} must be a {cls.__name__} or a dict. Received: {name} of type {type(value).__name__}")


class GroupViTConfig(ConfigBase):
    """Top-level config: a text config, a vision config and the projection heads.

    Accepts the port's keyword arguments (`text_config=` and `vision_config=` as dicts
    or config objects) and the legacy `text_config_dict` / `vision_config_dict` keys of
    config.json files written by old `transformers` releases, whose values win.
    """

    model_type = "groupvit"
    _defaults = {
        "projection_dim": 256,
        "projection_intermediate_dim": 4096,
        "logit_scale_init_value": 2.6592,
        "initializer_range": 0.02,
        "initializer_factor": 1.0,
        "output_segmentation": False,
    }

    def __init__(
        self,
        text_config: GroupViTTextConfig | dict | None = None,
        vision_config: GroupViTVisionConfig | dict | None = None,
        **kwargs: Any,
    ) -> None:
        text_legacy = kwargs.pop("text_config_dict", None)
        vision_legacy = kwargs.pop("vision_config_dict", None)
        text_config = _merge_legacy(text_config, text_legacy, GroupViTTextConfig)
        vision_config = _merge_legacy(vision_config, vision_legacy, GroupViTVisionConfig)
        super().__init__(**kwargs)
        self.text_config: GroupViTTextConfig = _sub_config(text_config, GroupViTTextConfig, "text_config")
        self.vision_config: GroupViTVisionConfig = _sub_config(vision_config, GroupViTVisionConfig, "vision_config")
        self.validate()

    projection_dim: int
    projection_intermediate_dim: int
    logit_scale_init_value: float
    initializer_range: float
    initializer_factor: float
    output_segmentation: bool

    @classmethod
    def from_text_vision_configs(
        cls, text_config: GroupViTTextConfig, vision_config: GroupViTVisionConfig, **kwargs: Any
    ) -> "GroupViTConfig":
        """Build the top config from a text and a vision config (as the port's classmethod)."""
        return cls(text_config=text_config.to_dict(), vision_config=vision_config.to_dict(), **kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["text_config"] = self.text_config.to_dict()
        out["vision_config"] = self.vision_config.to_dict()
        return out

    def validate(self) -> None:
        self._check_flags("output_segmentation")
        self._check_positive("projection_dim", "projection_intermediate_dim")
        if isinstance(self.logit_scale_init_value, bool) or not isinstance(self.logit_scale_init_value, (int, float)):
            raise ValueError(
                f"{self._ctx()}logit_scale_init_value must be a number. "
                f"Received: logit_scale_init_value={self.logit_scale_init_value!r}"
            )


def _merge_legacy(config: Any, legacy: dict | None, tower: type) -> Any:
    """Old config.json files carry `*_config_dict`; as in the ports, the tower config it describes in full (its
    keys over the tower's defaults) overrides `*_config`: a key the dict leaves out takes its default, not
    `*_config`'s value."""
    if legacy is None:
        return config
    if not isinstance(legacy, dict):
        raise TypeError(f"text_config_dict / vision_config_dict must be dicts. Received: {type(legacy).__name__}")
    if config is None:
        base: dict = {}
    elif isinstance(config, dict):
        base = copy.deepcopy(config)
    else:
        base = config.to_dict()
    base.update(tower(**copy.deepcopy(legacy)).to_dict())
    for name in ("return_dict", "output_attentions", "output_hidden_states"):  # the ports' full dict resets
        if name not in legacy:                                                  # these too (to their defaults)
            base.pop(name, None)
    return base
