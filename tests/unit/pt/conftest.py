import pytest
import torch
from pt_helpers import randomize

from groupvit.pt import GroupViTModel
from tiny_configs import tiny_config


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return randomize(GroupViTModel(tiny_config())).eval()
