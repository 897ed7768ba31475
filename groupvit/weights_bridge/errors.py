"""Errors of the weight bridge. Both are `ValueError`s, so the CLI reports them in one line."""

from __future__ import annotations

import os


class CheckpointFormatError(ValueError):
    """A file is not the kind of checkpoint it was read as (foreign, truncated, unsafe)."""

    def __init__(self, path: str | os.PathLike, expected: str, problem: str) -> None:
        self.path = os.fspath(path)
        super().__init__(f"{self.path} must be {expected}. Received: {problem}")


class CheckpointMismatchError(ValueError):
    """A set of weights does not fit the key/shape contract of a config.

    Lists every missing, unexpected and mis-shaped key at once.
    """

    def __init__(
        self,
        source: str,
        missing: list[str],
        unexpected: list[str],
        mis_shaped: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        hint: str = "",
    ) -> None:
        self.source = source
        self.missing = missing
        self.unexpected = unexpected
        self.mis_shaped = mis_shaped
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_preview(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_preview(unexpected)}")
        if mis_shaped:
            shown = [f"{k} (expected {tuple(e)}, received {tuple(r)})" for k, e, r in mis_shaped]
            parts.append(f"mis-shaped {len(mis_shaped)}: {_preview(shown)}")
        message = f"The weights of {source} must match the config's keys and shapes. Received: " + "; ".join(parts)
        if hint:
            message += f". {hint}"
        super().__init__(message)


def _preview(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
