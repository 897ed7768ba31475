"""WebDataset tar shards as img2dataset writes them: `KEY.jpg` (or jpeg/png/webp) beside `KEY.txt`
(the caption) and/or `KEY.json` (a `caption` field, optional `nouns`).

Indexing reads tar headers only and records where each image's bytes lie, so listing a shard
costs a few reads per sample and the image is read later, by whichever process decodes it.
"""

from __future__ import annotations

import json
import os
import tarfile
from typing import Iterator, Sequence

import numpy as np

from groupvit.training.data.skips import SkipCounter
from groupvit.training.data.sources import IMAGE_EXTENSIONS, SampleError, SampleRef, Source, parse_nouns, \
    usable_caption

_BLOCK = 512  # tar block size; an intact archive ends with zero blocks


def index_members(shard: str) -> tuple[list[tuple[str, int, int]], bool]:
    """`([(member name, data offset, size)], intact)` from the headers; members before any damage are kept."""
    file_size = os.path.getsize(shard)
    members: list[tuple[str, int, int]] = []
    try:
        with tarfile.open(shard, mode="r:") as tar:
            while (info := tar.next()) is not None:
                if info.offset_data + info.size > file_size:  # its data was cut off
                    return members, False
                if info.isfile():
                    members.append((info.name, info.offset_data, info.size))
            end = tar.offset
    except (tarfile.TarError, OSError, EOFError):
        return members, False
    # tarfile ends quietly at a cut header or at end of file, so check the end-of-archive block.
    with open(shard, "rb") as f:
        f.seek(end)
        block = f.read(_BLOCK)
    return members, len(block) == _BLOCK and not any(block)


def _split_name(name: str) -> tuple[str, str]:
    """WebDataset grouping: the key is the name up to the first dot of the basename."""
    folder, base = os.path.split(name)
    stem, _, extension = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension.lower()


class TarShardSource(Source):
    """Samples of WebDataset shards; each epoch visits the shards in an order shuffled by its seed."""

    def __init__(self, path: str, shards: Sequence[str], skips: SkipCounter | None = None):
        if not shards:
            raise ValueError(f"A tar source needs at least one shard. Received: shards=[], path={path!r}")
        super().__init__(path, skips)
        self.shards = list(shards)
        missing = [shard for shard in self.shards if not os.path.isfile(shard)]
        if missing:  # counted as "missing_shard" when an epoch reaches them; said once, up front, here
            import warnings

            shown = ", ".join(repr(m) for m in missing[:3]) + (", ..." if len(missing) > 3 else "")
            warnings.warn(f"{len(missing)} of the {len(self.shards)} shards of {path!r} do not exist and are "
                          f"skipped: {shown}", stacklevel=2)

    def refs(self, epoch_seed: int, skips: SkipCounter | None = None) -> Iterator[SampleRef]:
        skips = self.skips if skips is None else skips
        for index in np.random.default_rng(epoch_seed).permutation(len(self.shards)):
            yield from self.shard_refs(self.shards[int(index)], skips)

    def shard_refs(self, shard: str, skips: SkipCounter) -> Iterator[SampleRef]:
        """The usable samples of one shard, in member order."""
        if not os.path.isfile(shard):
            skips.count("missing_shard")
            return
        members, intact = index_members(shard)
        if not intact:
            skips.count("truncated_shard")
        groups: dict[str, dict[str, tuple[str, int, int]]] = {}
        for name, offset, size in members:
            key, extension = _split_name(name)
            groups.setdefault(key, {})[extension] = (name, offset, size)
        with open(shard, "rb") as f:
            for key, group in groups.items():
                ref = self._ref(shard, key, group, f, skips)
                if ref is not None:
                    yield ref

    def _ref(self, shard: str, key: str, group: dict, f, skips: SkipCounter) -> SampleRef | None:
        image = next((group[e] for e in IMAGE_EXTENSIONS if e in group), None)
        if image is None:
            skips.count("no_image_member")
            return None
        meta: dict = {}
        if "json" in group:
            try:
                meta = json.loads(_read(f, *group["json"][1:]))
            except ValueError:
                meta = None
            if not isinstance(meta, dict):
                skips.count("bad_json")
                return None
        caption = meta.get("caption")
        try:
            nouns = parse_nouns(meta.get("nouns"))
        except ValueError:
            skips.count("bad_nouns")
            return None
        if "txt" in group:
            try:
                caption = _read(f, *group["txt"][1:]).decode("utf-8")
            except UnicodeDecodeError:
                skips.count("bad_utf8")
                return None
        if caption is None:
            skips.count("missing_caption")
            return None
        caption = usable_caption(caption)
        if caption is None:
            skips.count("empty_caption")
            return None
        name, offset, size = image
        return SampleRef(key=key, caption=caption, nouns=nouns, path=shard, member=name,
                         offset=offset, size=size)

    def read_bytes(self, ref: SampleRef) -> bytes:
        try:
            with open(ref.path, "rb") as f:
                data = _read(f, ref.offset, ref.size)
        except OSError as err:
            raise SampleError("missing_image", f"The shard must be readable. Received: shard={ref.path!r}") from err
        if len(data) != ref.size:
            raise SampleError("unreadable_image", f"The tar member must be complete. Received: key={ref.key!r}, "
                                                  f"{len(data)} of {ref.size} bytes in {ref.path!r}")
        return data


def _read(f, offset: int, size: int) -> bytes:
    f.seek(offset)
    return f.read(size)
