"""Shared helpers of the segmentation tests: a tiny BPE tokenizer written to disk, tiny models."""

from __future__ import annotations

import json
import os
import string

import numpy as np

START_ID, END_ID = 97, 98  # the tiny text config's bos/eos ids
MERGES = [("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>"), ("g", "r"), ("gr", "a"), ("gra", "s"),
          ("gras", "s</w>")]


def tiny_vocab() -> dict[str, int]:
    """Letters, letters ending a word, a few merges, '.', and the CLIP specials at 97 / 98 (< vocab_size 99)."""
    vocab: dict[str, int] = {}
    for c in string.ascii_lowercase:
        vocab[c] = len(vocab) + 2
    for c in string.ascii_lowercase:
        vocab[c + "</w>"] = len(vocab) + 2
    for a, b in MERGES:
        vocab[a + b] = len(vocab) + 2
    for symbol in (".", ".</w>", ";</w>"):
        vocab[symbol] = len(vocab) + 2
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = START_ID, END_ID
    assert max(vocab.values()) < 99 and len(set(vocab.values())) == len(vocab)
    return vocab


def write_tiny_tokenizer(folder: str | os.PathLike) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tiny_vocab(), f)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in MERGES) + "\n")


def sample_image(height: int = 40, width: int = 52) -> np.ndarray:
    from groupvit.random_checkpoint import example_image

    return example_image(height, width)


def near_ties(scores: np.ndarray, margin: float = 1e-5) -> np.ndarray:
    """True where the top-two channels of [K, H, W] scores are within `margin`."""
    top2 = np.sort(scores, axis=0)[-2:]
    return (top2[1] - top2[0]) <= margin
