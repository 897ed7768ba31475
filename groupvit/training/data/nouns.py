"""Nouns of a caption and the multi-label prompts built from them (docs/training.md, multi-label loss).

Nouns come from the data's `nouns` field when it has one, else from nltk's part-of-speech
tagger (optional: it needs nltk and two of its data packages, which are not always installed).
"""

from __future__ import annotations

import functools
import zlib
from typing import Sequence

import numpy as np

from groupvit.segmentation.templates import IMAGENET_TEMPLATES

# The authors' tag set (NVlabs/GroupViT datasets/builder.py): nouns and every verb form; no NNPS.
NOUN_TAGS = frozenset({"NN", "NNS", "NNP", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ"})
NLTK_HELP = ("give each sample a `nouns` field in the data, or install nltk and its data: "
             "pip install nltk && python -m nltk.downloader averaged_perceptron_tagger_eng punkt_tab")


@functools.lru_cache(maxsize=1)
def _nltk():
    """nltk when it and its tagger + tokenizer data work (probed once per process), else None."""
    try:
        import nltk

        nltk.pos_tag(nltk.word_tokenize("a dog on the grass"))
    except (ImportError, LookupError):
        return None
    return nltk


class NounsUnavailable(ValueError):
    """A caption without a `nouns` field where nltk (or its data) is missing."""


def nltk_available() -> bool:
    """Whether captions without a `nouns` field can be tagged here."""
    return _nltk() is not None


def extract_nouns(caption: str, nouns: Sequence[str] | None = None) -> list[str]:
    """The given `nouns` (the data's field), else the words nltk tags NN, NNS, NNP or VB* in `caption`."""
    if nouns is not None:
        return [str(n) for n in nouns]
    nltk = _nltk()
    if nltk is None:
        raise NounsUnavailable(f"Extracting nouns needs a `nouns` field or nltk: {NLTK_HELP}. "
                         f"Received: caption={caption!r} without nouns, nltk or its data missing")
    return [word for word, tag in nltk.pos_tag(nltk.word_tokenize(caption)) if tag in NOUN_TAGS]


def noun_id(noun: str) -> int:
    """A stable non-negative id of a noun (its CRC-32), the same in every process and run."""
    return zlib.crc32(noun.strip().lower().encode("utf-8")) & 0x7FFFFFFF


def multi_label_prompts(caption: str, nouns: Sequence[str], k: int, rng: np.random.Generator,
                        templates: Sequence[str] = IMAGENET_TEMPLATES) -> list[str]:
    """Exactly k prompts: up to k distinct nouns drawn without replacement, each in a random template,
    padded with the raw caption when there are fewer than k nouns (the authors' rule)."""
    return prompts_and_nouns(caption, nouns, k, rng, templates)[0]


def prompts_and_nouns(caption: str, nouns: Sequence[str], k: int, rng: np.random.Generator,
                      templates: Sequence[str] = IMAGENET_TEMPLATES) -> tuple[list[str], list[str | None]]:
    """`multi_label_prompts` and the noun of each prompt (None for a caption padding the list)."""
    if k < 0:
        raise ValueError(f"k must be >= 0. Received: k={k}")
    if not templates:
        raise ValueError("templates must hold at least one template. Received: templates=()")
    distinct = list(dict.fromkeys(n for n in nouns if n))
    chosen = rng.choice(len(distinct), size=min(k, len(distinct)), replace=False).tolist() if distinct else []
    prompts = [templates[int(rng.integers(len(templates)))].format(distinct[i]) for i in chosen]
    padding = k - len(prompts)
    return prompts + [caption] * padding, [distinct[i] for i in chosen] + [None] * padding
