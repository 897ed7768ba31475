"""Images in a folder with a caption file: captions.jsonl or captions.csv (columns image, caption, nouns)."""

from __future__ import annotations

import csv
import json
import os
import re
from typing import Any, Iterator

from groupvit.training.data.skips import SkipCounter
from groupvit.training.data.sources import SampleError, SampleRef, Source, parse_nouns, usable_caption


_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, kept by surrogateescape


class CaptionFileSource(Source):
    """Rows `{"image": "relative/path.png", "caption": "...", "nouns": [...]}` of a .jsonl or .csv file;
    image paths are relative to the caption file's folder. Rows come in file order."""

    def __init__(self, path: str, skips: SkipCounter | None = None):
        if not path.endswith((".jsonl", ".csv")):
            raise ValueError(f"The caption file must be .jsonl or .csv. Received: path={path!r}")
        super().__init__(path, skips)
        self.root = os.path.dirname(os.path.abspath(path))

    def _rows(self, skips: SkipCounter) -> Iterator[tuple[int, Any]]:
        if self.path.endswith(".csv"):
            # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first column's name
            # surrogateescape: a row with bytes that are not UTF-8 is found and skipped (refs), not altered
            with open(self.path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames is None or not {"image", "caption"} <= set(reader.fieldnames):
                    raise ValueError(f"captions.csv must have the columns image and caption. "
                                     f"Received: columns={reader.fieldnames}, path={self.path!r}")
                yield from enumerate(reader)
            return
        # Bytes, so that one line of bad UTF-8 is one skipped row rather than a failed epoch.
        with open(self.path, "rb") as f:
            for number, line in enumerate(f):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line)
                except ValueError:
                    skips.count("bad_json")

    def refs(self, epoch_seed: int, skips: SkipCounter | None = None) -> Iterator[SampleRef]:
        # The order is the file's; the stream's shuffle buffer does the shuffling.
        skips = self.skips if skips is None else skips
        for number, row in self._rows(skips):
            if not isinstance(row, dict) or not isinstance(row.get("image"), (str, type(None))):
                skips.count("bad_json")
                continue
            if any(isinstance(v, str) and _UNDECODED.search(v) for v in row.values()):
                skips.count("bad_utf8")  # a .csv row (a .jsonl line of bad UTF-8 fails as JSON: bad_json)
                continue
            caption = row.get("caption")
            if caption is None:
                skips.count("missing_caption")
                continue
            caption = usable_caption(caption)
            if caption is None:
                skips.count("empty_caption")
                continue
            try:
                nouns = parse_nouns(row.get("nouns"))
            except ValueError:
                skips.count("bad_nouns")
                continue
            image = row.get("image") or ""
            path = os.path.join(self.root, image)
            if not image or not os.path.isfile(path):
                skips.count("missing_image")
                continue
            yield SampleRef(key=f"{number}:{image}", caption=caption, nouns=nouns, path=path)

    def read_bytes(self, ref: SampleRef) -> bytes:
        try:
            with open(ref.path, "rb") as f:
                return f.read()
        except OSError as err:  # deleted or unreadable since it was listed
            raise SampleError("missing_image", f"The image file must be readable. Received: path={ref.path!r}") from err
