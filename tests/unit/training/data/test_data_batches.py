import json

import numpy as np
import pytest
from data_helpers import write_folder, write_shards

from groupvit.tokenizer import load_tokenizer
from groupvit.training.data import AugmentConfig, TrainBatches, open_source

AUGMENT = AugmentConfig(image_size=20, color_jitter=0.4, random_erasing=0.25)
CONTEXT = 12


def _batches(folder, tokenizer_dir, **kwargs):
    settings = dict(source=open_source(folder), tokenizer=load_tokenizer(tokenizer_dir), augment=AUGMENT,
                    global_batch=4, rank=0, world_size=1, seed=11, context_length=CONTEXT, multi_label_k=3,
                    shuffle_buffer=6, num_workers=0)
    return TrainBatches(**{**settings, **kwargs})


def _take(batches, steps):
    with batches:
        iterator = iter(batches)
        return [next(iterator) for _ in range(steps)]


def test_batch_arrays_have_fixed_shapes_and_dtypes(tmp_path, tokenizer_dir):
    folder = write_folder(tmp_path, 12)
    batch = _take(_batches(folder, tokenizer_dir), 1)[0]
    assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
        "pixel_values": ((4, 3, 20, 20), np.float32), "input_ids": ((4, CONTEXT), np.int64),
        "attention_mask": ((4, CONTEXT), np.int64), "prompt_ids": ((4, 3, CONTEXT), np.int64),
        "prompt_mask": ((4, 3, CONTEXT), np.int64), "positions": ((4,), np.int64)}
    tokenizer = load_tokenizer(tokenizer_dir)
    assert (batch["input_ids"][:, 0] == tokenizer.start_id).all()
    assert (batch["input_ids"][batch["attention_mask"] == 0] == tokenizer.pad_id).all()
    assert batch["prompt_mask"].sum(-1).min() >= 3  # start, at least one word, end
    np.testing.assert_array_equal(batch["positions"], [0, 1, 2, 3])


def test_without_multi_label_there_are_no_prompts_and_no_nouns_needed(tmp_path, tokenizer_dir):
    write_shards(tmp_path, 12, 2)  # txt captions: no nouns field
    batch = _take(_batches(str(tmp_path), tokenizer_dir, multi_label_k=0), 1)[0]
    assert set(batch) == {"pixel_values", "input_ids", "attention_mask", "positions"}


def test_loader_processes_give_the_same_batches(tmp_path, tokenizer_dir):
    folder = write_folder(tmp_path, 12)
    (tmp_path / "images" / "005.png").write_bytes(b"corrupt")
    inline = _batches(folder, tokenizer_dir)
    expected = _take(inline, 4)
    pooled = _batches(folder, tokenizer_dir, num_workers=2)
    got = _take(pooled, 4)
    for a, b in zip(expected, got):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert pooled.skips.as_dict() == inline.skips.as_dict() == {"unreadable_image": 2}  # once per epoch
    assert pooled.state() == inline.state()


def test_state_and_restore_are_forwarded(tmp_path, tokenizer_dir):
    folder = write_folder(tmp_path, 12)
    full = _take(_batches(folder, tokenizer_dir, world_size=2, rank=1), 4)
    first = _batches(folder, tokenizer_dir, world_size=2, rank=1)
    _take(first, 2)
    resumed = _batches(folder, tokenizer_dir, world_size=2, rank=1)
    resumed.restore(json.loads(json.dumps(first.state())))
    for a, b in zip(full[2:], _take(resumed, 2)):
        np.testing.assert_array_equal(a["pixel_values"], b["pixel_values"])
        np.testing.assert_array_equal(a["prompt_ids"], b["prompt_ids"])
    assert resumed.num_samples() == 12 and resumed.local_batch == 2


def test_a_dataset_without_nouns_or_nltk_fails_naming_its_missing_nouns_skips(tmp_path, tokenizer_dir, monkeypatch):
    import sys

    from groupvit.training.data import nouns

    monkeypatch.setitem(sys.modules, "nltk", None)
    nouns._nltk.cache_clear()
    write_shards(tmp_path, 4, 1)
    try:
        with pytest.raises(ValueError, match="in a row failed, skips={'missing_nouns'"):
            _take(_batches(str(tmp_path), tokenizer_dir), 1)
    finally:
        nouns._nltk.cache_clear()


def test_noun_ids_name_each_prompts_noun_and_every_noun_of_the_image(tmp_path, tokenizer_dir):
    from groupvit.training.data.batches import NOUN_SLOTS, TrainSample
    from groupvit.training.data.nouns import noun_id
    from groupvit.training.data.sources import SampleRef

    folder = write_folder(tmp_path, 12)
    plain = _take(_batches(folder, tokenizer_dir), 2)
    with_ids = _take(_batches(folder, tokenizer_dir, noun_ids=True), 2)
    for a, b in zip(plain, with_ids):
        np.testing.assert_array_equal(a["prompt_ids"], b["prompt_ids"])  # the same draws as without ids
        assert b["prompt_nouns"].shape == (4, 3) and b["image_nouns"].shape == (4, NOUN_SLOTS)
        for row in range(4):
            held = set(b["image_nouns"][row][b["image_nouns"][row] >= 0])
            assert held and set(b["prompt_nouns"][row][b["prompt_nouns"][row] >= 0]) <= held

    ref = SampleRef(key="x", caption="a red star and a dog", nouns=("star", "dog", "star"), path="x.png")
    image = np.zeros((24, 24, 3), np.uint8)
    _, prompts, prompt_nouns, image_nouns = TrainSample(AUGMENT, 3)(image, ref, np.random.default_rng(0))
    assert image_nouns == [noun_id("star"), noun_id("dog")]
    assert sorted(prompt_nouns) == sorted([noun_id("star"), noun_id("dog"), -1])
    for prompt, noun in zip(prompts, prompt_nouns):  # each prompt holds its noun; the padding is the caption
        assert prompt == ref.caption if noun == -1 else ("star" if noun == noun_id("star") else "dog") in prompt


def test_a_template_of_ones_own_makes_the_prompts():
    """`--prompt-templates "{}"`: the multi-label prompts are the bare nouns; "a {} shape" fills the phrase."""
    from groupvit.training.data.batches import TrainSample
    from groupvit.training.data.nouns import noun_id
    from groupvit.training.data.sources import SampleRef

    ref = SampleRef(key="x", caption="a red star and a dog", nouns=("star", "dog"), path="x.png")
    image = np.zeros((24, 24, 3), np.uint8)
    for template, expected in (("{}", {"star", "dog"}), ("a {} shape", {"a star shape", "a dog shape"})):
        _, prompts, prompt_nouns, _ = TrainSample(AUGMENT, 2, templates=(template,))(image, ref,
                                                                                    np.random.default_rng(0))
        assert set(prompts) == expected
        assert sorted(prompt_nouns) == sorted([noun_id("star"), noun_id("dog")])
