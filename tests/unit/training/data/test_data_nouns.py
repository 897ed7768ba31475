import sys
import types

import numpy as np
import pytest

from groupvit.training.data import extract_nouns, multi_label_prompts, nltk_available
from groupvit.training.data import nouns as nouns_module

TEMPLATES = ("a photo of a {}.", "art of the {}.", "a {} in a video game.")


@pytest.fixture
def fresh_probe():
    nouns_module._nltk.cache_clear()
    yield
    nouns_module._nltk.cache_clear()


def test_prompts_are_exactly_k_distinct_nouns_in_templates():
    rng = np.random.default_rng(0)
    prompts = multi_label_prompts("dogs and cats", ["dog", "cat", "dog", "ball", "tree"], 3, rng, TEMPLATES)
    assert len(prompts) == 3
    noun_of = {t.format(w): w for t in TEMPLATES for w in ("dog", "cat", "ball", "tree")}
    assert len({noun_of[p] for p in prompts}) == 3


def test_prompts_are_padded_with_the_raw_caption():
    caption = "A Dog, on grass!"
    prompts = multi_label_prompts(caption, ["dog"], 3, np.random.default_rng(1), TEMPLATES)
    assert prompts[1:] == [caption, caption] and prompts[0] in {t.format("dog") for t in TEMPLATES}
    assert multi_label_prompts(caption, [], 2, np.random.default_rng(1), TEMPLATES) == [caption, caption]


def test_prompts_follow_the_generator():
    def draw(seed):
        return multi_label_prompts("c", list("abcdefgh"), 3, np.random.default_rng(seed))

    assert draw(5) == draw(5) and any(draw(5) != draw(s) for s in range(6, 10))


def test_given_nouns_win_over_the_tagger():
    assert extract_nouns("anything at all", ("sky", "sea")) == ["sky", "sea"]


def test_without_nouns_or_nltk_the_error_names_both_ways(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "nltk", None)  # import nltk -> ImportError
    assert not nltk_available()
    with pytest.raises(ValueError) as caught:
        extract_nouns("a dog on the grass")
    message = str(caught.value)
    assert "`nouns` field" in message and "pip install nltk" in message
    assert "python -m nltk.downloader averaged_perceptron_tagger_eng punkt_tab" in message


def _fake_nltk(missing_data: bool):
    fake = types.ModuleType("nltk")
    tags = {"dog": "NN", "runs": "VBZ", "cats": "NNS", "Paris": "NNP", "the": "DT", "red": "JJ", "in": "IN"}

    def word_tokenize(text):
        if missing_data:
            raise LookupError("Resource punkt_tab not found.")
        return text.split()

    fake.word_tokenize = word_tokenize
    fake.pos_tag = lambda words: [(w, tags.get(w, "NN")) for w in words]
    return fake


def test_nltk_path_keeps_noun_and_verb_tags(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "nltk", _fake_nltk(missing_data=False))
    assert extract_nouns("the red dog runs in Paris") == ["dog", "runs", "Paris"]


def test_nltk_without_its_data_is_the_same_error(monkeypatch, fresh_probe):
    monkeypatch.setitem(sys.modules, "nltk", _fake_nltk(missing_data=True))
    with pytest.raises(ValueError, match="pip install nltk"):
        extract_nouns("a dog")
