import json
import os

import pytest
from data_helpers import CAPTIONS

from groupvit.tokenizer import END_TOKEN, START_TOKEN, load_tokenizer
from groupvit.training.data import save_tokenizer, train_clip_tokenizer


def test_trained_tokenizer_loads_and_wraps_captions(tokenizer_dir):
    tokenizer = load_tokenizer(tokenizer_dir, max_length=16)
    ids = tokenizer.encode("  A DOG on   the grass ")
    assert ids[0] == tokenizer.backend.token_to_id(START_TOKEN) and ids[-1] == tokenizer.backend.token_to_id(END_TOKEN)
    assert tokenizer.pad_id == tokenizer.end_id
    assert tokenizer.backend.decode(ids[1:-1]) == "a dog on the grass"
    assert len(ids) - 2 < len("adogonthegrass") and "the</w>" in tokenizer.backend.get_vocab()  # merges learned
    # Every byte keeps its symbol, at a word end too: nothing unseen is dropped.
    assert tokenizer.backend.decode(tokenizer.encode("zqx ü")[1:-1]) == "zqx ü"
    with open(os.path.join(tokenizer_dir, "special_tokens_map.json"), encoding="utf-8") as f:
        assert json.load(f)["pad_token"] == END_TOKEN


def test_the_vocabulary_size_is_a_ceiling(tmp_path):
    reached = train_clip_tokenizer(CAPTIONS, 530, tmp_path / "small")
    assert reached == 530 == load_tokenizer(tmp_path / "small").backend.get_vocab_size()
    roomy = train_clip_tokenizer(CAPTIONS, 100000, tmp_path / "roomy")
    assert 530 < roomy < 100000
    assert not [n for n in os.listdir(tmp_path / "small") if n.startswith(".tmp")]
    with pytest.raises(ValueError, match="vocab_size must hold"):
        train_clip_tokenizer(CAPTIONS, 300, tmp_path / "tiny")


def test_save_tokenizer_copies_a_loaded_one(tokenizer_dir, tmp_path):
    loaded = load_tokenizer(tokenizer_dir)
    save_tokenizer(loaded, tmp_path / "checkpoint")
    copy = load_tokenizer(tmp_path / "checkpoint")
    caption = "children playing football near the station"
    assert copy.encode(caption) == loaded.encode(caption) and copy.pad_id == loaded.pad_id
