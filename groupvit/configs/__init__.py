"""Config classes shared by both backends. Imports no framework."""

from groupvit.configs._base import CONFIG_NAME, SUPPORTED_ACTIVATIONS, call_flags
from groupvit.configs.groupvit_config import GroupViTConfig
from groupvit.configs.text_config import GroupViTTextConfig
from groupvit.configs.vision_config import GroupViTVisionConfig

__all__ = [
    "CONFIG_NAME",
    "SUPPORTED_ACTIVATIONS",
    "GroupViTConfig",
    "GroupViTTextConfig",
    "GroupViTVisionConfig",
    "call_flags",
]
