"""The package's one PNG writer (Pillow, atomic)."""

import os

import numpy as np
import pytest
from PIL import Image

from groupvit.png import write_png
from groupvit.segmentation.pictures import save_rgb


@pytest.mark.parametrize("writer", [write_png, save_rgb])
def test_writes_the_exact_pixels_and_leaves_no_temporary_file(tmp_path, writer):
    rgb = np.random.default_rng(0).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    writer(tmp_path / "a.png", rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png").convert("RGB")), rgb)
    assert os.listdir(tmp_path) == ["a.png"]


def test_a_non_rgb_array_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(ValueError, match=r"RGB image \[H, W, 3\]. Received: shape=\(4, 4\)"):
        write_png(tmp_path / "a.png", np.zeros((4, 4), np.uint8))
    assert os.listdir(tmp_path) == []
