"""The weight bridge's `keras` format (`model.weights.h5`, written by our Keras model's `save_weights`).

It needs our Keras model, which the bridge never imports: `groupvit.tf` registers these two functions
with `groupvit.weights_bridge.formats` when it is imported.
"""

from __future__ import annotations

import os

import numpy as np

from groupvit.configs import GroupViTConfig
from groupvit.weights_bridge.strict import check_weights


def write_keras_weights(config: GroupViTConfig, weights: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """A Keras 3 `model.weights.h5` written by our `TFGroupViTModel.save_weights`."""
    from groupvit.tf.groupvit_model import TFGroupViTModel

    model = TFGroupViTModel(config)
    model.assign_numpy(check_weights(config, weights, "the weights to write", fill_optional=True))
    model.save_weights(os.fspath(path))


def read_keras_weights(path: str | os.PathLike, config: GroupViTConfig) -> dict[str, np.ndarray]:
    """Canonical weights of a Keras 3 `model.weights.h5` of our `TFGroupViTModel`."""
    from groupvit.tf.groupvit_model import TFGroupViTModel

    model = TFGroupViTModel(config)
    model.load_weights(os.fspath(path))
    return check_weights(config, dict(model.to_numpy()), os.fspath(path), fill_optional=True)
