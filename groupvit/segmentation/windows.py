"""Sliding-window placement and padding helpers (numpy)."""

from __future__ import annotations

import numpy as np


def window_origins(size: int, window: int, stride: int) -> list[int]:
    """Start offsets along one axis, mmseg's rule: the last window ends at the border."""
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be positive. Received: window={window}, stride={stride}")
    count = max(size - window + stride - 1, 0) // stride + 1
    return sorted({max(min(i * stride + window, size) - window, 0) for i in range(count)})


def nearest_resize(labels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Integer map [h, w] -> [height, width], nearest neighbour at half-pixel centres."""
    h, w = labels.shape
    rows = np.minimum(((np.arange(height) + 0.5) * h / height).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(width) + 0.5) * w / width).astype(np.int64), w - 1)
    return labels[rows][:, cols]
