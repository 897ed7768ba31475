"""GroupViT in PyTorch. Never imports TensorFlow or Keras."""

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.groupvit_model import GroupViTModel
from groupvit.pt.pretrained import GroupViTPreTrainedModel
from groupvit.pt.text_model import GroupViTTextModel
from groupvit.pt.vision_model import GroupViTVisionModel

__all__ = [
    "GroupViTConfig",
    "GroupViTModel",
    "GroupViTPreTrainedModel",
    "GroupViTTextConfig",
    "GroupViTTextModel",
    "GroupViTVisionConfig",
    "GroupViTVisionModel",
]
