"""A tiny captioned dataset whose captions can be learnt (colour words of solid-colour pictures)."""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 60, 220), "yellow": (230, 220, 40)}


def write_colour_dataset(folder, n: int = 16, size: int = 30, seed: int = 0) -> str:
    """n PNGs of one dominant colour with light noise, captions.jsonl naming it ("a red picture")."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    names = list(COLOURS)
    with open(os.path.join(folder, "captions.jsonl"), "w", encoding="utf-8") as f:
        for i in range(n):
            colour = names[i % len(names)]
            pixels = np.clip(np.array(COLOURS[colour]) + rng.normal(0, 20, (size, size, 3)), 0, 255)
            name = f"images/{i:03d}.png"
            Image.fromarray(pixels.astype(np.uint8)).save(os.path.join(folder, name))
            f.write(json.dumps({"image": name, "caption": f"a {colour} picture", "nouns": [colour, "picture"]}) + "\n")
    return str(folder)


def tiny_train_config(path, vocab_size: int = 700) -> str:
    """config.json of a tiny two-grouping-stage model with room for a trained tokenizer."""
    from tiny_configs import tiny_config

    config = tiny_config("two_grouping", text=dict(vocab_size=vocab_size, max_position_embeddings=12))
    with open(path, "w", encoding="utf-8") as f:
        f.write(config.to_json_string())
    return str(path)


def with_listing_skips(data, folder) -> str:
    """A copy of the dataset `data` in `folder` with three samples the listing skips, spread over the listing (a
    broken JSON line first, a missing image in the middle, an empty caption last): every rank lists them alike, so
    the global batches stay one process's. The shuffle buffer reads the whole listing before its first ref, so an
    epoch's listing skips are counted by the rank whose rows hold the epoch's first position."""
    import shutil

    shutil.copytree(data, folder)
    path = os.path.join(folder, "captions.jsonl")
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    middle = len(lines) // 2
    lines = (["{broken json\n"] + lines[:middle]
             + [json.dumps({"image": "images/none.png", "caption": "a red picture", "nouns": ["red"]}) + "\n"]
             + lines[middle:] + [json.dumps({"image": "images/003.png", "caption": "  ", "nouns": ["red"]}) + "\n"])
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)
    return str(folder)
