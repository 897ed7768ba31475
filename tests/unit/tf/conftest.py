"""Fixtures of the Keras tests (helpers live in tf_helpers.py: conftest module names clash across folders)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
from tf_helpers import randomize  # noqa: E402

from groupvit.tf import TFGroupViTModel  # noqa: E402
from tiny_configs import tiny_config  # noqa: E402


@pytest.fixture(scope="session")
def three_stage():
    """(config, randomized TFGroupViTModel) shared by read-only tests."""
    config = tiny_config("three_stage")
    return config, randomize(TFGroupViTModel(config))
