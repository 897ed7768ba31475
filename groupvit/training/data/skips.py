"""Counting the samples a data pipeline skips, by reason, instead of crashing on them."""

from __future__ import annotations


# Reasons only a source's listing counts (an unreadable or vanished image is found when decoding).
LISTING_ONLY_REASONS = frozenset({"bad_json", "bad_nouns", "bad_utf8", "empty_caption", "missing_caption",
                                  "missing_shard", "no_image_member", "truncated_shard"})


class SkipCounter:
    """How many samples were skipped, per short stable reason ("empty_caption", "missing_image", ...).

    A source counts what its listing skips here (when `refs` is given no other counter); a training stream
    counts into its source's counter each listing skip with the ref that follows it, when it consumes that ref,
    and each sample that fails to decode: once per run, by the rank that reads that position.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def count(self, reason: str, n: int = 1) -> None:
        if not reason or not isinstance(reason, str):
            raise ValueError(f"A skip reason must be a non-empty string. Received: reason={reason!r}")
        self._counts[reason] = self._counts.get(reason, 0) + int(n)

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


def sum_counts(counts: list[dict[str, int]]) -> dict[str, int]:
    """The run's skipped samples by reason: the sum of the ranks' counts (each skip is counted by one rank, the
    one that consumes its position; `groupvit.training.data.stream`)."""
    total: dict[str, int] = {}
    for rank_counts in counts:
        for reason, n in rank_counts.items():
            total[reason] = total.get(reason, 0) + n
    return dict(sorted(total.items()))
