"""`ItemProgress`: a tqdm progress bar on stderr for loops over images (silent for a single item)."""

from __future__ import annotations

import sys
from typing import TextIO


class ItemProgress:
    """Call `step(name)` after each item; `close()` ends the bar. Silent when `total` < 2."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        from tqdm import tqdm

        self.total = int(total)
        self.done = 0
        stream = stream if stream is not None else sys.stderr  # looked up now: tests swap sys.stderr
        self._bar = tqdm(total=self.total, desc=label, unit="image", file=stream, disable=self.total < 2,
                         dynamic_ncols=True, leave=True)

    def step(self, name: str = "") -> None:
        self.done += 1
        self._bar.set_postfix_str(name[:30], refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()
