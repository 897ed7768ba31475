"""Where training samples come from: caption files next to images, or WebDataset tar shards.

`open_source(spec)` picks the reader; every reader lists cheap `SampleRef`s (no image bytes)
in a deterministic order and decodes one image on demand. Broken samples are skipped and
counted in the source's `SkipCounter`, never raised, so one bad file cannot stop a run.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from groupvit.tokenizer import token_text
from groupvit.training.data.skips import SkipCounter

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")
CAPTION_FILES = ("captions.jsonl", "captions.csv")


@dataclass(frozen=True)
class SampleRef:
    """One image-caption pair, cheap to hold and to send to a loader process.

    `path` is the image file (caption files) or the tar shard holding it; for tars, `member`,
    `offset` and `size` locate the image bytes inside the shard.
    """

    key: str
    caption: str | None
    nouns: tuple[str, ...] | None
    path: str
    member: str | None = None
    offset: int = -1
    size: int = -1


class SampleError(ValueError):
    """A sample that cannot be used; `reason` is the skip reason to count."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Source:
    """A dataset of image-caption pairs: `refs(epoch_seed)` lists them, `load_image(ref)` decodes one."""

    def __init__(self, path: str, skips: SkipCounter | None = None):
        self.path = path
        self.skips = SkipCounter() if skips is None else skips

    def refs(self, epoch_seed: int, skips: SkipCounter | None = None) -> Iterator[SampleRef]:
        """The usable refs of one epoch in a deterministic order (skips counted in `skips`, default
        the source's own counter)."""
        raise NotImplementedError

    def read_bytes(self, ref: SampleRef) -> bytes:
        raise NotImplementedError

    def load_image(self, ref: SampleRef) -> np.ndarray:
        """uint8 [H, W, 3], EXIF orientation applied; raises `SampleError` for a missing or undecodable image."""
        return decode_image(self.read_bytes(ref), ref.key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


def decode_image(data: bytes, key: str) -> np.ndarray:
    """Image bytes -> uint8 [H, W, 3] through Pillow and `groupvit.images.to_rgb`."""
    from PIL import Image, ImageOps

    from groupvit.images import to_rgb

    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return to_rgb(ImageOps.exif_transpose(opened))
    except Exception as err:  # noqa: BLE001 - Pillow's plugins raise many types on corrupt bytes
        raise SampleError("unreadable_image", f"The image must decode. Received: key={key!r} ({err})") from err


def usable_caption(value: object) -> str | None:
    """The caption trained on (stripped), or None when it is not a string or nothing of it is left after CLIP's
    text cleaning (HTML entities such as "&nbsp;", Unicode spaces and control characters clean to nothing): a
    caption of no tokens."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # Only such texts can clean to nothing (ftfy drops control characters; entities and Unicode spaces go too).
    if ("&" in text or not text.isascii() or not text.isprintable()) and not token_text(text).strip():
        return None
    return text


def parse_nouns(value: object) -> tuple[str, ...] | None:
    """A `nouns` field: a list of strings, a JSON list string or a ';'-separated string (CSV)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        value = json.loads(text) if text.startswith("[") else text.split(";")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"nouns must be a list of strings. Received: nouns={value!r}")
    return tuple(v.strip() for v in value if v.strip())


_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")


def expand_braces(pattern: str) -> list[str]:
    """Shell-style brace expansion: `{00000..00099}` (zero-padded ranges) and `{a,b}` lists, nested or repeated."""
    start = pattern.find("{")
    if start < 0:
        return [pattern]
    depth, cuts = 0, [start]
    for end in range(start, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[end], 0)
        if pattern[end] == "," and depth == 1:
            cuts.append(end)
        if depth == 0:
            break
    else:  # an unclosed brace is literal, as in the shell
        return [pattern]
    head, body, tail = pattern[:start], pattern[start + 1:end], pattern[end + 1:]
    numeric = _RANGE.match(body)
    if numeric:
        first, last = numeric.group(1), numeric.group(2)
        padded = any(len(s.lstrip("-")) > 1 and s.lstrip("-").startswith("0") for s in (first, last))
        width = max(len(first), len(last)) if padded else 0
        step = 1 if int(last) >= int(first) else -1
        options = [str(n).zfill(width) for n in range(int(first), int(last) + step, step)]
    elif len(cuts) > 1:
        options = [pattern[a + 1:b] for a, b in zip(cuts, cuts[1:] + [end])]
    else:  # "{x}" is literal in the shell; keep it so a path with braces still works
        return [pattern[:end + 1] + name for name in expand_braces(tail)]
    return [name for option in options for name in expand_braces(head + option + tail)]


def open_source(spec: str | os.PathLike, skips: SkipCounter | None = None) -> Source:
    """A folder with captions.jsonl / captions.csv, such a file, a .tar shard, a folder of .tar shards,
    or a brace pattern of shards (`shards/{00000..00099}.tar`)."""
    from groupvit.training.data.caption_files import CaptionFileSource
    from groupvit.training.data.tar_shards import TarShardSource

    spec = os.fspath(spec)
    if os.path.isdir(spec):
        found = [os.path.join(spec, n) for n in CAPTION_FILES if os.path.isfile(os.path.join(spec, n))]
        if len(found) > 1:
            raise ValueError(f"A dataset folder must hold one caption file. Received: {found}")
        if found:
            return CaptionFileSource(found[0], skips)
        shards = sorted(os.path.join(spec, n) for n in os.listdir(spec) if n.endswith(".tar"))
        if shards:
            return TarShardSource(spec, shards, skips)
        raise ValueError(
            f"A dataset folder must hold {' or '.join(CAPTION_FILES)} or .tar shards. Received: spec={spec!r}"
        )
    if os.path.isfile(spec) and spec.endswith((".jsonl", ".csv")):
        return CaptionFileSource(spec, skips)
    if spec.endswith(".tar"):
        names = expand_braces(spec)
        if any(os.path.isfile(n) for n in names):
            return TarShardSource(spec, names, skips)
        raise ValueError(f"The shard pattern must match at least one .tar file. Received: spec={spec!r} "
                         f"({len(names)} names, none exists)")
    raise ValueError(
        "The dataset spec must be a folder, a .jsonl/.csv caption file, a .tar shard or a brace pattern "
        f"of shards. Received: spec={spec!r}"
    )
