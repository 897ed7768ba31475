import os

import pytest

from bridge_helpers import random_weights
from tiny_configs import tiny_config
from groupvit.weights_bridge import save_checkpoint

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def config():
    return tiny_config()


@pytest.fixture
def weights(config):
    return random_weights(config, seed=0)


@pytest.fixture
def checkpoint_dir(tmp_path, config, weights):
    """A tiny safetensors checkpoint directory with a tokenizer file beside it."""
    path = tmp_path / "ckpt"
    save_checkpoint(config, weights, path)
    (path / "tokenizer_config.json").write_text('{"model_max_length": 16}\n')
    return path
