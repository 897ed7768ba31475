"""CLIP conventions of groupvit.tokenizer with a tokenizer built here (no download)."""

import json

import numpy as np
import pytest


from seg_helpers import END_ID, START_ID, tiny_vocab, write_tiny_tokenizer  # noqa: E402

from groupvit.tokenizer import load_tokenizer  # noqa: E402


@pytest.fixture
def vocab():
    return tiny_vocab()


def test_start_end_padding_and_mask(tokenizer_dir, vocab):
    tok = load_tokenizer(tokenizer_dir, 16, pad_id=0)
    ids, mask = tok(["cat", "a dog."])
    assert ids.dtype == np.int64 and mask.dtype == np.int64
    assert ids[0].tolist() == [START_ID, vocab["cat</w>"], END_ID, 0, 0]
    assert ids[1].tolist() == [START_ID, vocab["a</w>"], vocab["dog</w>"], vocab[".</w>"], END_ID]
    assert mask.tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]


def test_lower_case_and_whitespace_cleanup(tokenizer_dir):
    tok = load_tokenizer(tokenizer_dir, 16)
    a, _ = tok(["  A   CAT\n\tGrass "])
    b, _ = tok(["a cat grass"])
    np.testing.assert_array_equal(a, b)


def test_truncation_keeps_end_token(tokenizer_dir):
    tok = load_tokenizer(tokenizer_dir, 6)
    ids, mask = tok(["abcdefghij", "cat"])
    assert ids.shape == (2, 6)
    assert ids[0, 0] == START_ID and ids[0, -1] == END_ID and mask[0].sum() == 6
    assert ids[1, 2] == END_ID


def test_pad_id_from_config_json(tmp_path):
    write_tiny_tokenizer(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"text_config": {"pad_token_id": 1}}))
    ids, _ = load_tokenizer(tmp_path, 16)(["cat", "a dog"])
    assert ids[0, -1] == 1
    ids, _ = load_tokenizer(tmp_path, 16, pad_id=5)(["cat", "a dog"])
    assert ids[0, -1] == 5


def test_tokenizer_json_gives_the_same_ids(tmp_path, tokenizer_dir):
    tok = load_tokenizer(tokenizer_dir, 16)
    tok.backend.save(str(tmp_path / "tokenizer.json"))
    again = load_tokenizer(tmp_path, 16)
    for a, b in zip(tok(["a photo of a cat.", "grass"]), again(["a photo of a cat.", "grass"])):
        np.testing.assert_array_equal(a, b)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        load_tokenizer(tmp_path, 16)


def test_a_literal_special_token_is_dropped_with_either_kind_of_files(tmp_path, tokenizer_dir):
    """README: a literal <|startoftext|> / <|endoftext|> inside a text is dropped. With vocab.json + merges.txt it
    was spelled out in characters (only a tokenizer.json registered the specials)."""
    tok = load_tokenizer(tokenizer_dir, 16)
    tok.backend.save(str(tmp_path / "tokenizer.json"))
    for loaded in (tok, load_tokenizer(tmp_path, 16)):
        assert loaded.encode("a <|endoftext|>cat<|startoftext|>") == loaded.encode("a cat")


def test_pad_id_of_a_legacy_config_is_read_as_the_ports_read_it(tmp_path):
    """text_config_dict wins over text_config as a whole: its pad id, or the default when it names none."""
    from groupvit.configs import GroupViTConfig

    write_tiny_tokenizer(tmp_path)
    for legacy, pad in (({"pad_token_id": 5}, 5), ({"hidden_size": 32}, None)):
        config = {"text_config": {"pad_token_id": 3}, "text_config_dict": legacy}
        (tmp_path / "config.json").write_text(json.dumps(config))
        want = GroupViTConfig.from_dict(config).text_config.pad_token_id
        assert want == (pad if pad is not None else want)
        ids, _ = load_tokenizer(tmp_path, 16)(["cat", "a dog"])
        assert ids[0, -1] == want
