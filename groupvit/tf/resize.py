"""PyTorch's `F.interpolate` (bicubic / bilinear, align_corners=False) as separable numpy matrices.

TensorFlow's own bicubic uses the Keys kernel with a=-0.5 and antialiasing options that do
not match PyTorch, so the matrices are built here from static sizes and applied with matmuls.
"""

from __future__ import annotations

import numpy as np

CUBIC_A = -0.75  # PyTorch's Keys kernel parameter


def _cubic_weights(t: float) -> tuple[float, float, float, float]:
    """Weights of the taps at offsets -1, 0, 1, 2 for a fractional position t in [0, 1)."""
    a = CUBIC_A

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a

    return far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)


def bicubic_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] float32 matrix M with `out = M @ in` along one axis."""
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        src = scale * (i + 0.5) - 0.5  # half-pixel source coordinate, not clamped for cubic
        base = int(np.floor(src))
        for offset, weight in zip(range(-1, 3), _cubic_weights(src - base)):
            matrix[i, min(max(base + offset, 0), in_size - 1)] += weight
    return matrix.astype(np.float32)


def bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """[out_size, in_size] float32 matrix of bilinear resizing, half-pixel centres, no antialias."""
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    for i in range(out_size):
        src = max(scale * (i + 0.5) - 0.5, 0.0)
        low = int(np.floor(src))
        high = low + 1 if low < in_size - 1 else low
        frac = src - low
        matrix[i, low] += 1.0 - frac
        matrix[i, high] += frac
    return matrix.astype(np.float32)
