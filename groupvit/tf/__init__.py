"""GroupViT in Keras 3 on TensorFlow. Never imports torch.

Each public model subclasses `keras.Model`, takes a config object and holds variables
whose names mirror the PyTorch state-dict keys (see `groupvit.tf.weight_names`).
"""

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.tf.groupvit_model import TFGroupViTModel
from groupvit.tf.pretrained import TFGroupViTPreTrainedModel
from groupvit.tf.text_model import TFGroupViTTextModel
from groupvit.tf.vision_model import TFGroupViTVisionModel
from groupvit.tf.keras_weights_file import read_keras_weights, write_keras_weights
from groupvit.weights_bridge.formats import register_keras_io

register_keras_io(read_keras_weights, write_keras_weights)

__all__ = [
    "GroupViTConfig",
    "GroupViTTextConfig",
    "GroupViTVisionConfig",
    "TFGroupViTModel",
    "TFGroupViTPreTrainedModel",
    "TFGroupViTTextModel",
    "TFGroupViTVisionModel",
]
