"""Tiny datasets for the data-pipeline tests: small PNGs with jsonl, csv or WebDataset tar shards."""

from __future__ import annotations

import csv
import io
import json
import os
import tarfile

import numpy as np
from PIL import Image

CAPTIONS = [
    "a dog on the grass", "two cats on a sofa", "a red car near a house", "a boat on the lake",
    "a bird in a tree", "a man riding a horse", "a plate of food", "a train at the station",
    "children playing football", "a cup of coffee", "snow on the mountain", "a city street at night",
]
NOUNS = [c.split()[1:3] for c in CAPTIONS]


def image_array(index: int) -> np.ndarray:
    """A distinct small RGB image per index (16-40 px, non-square)."""
    rng = np.random.default_rng(index)
    height, width = 16 + (index * 7) % 25, 18 + (index * 5) % 23
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def png_bytes(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image_array(index)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_folder(folder, n: int = 12, kind: str = "jsonl") -> str:
    """n PNGs under folder/images and captions.jsonl or captions.csv; returns the folder."""
    os.makedirs(os.path.join(folder, "images"), exist_ok=True)
    rows = []
    for i in range(n):
        name = f"images/{i:03d}.png"
        with open(os.path.join(folder, name), "wb") as f:
            f.write(png_bytes(i))
        rows.append({"image": name, "caption": CAPTIONS[i % len(CAPTIONS)], "nouns": NOUNS[i % len(NOUNS)]})
    if kind == "jsonl":
        write_jsonl(os.path.join(folder, "captions.jsonl"), rows)
    else:
        with open(os.path.join(folder, "captions.csv"), "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["image", "caption", "nouns"])
            writer.writeheader()
            for i, row in enumerate(rows):  # both CSV noun spellings
                nouns = ";".join(row["nouns"]) if i % 2 else json.dumps(row["nouns"])
                writer.writerow({**row, "nouns": nouns})
    return str(folder)


def write_jsonl(path, rows, extra_lines=()) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
        for line in extra_lines:
            f.write(line + "\n")


def add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_shards(folder, n: int = 12, shards: int = 3, caption_as: str = "txt") -> list[str]:
    """img2dataset-style shards 00000.tar ...; sample i is key f"{i:09d}" with a png and a txt or json."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    per_shard = -(-n // shards)
    for s in range(shards):
        path = os.path.join(folder, f"{s:05d}.tar")
        with tarfile.open(path, "w") as tar:
            for i in range(s * per_shard, min(n, (s + 1) * per_shard)):
                key = f"{i:09d}"
                add_member(tar, f"{key}.png", png_bytes(i))
                caption = CAPTIONS[i % len(CAPTIONS)]
                if caption_as == "txt":
                    add_member(tar, f"{key}.txt", caption.encode())
                else:
                    add_member(tar, f"{key}.json", json.dumps({"caption": caption, "nouns": NOUNS[i]}).encode())
        paths.append(path)
    return paths
