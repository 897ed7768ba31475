"""Loading every image mode and the two transforms, against numpy computations."""

import json

import numpy as np
import pytest

import PIL  # noqa: F401 - on purpose: this test needs Pillow (it used to importorskip it)
from PIL import Image  # noqa: E402

from groupvit import images  # noqa: E402


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(9, 13, 3), dtype=np.uint8)


def _save(tmp_path, image, name="x.png", **kw):
    path = tmp_path / name
    image.save(path, **kw)
    return str(path)


def test_rgb_roundtrip(tmp_path, rgb):
    np.testing.assert_array_equal(images.load_rgb(_save(tmp_path, Image.fromarray(rgb))), rgb)


def test_rgba_composited_on_white(tmp_path, rgb):
    alpha = np.random.default_rng(1).integers(0, 256, size=rgb.shape[:2], dtype=np.uint8)
    rgba = np.dstack([rgb, alpha])
    loaded = images.load_rgb(_save(tmp_path, Image.fromarray(rgba, "RGBA")))
    a = alpha[..., None].astype(np.float64) / 255
    expected = rgb * a + 255 * (1 - a)
    assert np.abs(loaded.astype(np.float64) - expected).max() <= 1.0  # Pillow rounds the blend


def test_grey_and_palette(tmp_path, rgb):
    grey = rgb[..., 0]
    np.testing.assert_array_equal(images.load_rgb(_save(tmp_path, Image.fromarray(grey, "L"))),
                                  np.repeat(grey[..., None], 3, axis=2))
    palette_image = Image.fromarray(rgb).quantize(colors=16)
    indices = np.asarray(palette_image)
    table = np.array(palette_image.getpalette()[: 3 * 256]).reshape(-1, 3)
    np.testing.assert_array_equal(images.load_rgb(_save(tmp_path, palette_image, "p.png")), table[indices])


def test_sixteen_bit_grey_scales_to_eight(tmp_path):
    values = np.array([[0, 257, 65535], [1000, 30000, 65280]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode == "I;16"
    path = _save(tmp_path, image)
    loaded = images.load_rgb(path)
    expected = np.round(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    np.testing.assert_array_equal(loaded, np.repeat(expected[..., None], 3, axis=2))


def test_cmyk_loads_as_rgb(tmp_path, rgb):
    loaded = images.load_rgb(_save(tmp_path, Image.fromarray(rgb).convert("CMYK"), "c.jpg", quality=100))
    assert loaded.shape == rgb.shape and loaded.dtype == np.uint8


def test_exif_orientation_applied(tmp_path, rgb):
    image = Image.fromarray(rgb)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(tmp_path, image, "r.png", exif=exif.tobytes())
    np.testing.assert_array_equal(images.load_rgb(path), np.rot90(rgb, k=-1))


def test_not_an_image_names_the_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    with pytest.raises(ValueError, match="notes.png"):
        images.load_rgb(str(path))
    with pytest.raises(FileNotFoundError):
        images.load_rgb(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="notes.png"):  # the header check, before any decoding
        images.check_image_file(str(path))
    with pytest.raises(FileNotFoundError):
        images.check_image_file(str(tmp_path / "missing.png"))


def test_header_check_passes_an_image_without_decoding_it(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "ok.png")
    images.check_image_file(str(tmp_path / "ok.png"))


@pytest.mark.parametrize("short_side", [0, -5])
def test_a_short_side_below_one_pixel_is_refused(rgb, short_side):
    message = rf"short_side must be a size in pixels >= 1. Received: short_side={short_side}"
    with pytest.raises(ValueError, match=message):
        images.segmentation_preprocess(rgb, short_side=short_side)


def _numpy_resize_crop_normalize(image, size_hw, crop_hw, mean, std, scale, resample):
    method = getattr(Image.Resampling, resample.upper())
    resized = np.asarray(Image.fromarray(image).resize(size_hw[::-1], method)).astype(np.float32)
    top, left = (size_hw[0] - crop_hw[0]) // 2, (size_hw[1] - crop_hw[1]) // 2
    crop = resized[top:top + crop_hw[0], left:left + crop_hw[1]]
    return ((crop * scale - np.array(mean, np.float32)) / np.array(std, np.float32)).transpose(2, 0, 1)[None]


def test_clip_preprocess_matches_numpy(rgb):
    out = images.clip_preprocess(rgb, 6, 6)
    assert out.shape == (1, 3, 6, 6) and out.dtype == np.float32
    # 9 x 13 -> shorter side 6 -> 6 x 9 (8.67 rounds to 9), centre crop 6 x 6
    expected = _numpy_resize_crop_normalize(rgb, (6, 9), (6, 6), images.CLIP_MEAN, images.CLIP_STD, 1 / 255, "bicubic")
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_clip_preprocess_from_preprocessor_config(tmp_path, rgb):
    config = {"size": {"shortest_edge": 8}, "crop_size": {"height": 7, "width": 7}, "image_mean": [0.5, 0.5, 0.5],
              "image_std": [0.25, 0.25, 0.25], "rescale_factor": 0.00392156862745098, "resample": 2}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    out = images.clip_preprocess_from_config(rgb, str(tmp_path))
    expected = _numpy_resize_crop_normalize(rgb, (8, 12), (7, 7), [0.5] * 3, [0.25] * 3, 1 / 255, "bilinear")
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_segmentation_preprocess_imagenet_stats(rgb):
    out = images.segmentation_preprocess(rgb, short_side=18)
    assert out.shape == (1, 3, 18, 26)  # 13 * 2 = 26
    resized = np.asarray(Image.fromarray(rgb).resize((26, 18), Image.Resampling.BILINEAR)).astype(np.float32)
    expected = ((resized - np.array(images.IMAGENET_MEAN_255, np.float32)) /
                np.array(images.IMAGENET_STD_255, np.float32)).transpose(2, 0, 1)[None]
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)


def test_an_image_over_pillows_pixel_limit_is_a_clear_error(tmp_path, monkeypatch, rgb):
    """Pillow refuses a decompression bomb with its own exception class, which is none of OSError / ValueError:
    `segment` and `evaluate` ended in a traceback (a 48 KB PNG declaring 20000 x 20000 pixels)."""
    path = tmp_path / "bomb.png"
    Image.fromarray(rgb).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", rgb.shape[0] * rgb.shape[1] // 3)  # over twice the limit
    for read in (images.load_rgb, images.check_image_file):
        with pytest.raises(ValueError, match="readable image.*exceeds limit"):
            read(path)


def test_a_short_side_that_would_make_a_giant_image_is_refused_before_resizing(rgb):
    """`--short-side 100000` on an 80 x 64 image asked for 125000 x 100000 pixels (22.7 GB before it failed)."""
    with pytest.raises(ValueError, match="would be .* pixels, over Pillow's limit .* short_side=100000"):
        images.segmentation_preprocess(rgb, short_side=100000)
    assert images.segmentation_preprocess(rgb, short_side=18).shape == (1, 3, 18, 26)
