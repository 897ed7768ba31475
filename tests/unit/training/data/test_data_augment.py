import numpy as np
import pytest
from data_helpers import image_array

from groupvit.images import IMAGENET_MEAN_255, IMAGENET_STD_255
from groupvit.training.data import AugmentConfig, RandomResizedCrop, augment_image, sample_rng

FULL = AugmentConfig(image_size=24, color_jitter=0.4, random_erasing=0.25)


def test_training_augmentation_is_a_function_of_seed_epoch_and_position():
    image = image_array(3)
    out = augment_image(image, FULL, sample_rng(0, 1, 17))
    assert out.shape == (3, 24, 24) and out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, augment_image(image, FULL, sample_rng(0, 1, 17)))
    for other in [(0, 1, 18), (0, 2, 17), (1, 1, 17)]:
        assert not np.array_equal(out, augment_image(image, FULL, sample_rng(*other)))


def test_each_option_changes_the_result():
    image = image_array(5)
    plain = AugmentConfig(image_size=24, flip=False)
    base = augment_image(image, plain, sample_rng(0, 0, 0))
    flipped = [augment_image(image, AugmentConfig(image_size=24), sample_rng(0, 0, p)) for p in range(8)]
    unflipped = [augment_image(image, plain, sample_rng(0, 0, p)) for p in range(8)]
    assert any(np.array_equal(f, u[:, :, ::-1]) for f, u in zip(flipped, unflipped))
    assert not np.array_equal(base, augment_image(image, AugmentConfig(image_size=24, flip=False, color_jitter=0.4),
                                                  sample_rng(0, 0, 0)))
    erased = [augment_image(image, AugmentConfig(image_size=24, flip=False, random_erasing=1.0), sample_rng(0, 0, p))
              for p in range(4)]
    assert all(not np.array_equal(e, u) for e, u in zip(erased, unflipped[:4]))


def test_random_resized_crop_box_rule():
    crop = RandomResizedCrop(8, scale=(0.08, 1.0))
    for p in range(50):
        top, left, h, w = crop.get_params(30, 40, sample_rng(0, 0, p))
        assert 0 <= top <= 30 - h and 0 <= left <= 40 - w and h > 0 and w > 0
        assert 0.08 * 1200 * 0.8 <= h * w <= 1200
    # A 1 x 40 strip never fits a box of ratio 3/4..4/3 and area >= 50 %: the centre crop, clamped to 4/3.
    assert RandomResizedCrop(8, scale=(0.5, 1.0)).get_params(1, 40, sample_rng(0, 0, 0)) == (0, 19, 1, 1)
    whole = RandomResizedCrop(8, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    assert whole.get_params(20, 20, sample_rng(0, 0, 0)) == (0, 0, 20, 20)


def test_eval_path_is_short_side_resize_and_centre_crop_without_randomness():
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, 10:30] = 200  # the centre square of the 24 x 48 resize
    out = augment_image(image, AugmentConfig(image_size=24), train=False)
    assert out.shape == (3, 24, 24)
    expected = (200 - np.asarray(IMAGENET_MEAN_255, np.float32)) / np.asarray(IMAGENET_STD_255, np.float32)
    np.testing.assert_allclose(out[:, 12, 2:22], np.repeat(expected[:, None], 20, axis=1), atol=0.05)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="uint8 RGB"):
        augment_image(np.zeros((4, 4), np.uint8), FULL, sample_rng(0, 0, 0))
    with pytest.raises(ValueError, match="needs the sample's generator"):
        augment_image(image_array(0), FULL)
    with pytest.raises(ValueError, match="scale must satisfy"):
        AugmentConfig(scale=(0.5, 0.1))


def test_rand_augment_policy_parsing_follows_timms_grammar():
    from groupvit.training.data.rand_augment import INCREASING_OPERATIONS, OPERATIONS, parse_policy

    authors = parse_policy("rand-m9-mstd0.5-inc1")
    assert (authors.magnitude, authors.num_layers, authors.magnitude_std) == (9, 2, 0.5)
    assert authors.operations == INCREASING_OPERATIONS and not authors.weighted
    assert parse_policy("rand-n3-w0").operations == OPERATIONS and parse_policy("rand-n3-w0").weighted
    assert parse_policy("rand").magnitude == 10
    for bad, match in [("augmix-m3", "starts with 'rand'"), ("rand-x3", "not one of"), ("rand-m9.5", "integers"),
                       ("rand-m11", r"magnitude in \[0, 10\]"), ("rand-n0", "n >= 1"), ("rand-w1", "w only 0"),
                       ("rand-n14-w0", "n must be <= 13")]:
        with pytest.raises(ValueError, match=match):
            parse_policy(bad)


def test_rand_augment_is_seeded_and_changes_the_image():
    config = AugmentConfig(image_size=24, flip=False, rand_augment="rand-m9-mstd0.5-inc1")
    plain = AugmentConfig(image_size=24, flip=False)
    image = image_array(7)
    outs = [augment_image(image, config, sample_rng(0, 0, p)) for p in range(12)]
    np.testing.assert_array_equal(outs[3], augment_image(image, config, sample_rng(0, 0, 3)))
    changed = sum(not np.array_equal(o, augment_image(image, plain, sample_rng(0, 0, p))) for p, o in enumerate(outs))
    assert changed >= 4  # each of the 2 operations is applied with probability 1/2


def test_rand_augment_uncovered_pixels_take_the_mean_colour():
    from groupvit.training.data.augment import FILL
    from groupvit.training.data.rand_augment import apply_operation
    from PIL import Image

    picture = Image.fromarray(np.zeros((20, 20, 3), np.uint8))
    moved = np.asarray(apply_operation(picture, "TranslateXRel", 10.0, False, FILL, Image.Resampling.BILINEAR))
    assert FILL == (124, 116, 104)
    np.testing.assert_array_equal(moved[:, -5:], np.broadcast_to(np.asarray(FILL, np.uint8), (20, 5, 3)))
    assert not moved[:, :5].any()
    black = apply_operation(Image.fromarray(image_array(1)), "PosterizeIncreasing", 10.0, False, FILL, 2)
    assert not np.asarray(black).any()  # 0 bits kept, as timm on the Pillow of the authors' time


def test_interpolation_option_reaches_the_crop():
    image = image_array(2)
    bilinear = augment_image(image, AugmentConfig(image_size=24, flip=False, interpolation="bilinear"),
                             sample_rng(0, 0, 1))
    bicubic = augment_image(image, AugmentConfig(image_size=24, flip=False), sample_rng(0, 0, 1))
    assert not np.array_equal(bilinear, bicubic)
    top, left, h, w = RandomResizedCrop(24).get_params(*image.shape[:2], sample_rng(0, 0, 1))
    from PIL import Image

    from groupvit.training.data.augment import normalize
    expected = Image.fromarray(np.ascontiguousarray(image[top:top + h, left:left + w])).resize((24, 24),
                                                                                              Image.BILINEAR)
    np.testing.assert_array_equal(bilinear, normalize(np.asarray(expected)))


def test_rand_augment_settings_are_checked():
    with pytest.raises(ValueError, match="RandAugment or colour jitter, not both"):
        AugmentConfig(rand_augment="rand-m9-mstd0.5-inc1", color_jitter=0.4)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        AugmentConfig(interpolation="lanczos")
    with pytest.raises(ValueError, match="section 'q1'"):
        AugmentConfig(rand_augment="rand-q1")
