"""Counting the samples a data pipeline skips, by reason, instead of crashing on them."""

from __future__ import annotations


class SkipCounter:
    """How many samples were skipped, per short stable reason ("empty_caption", "missing_image", ...).

    One counter is shared by a source and the stream that reads it. Listing-time skips are
    counted each time an epoch is listed; decoding-time skips by the rank that decodes the sample.
    """

    def __init__(self, parent: SkipCounter | None = None) -> None:
        self._counts: dict[str, int] = {}
        self._parent = parent  # also counts every skip counted here (an epoch's listing -> the run's total)

    def count(self, reason: str, n: int = 1) -> None:
        if not reason or not isinstance(reason, str):
            raise ValueError(f"A skip reason must be a non-empty string. Received: reason={reason!r}")
        self._counts[reason] = self._counts.get(reason, 0) + int(n)
        if self._parent is not None:
            self._parent.count(reason, n)

    def restore(self, counts: dict[str, int]) -> None:
        """Continue from counts saved with `as_dict()` (a resumed run)."""
        if not all(isinstance(k, str) and k and int(v) >= 0 for k, v in counts.items()):
            raise ValueError(f"Skip counts must map reasons to counts >= 0. Received: {counts!r}")
        self._counts = {k: int(v) for k, v in counts.items() if int(v)}

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def __repr__(self) -> str:
        return f"SkipCounter({self.as_dict()})"
