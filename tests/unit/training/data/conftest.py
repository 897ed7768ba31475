import pytest
from data_helpers import CAPTIONS, write_folder

from groupvit.training.data import train_clip_tokenizer


@pytest.fixture
def jsonl_folder(tmp_path):
    return write_folder(tmp_path / "jsonl", 12, "jsonl")


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trained_tokenizer")
    train_clip_tokenizer(CAPTIONS * 3, 600, folder)
    return str(folder)
