"""Our tokenizer against the original CLIP tokenizer (OpenAI's `simple_tokenizer.py`, as packaged in
`clip-anytorch`, with its own 49408-token BPE file) on texts that need CLIP's cleaning: HTML
entities, mojibake, curly quotes, emoji, CJK, digits, full-width letters, control characters and
over-long text. The reference module is loaded from its file, so its package's torch/torchvision
imports never run; it needs `ftfy` and `regex` (the segmentation tox env installs them)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import warnings

import pytest

import groupvit.tokenizer as tokenizer_module
from groupvit.tokenizer import clean_text, load_tokenizer

TEXTS = [
    "a photo of a cat.",
    "fish &amp; chips",
    "&amp;lt;b&amp;gt;bold&amp;lt;/b&amp;gt;",  # escaped twice
    "Tom &#39;n&#39; Jerry &quot;live&quot; &hearts;",
    "cafÃ© au lait",  # mojibake of "café"
    "â€œquotedâ€\x9d words",
    "it’s a dog’s life",
    "“curly” and ‘single’ quotes",
    "a dog 🐶 on the grass 👍🏽",
    "猫の写真",
    "한국어 텍스트 and 中文",
    "in 2024 there were 1,000,000 cats and 3.14 dogs",
    "ＦＵＬＬ　ｗｉｄｔｈ ｔｅｘｔ",
    "ﬁsh ﬂowers",  # ligatures
    "tabs\tand\nnew\r\nlines   and\u00a0nbsp\u2003em space",
    "file\x1cseparator\x1fcontrols\x07bell",
    "İstanbul ĞÜŞ Ærøskøbing",
    "e\u0301 combining accent vs é",
    "x\u0345y \u0345 \u0399\u0345 a\u0345b \u03b1\u0345",  # the reference drops a lone U+0345 and splits there
    "DON'T SHOUT, I'LL HEAR YOU'RE HERE",
    "<html> tags & ampersands < 3",
    "   ",
    "",
    " ".join(f"word{i} with many tokens" for i in range(60)),  # far over 77 tokens
]


@pytest.fixture(scope="module")
def reference():
    spec = importlib.util.find_spec("clip")
    assert spec is not None and spec.submodule_search_locations, (
        "The reference tokenizer comes from clip-anytorch: pip install --no-deps clip-anytorch==2.6.0 ftfy regex"
    )
    folder = list(spec.submodule_search_locations)[0]
    module_spec = importlib.util.spec_from_file_location("clip_simple_tokenizer",
                                                         os.path.join(folder, "simple_tokenizer.py"))
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module, module.SimpleTokenizer()


@pytest.fixture(scope="module")
def clip_vocab_dir(reference, tmp_path_factory):
    """vocab.json + merges.txt written from the reference's own BPE file (as transformers lays them out)."""
    module, ref = reference
    folder = tmp_path_factory.mktemp("clip_vocab")
    (folder / "vocab.json").write_text(json.dumps(ref.encoder), encoding="utf-8")
    with gzip.open(module.default_bpe()) as f:
        lines = f.read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _reference_ids(ref, text: str, max_length: int = 77) -> list[int]:
    """clip.tokenize(text, truncate=True) without its padding."""
    sot, eot = ref.encoder["<|startoftext|>"], ref.encoder["<|endoftext|>"]
    ids = [sot, *ref.encode(text), eot]
    if len(ids) > max_length:
        ids = ids[:max_length]
        ids[-1] = eot
    return ids


@pytest.mark.parametrize("text", TEXTS)
def test_ids_equal_the_original_clip_tokenizer(reference, clip_vocab_dir, text):
    _, ref = reference
    ours = load_tokenizer(clip_vocab_dir)
    assert ours.encode(text) == _reference_ids(ref, text)


def test_cleaning_equals_the_reference_cleaning(reference):
    module, _ = reference
    for text in TEXTS:
        assert clean_text(text) == module.whitespace_clean(module.basic_clean(text)).lower(), text


def test_a_batch_pads_and_masks_like_clip_tokenize(reference, clip_vocab_dir):
    _, ref = reference
    ids, mask = load_tokenizer(clip_vocab_dir)(TEXTS)
    assert ids.shape == (len(TEXTS), 77)
    for row, m, text in zip(ids, mask, TEXTS):
        expected = _reference_ids(ref, text)
        assert row[: len(expected)].tolist() == expected and m.sum() == len(expected)


def test_without_ftfy_a_one_time_warning_names_the_texts_that_may_differ(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ftfy(name, *args, **kwargs):
        if name == "ftfy":
            raise ImportError("no ftfy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ftfy)
    monkeypatch.setattr(tokenizer_module, "_warned_without_ftfy", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert clean_text("Fish &amp; Chips") == "fish & chips"  # ASCII: nothing ftfy would change
    with pytest.warns(UserWarning, match="ftfy is not installed.*non-ASCII"):
        assert clean_text("it’s") == "it’s"  # unrepaired: ftfy would give "it's"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clean_text("cafÃ©")  # only once per process
