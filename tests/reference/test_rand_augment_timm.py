"""Our RandAugment against timm 0.4.12's (the authors' pinned version), fed the same random stream.

timm draws from the global `random` / `numpy.random`; here its module's `random` and `np` are replaced by shims
that read one numpy generator, and ours reads a copy of it. Equal images mean the same operations, probabilities,
magnitude noise, signs, arguments and Pillow calls, in the same order. timm is loaded from its file alone: its
package imports torchvision, which this environment does not have.
"""

import importlib.util
import pathlib
import types

import numpy as np
import pytest
from PIL import Image

from groupvit.training.data.augment import FILL, AugmentConfig, augment_image
from groupvit.training.data.rand_augment import (
    INCREASING_OPERATIONS, OPERATIONS, apply_operation, parse_policy, rand_augment,
)


def _load_timm_auto_augment():
    spec = importlib.util.find_spec("timm")
    if spec is None:
        pytest.fail("timm==0.4.12 is the reference of this test: pip install --no-deps timm==0.4.12")
    path = pathlib.Path(spec.submodule_search_locations[0]) / "data" / "auto_augment.py"
    module_spec = importlib.util.spec_from_file_location("timm_auto_augment_reference", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


TIMM = _load_timm_auto_augment()


def _old_pillow_posterize(image, bits):
    """Pillow < 10 (what timm 0.4.12 ran on): a lookup table of `i & mask`; 0 bits kept gives black. Pillow 10+
    raises for 0 bits, which RandAugment reaches at magnitude 10 of "PosterizeIncreasing" (clipped noise)."""
    mask = ~(2 ** (8 - bits) - 1)
    return image.point([i & mask for i in range(256)] * len(image.getbands()))


@pytest.fixture(autouse=True)
def _timm_on_old_pillow_posterize(monkeypatch):
    from PIL import ImageOps

    public = {name: getattr(ImageOps, name) for name in dir(ImageOps) if not name.startswith("_")}
    shim = types.SimpleNamespace(**public)
    shim.posterize = _old_pillow_posterize
    monkeypatch.setattr(TIMM, "ImageOps", shim)
HPARAMS = {"translate_const": int(32 * 0.45), "img_mean": FILL, "interpolation": Image.BILINEAR}


def _picture(seed=0, size=32):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size // 4, size // 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(base).resize((size, size), Image.BICUBIC))  # smooth and noisy parts


def _shim(monkeypatch, generator):
    def choice(a, size, replace=True, p=None):
        return [a[i] for i in generator.choice(len(a), size, replace=replace, p=p)]

    fake_random = types.SimpleNamespace(random=generator.random, gauss=lambda mu, sigma: generator.normal(mu, sigma),
                                        uniform=generator.uniform)
    monkeypatch.setattr(TIMM, "random", fake_random)
    monkeypatch.setattr(TIMM, "np", types.SimpleNamespace(random=types.SimpleNamespace(choice=choice)))


@pytest.mark.parametrize("name", sorted(set(OPERATIONS + INCREASING_OPERATIONS)))
def test_each_operation_equals_timms(monkeypatch, name):
    image = Image.fromarray(_picture(1))
    for magnitude in (0.0, 3.7, 9.0, 9.6, 10.0):
        for draw in (0.2, 0.8):  # timm negates a signed argument when random() > 0.5
            monkeypatch.setattr(TIMM, "random", types.SimpleNamespace(random=lambda: draw))
            theirs = TIMM.AugmentOp(name, prob=1.0, magnitude=magnitude, hparams=HPARAMS)(image)
            ours = apply_operation(image, name, magnitude, draw > 0.5, FILL, Image.BILINEAR)
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), err_msg=f"{name} m={magnitude}")


@pytest.mark.parametrize("policy", ["rand-m9-mstd0.5-inc1", "rand-m9-mstd0.5", "rand-m7-n3", "rand-m9-mstd0.5-inc1-w0"])
def test_whole_policy_equals_timms_on_the_same_stream(monkeypatch, policy):
    theirs_transform = TIMM.rand_augment_transform(policy, dict(HPARAMS))
    ours_policy = parse_policy(policy)
    assert [op.aug_fn.__name__ for op in theirs_transform.ops] == [
        TIMM.NAME_TO_OP[name].__name__ for name in ours_policy.operations]
    assert theirs_transform.num_layers == ours_policy.num_layers
    assert theirs_transform.ops[0].magnitude == ours_policy.magnitude
    assert theirs_transform.ops[0].magnitude_std == ours_policy.magnitude_std
    changed = 0
    for seed in range(60):
        image = _picture(seed)
        _shim(monkeypatch, np.random.default_rng(seed))
        theirs = np.asarray(theirs_transform(Image.fromarray(image)))
        ours = rand_augment(image, ours_policy, np.random.default_rng(seed), FILL, "bilinear")
        np.testing.assert_array_equal(ours, theirs, err_msg=f"{policy}, seed {seed}")
        changed += not np.array_equal(ours, image)
    assert changed >= 20  # the stream did exercise operations, not only skips


def test_bilinear_crop_then_policy_is_timms_pipeline_order(monkeypatch):
    """Crop (bilinear) -> flip -> RandAugment, as timm's transforms_imagenet_train with the authors' settings."""
    config = AugmentConfig(image_size=24, rand_augment="rand-m9-mstd0.5-inc1", interpolation="bilinear")
    image = _picture(5, size=40)
    generator = np.random.default_rng(11)
    out = augment_image(image, config, np.random.default_rng(11))
    from groupvit.training.data.augment import RandomResizedCrop, normalize

    crop = RandomResizedCrop(24, config.scale, config.ratio, "bilinear")
    top, left, h, w = crop.get_params(40, 40, generator)
    box = Image.fromarray(np.ascontiguousarray(image[top:top + h, left:left + w])).resize((24, 24), Image.BILINEAR)
    if generator.random() < 0.5:
        box = box.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    _shim(monkeypatch, generator)
    expected = TIMM.rand_augment_transform("rand-m9-mstd0.5-inc1", dict(HPARAMS))(box)
    np.testing.assert_array_equal(out, normalize(np.asarray(expected)))
