"""`ItemProgress`: a one-line "done/total" progress bar on stderr for loops over images."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ItemProgress:
    """Call `step(name)` after each item; `close()` ends the line. Silent when `total` < 2."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.label, self.width = int(total), label, width
        self.stream = stream if stream is not None else sys.stderr  # looked up now: tests swap sys.stderr
        self.done = 0
        self.start = time.perf_counter()

    def step(self, name: str = "") -> None:
        self.done += 1
        if self.total < 2:
            return
        filled = self.width * self.done // self.total
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} ({rate:.2f}/s) {name[:30]:30s}")
        self.stream.flush()

    def close(self) -> None:
        if self.total >= 2:
            self.stream.write("\n")
            self.stream.flush()
