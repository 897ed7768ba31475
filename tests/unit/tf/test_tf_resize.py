"""The numpy resize matrices against a loop-form transcription of PyTorch's formulas."""

import math

import numpy as np
import pytest

from groupvit.tf.resize import bicubic_matrix, bilinear_matrix


def cubic_kernel(x: float, a: float = -0.75) -> float:
    x = abs(x)
    if x <= 1:
        return (a + 2) * x**3 - (a + 3) * x**2 + 1
    if x < 2:
        return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
    return 0.0


def reference_bicubic(signal: np.ndarray, out_size: int) -> np.ndarray:
    """upsample_bicubic2d, align_corners=False, along one axis: taps clamped at the border."""
    n = len(signal)
    out = np.zeros(out_size)
    for i in range(out_size):
        src = (i + 0.5) * n / out_size - 0.5
        x0 = math.floor(src)
        t = src - x0
        for k in (-1, 0, 1, 2):
            out[i] += cubic_kernel(t - k) * signal[min(max(x0 + k, 0), n - 1)]
    return out


def reference_bilinear(signal: np.ndarray, out_size: int) -> np.ndarray:
    """upsample_bilinear2d, align_corners=False: source clamped at 0, right tap clamped."""
    n = len(signal)
    out = np.zeros(out_size)
    for i in range(out_size):
        src = max((i + 0.5) * n / out_size - 0.5, 0.0)
        x0 = int(src)
        x1 = min(x0 + 1, n - 1)
        lam = src - x0
        out[i] = (1 - lam) * signal[x0] + lam * signal[x1]
    return out


SIZES = [(4, 4), (4, 7), (7, 4), (10, 13), (5, 1), (1, 3), (3, 16), (16, 5)]


@pytest.mark.parametrize("in_size,out_size", SIZES)
def test_bicubic_matrix_matches_loop_reference(in_size, out_size):
    rng = np.random.default_rng(in_size * 31 + out_size)
    for _ in range(3):
        signal = rng.standard_normal(in_size)
        np.testing.assert_allclose(
            bicubic_matrix(in_size, out_size) @ signal, reference_bicubic(signal, out_size), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("in_size,out_size", SIZES)
def test_bilinear_matrix_matches_loop_reference(in_size, out_size):
    rng = np.random.default_rng(in_size * 17 + out_size)
    for _ in range(3):
        signal = rng.standard_normal(in_size)
        np.testing.assert_allclose(
            bilinear_matrix(in_size, out_size) @ signal, reference_bilinear(signal, out_size), rtol=1e-5, atol=1e-6
        )


def test_bicubic_to_same_size_is_identity():
    np.testing.assert_array_equal(bicubic_matrix(6, 6), np.eye(6, dtype=np.float32))


def test_rows_sum_to_one():
    np.testing.assert_allclose(bicubic_matrix(5, 11).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(bilinear_matrix(5, 11).sum(1), 1.0, rtol=1e-6)
