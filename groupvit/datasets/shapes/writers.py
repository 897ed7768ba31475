"""Write the shapes world to disk: caption data for training (jsonl or WebDataset shards) and a
Pascal VOC layout with true masks for `groupvit evaluate`.

All or nothing: a dataset is written into a temporary folder beside OUT and renamed into place at
the end, so OUT either holds a whole dataset or does not exist. Training layouts never hold masks.
Scene i of a seed is the same in every layout, so use different seeds for training and evaluation.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
from PIL import Image

from groupvit.datasets.shapes.captions import name_background
from groupvit.datasets.shapes.classes import ALT_CLASS_NAMES, CLASS_NAMES, OBJECT_CLASSES
from groupvit.datasets.shapes.scene import Scene, check_arguments, make_scene, scene_rng
from groupvit.weights_bridge.atomic import staged_folder

TRAIN_LAYOUTS = ("jsonl", "wds")
SHARD_SIZE = 1000
JPEG_QUALITY = 95
MANIFEST = "shapes.json"


@dataclass
class WriteSummary:
    """What a writer wrote: where, how, and how many objects of each class."""

    out: str
    layout: str
    scenes: int
    seed: int
    size: int
    variant: str
    objects: Counter = field(default_factory=Counter)
    background_nouns: bool = False

    def line(self) -> str:
        counts = ", ".join(f"{name} {self.objects[name]}" for name in OBJECT_CLASSES)
        return (f"{self.scenes} scenes ({self.layout}, {self.size} px, variant {self.variant}, seed {self.seed}) "
                f"in {self.out}; objects: {counts}")

    def manifest(self) -> dict:
        return {"generator": "groupvit.datasets.shapes", "layout": self.layout, "scenes": self.scenes,
                "seed": self.seed, "size": self.size, "variant": self.variant,
                "background_nouns": self.background_nouns, "class_names": list(CLASS_NAMES),
                "objects": {name: self.objects[name] for name in OBJECT_CLASSES}}


def voc_palette() -> list[int]:
    """The Pascal VOC colour map (256 RGB triples, flattened): class i's colour from the bits of i."""
    palette = []
    for index in range(256):
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette += [r, g, b]
    return palette


def check_request(scenes: int, seed: int, size: int, variant: str) -> None:
    """Checked before anything is written, so a bad request leaves no trace."""
    if not isinstance(scenes, (int, np.integer)) or scenes < 1:
        raise ValueError(f"scenes must be a positive integer. Received: scenes={scenes!r}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer. Received: seed={seed!r}")
    check_arguments(size, variant)


def generate(scenes: int, seed: int, size: int, variant: str) -> Iterator[tuple[int, Scene]]:
    """(index, scene) for scenes 0..scenes-1 of `seed`."""
    for index in range(scenes):
        yield index, make_scene(scene_rng(seed, index), size, variant)


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _add_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644  # fixed times: equal seeds give equal bytes
    tar.addfile(info, io.BytesIO(data))


def _write_manifest(folder: str, summary: WriteSummary) -> None:
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(summary.manifest(), f, indent=2)
        f.write("\n")


def write_train(out: str | os.PathLike, scenes: int, seed: int = 0, size: int = 80, variant: str = "default",
                layout: str = "jsonl", shard_size: int = SHARD_SIZE, background_nouns: bool = False) -> WriteSummary:
    """Caption data for `groupvit train`: layout "jsonl" writes images/NNNNNN.png + captions.jsonl
    (image, caption, nouns); layout "wds" writes shards/NNNNN.tar of KEY.png + KEY.json (caption, nouns).
    `background_nouns`: every caption names its background and the background's noun phrase is one of
    the nouns (`name_background`); the images are the same scenes either way."""
    check_request(scenes, seed, size, variant)
    if layout not in TRAIN_LAYOUTS:
        raise ValueError(f"layout must be one of {TRAIN_LAYOUTS}. Received: layout={layout!r}")
    if not isinstance(shard_size, (int, np.integer)) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer. Received: shard_size={shard_size!r}")
    summary = WriteSummary(os.fspath(out), layout, scenes, seed, size, variant, background_nouns=background_nouns)

    def text(index: int, scene: Scene) -> tuple[str, list[str]]:
        if background_nouns:
            return name_background(scene.caption, scene.nouns, scene.background, index)
        return scene.caption, scene.nouns

    with staged_folder(out) as folder:
        if layout == "jsonl":
            os.mkdir(os.path.join(folder, "images"))
            with open(os.path.join(folder, "captions.jsonl"), "w", encoding="utf-8") as captions:
                for index, scene in generate(scenes, seed, size, variant):
                    name = f"images/{index:06d}.png"
                    Image.fromarray(scene.image).save(os.path.join(folder, name), format="PNG")
                    caption, nouns = text(index, scene)
                    captions.write(json.dumps({"image": name, "caption": caption, "nouns": nouns}) + "\n")
                    summary.objects.update(cls for cls, _ in scene.objects)
        else:
            os.mkdir(os.path.join(folder, "shards"))
            tar = None
            try:
                for index, scene in generate(scenes, seed, size, variant):
                    if index % shard_size == 0:
                        if tar is not None:
                            tar.close()
                        tar = tarfile.open(os.path.join(folder, "shards", f"{index // shard_size:05d}.tar"), "w")
                    key = f"{index:09d}"  # img2dataset's key width
                    caption, nouns = text(index, scene)
                    meta = {"key": key, "caption": caption, "nouns": nouns, "width": size, "height": size}
                    _add_member(tar, f"{key}.png", _png(scene.image))
                    _add_member(tar, f"{key}.json", json.dumps(meta).encode("utf-8"))
                    summary.objects.update(cls for cls, _ in scene.objects)
            finally:
                if tar is not None:
                    tar.close()
        _write_manifest(folder, summary)
    return summary


def write_voc(out: str | os.PathLike, scenes: int, seed: int = 0, size: int = 80,
              variant: str = "default") -> WriteSummary:
    """A Pascal VOC layout for `groupvit evaluate`: JPEGImages/ID.jpg, SegmentationClass/ID.png (palette,
    value = class index), ImageSets/Segmentation/val.txt, classes.txt and classes_alt.txt (other words)."""
    check_request(scenes, seed, size, variant)
    summary = WriteSummary(os.fspath(out), "voc", scenes, seed, size, variant)
    palette = voc_palette()
    with staged_folder(out) as folder:
        for sub in ("JPEGImages", "SegmentationClass", os.path.join("ImageSets", "Segmentation")):
            os.makedirs(os.path.join(folder, sub))
        ids = []
        for index, scene in generate(scenes, seed, size, variant):
            image_id = f"{index:06d}"
            ids.append(image_id)
            # No chroma subsampling: at 64-96 px it would smear the colour edges that the masks follow.
            Image.fromarray(scene.image).save(os.path.join(folder, "JPEGImages", f"{image_id}.jpg"),
                                              format="JPEG", quality=JPEG_QUALITY, subsampling=0)
            label = Image.frombytes("P", (size, size), np.ascontiguousarray(scene.mask).tobytes())
            label.putpalette(palette)
            label.save(os.path.join(folder, "SegmentationClass", f"{image_id}.png"), format="PNG")
            summary.objects.update(cls for cls, _ in scene.objects)
        for name, lines in (("ImageSets/Segmentation/val.txt", ids), ("classes.txt", CLASS_NAMES),
                            ("classes_alt.txt", ALT_CLASS_NAMES)):
            with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        _write_manifest(folder, summary)
    return summary
