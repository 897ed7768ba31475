"""Which parameters get weight decay (the authors' groups), by PyTorch name and shape."""

from __future__ import annotations

from typing import Sequence


def decays(name: str, shape: Sequence[int]) -> bool:
    """False for 0-D and 1-D parameters (biases, norm scales, logit scales), as the authors."""
    return len(tuple(shape)) > 1 and not name.endswith(".bias")
