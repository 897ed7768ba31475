import functools

import pytest
from seg_helpers import write_tiny_tokenizer

from groupvit.images import segmentation_preprocess
from groupvit.random_checkpoint import random_weights
from tiny_configs import tiny_config


@pytest.fixture(scope="session")
def tiny_setup():
    config = tiny_config("three_stage")
    return config, random_weights(config, 0)


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    write_tiny_tokenizer(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_tokenizer(tokenizer_dir, tiny_setup):
    from groupvit.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer_dir, tiny_setup[0].text_config.max_position_embeddings)


@pytest.fixture(scope="session")
def pt_model(tiny_setup):
    from groupvit.pt import GroupViTModel

    config, weights = tiny_setup
    model = GroupViTModel(config)
    model.load_weights(weights)
    return model.eval()


@pytest.fixture(scope="session")
def tf_model(tiny_setup):
    from groupvit.tf import TFGroupViTModel

    config, weights = tiny_setup
    model = TFGroupViTModel(config)
    model.assign_numpy(weights)
    return model


@pytest.fixture(scope="session")
def small_transform():
    """Shorter side 30 = the tiny config's image size (patch 3)."""
    return functools.partial(segmentation_preprocess, short_side=30)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tiny_setup):
    from groupvit.weights_bridge import save_checkpoint

    folder = tmp_path_factory.mktemp("checkpoint")
    save_checkpoint(tiny_setup[0], tiny_setup[1], folder)
    write_tiny_tokenizer(folder)
    return str(folder)
