"""RandAugment as timm 0.4.12 applies it in the authors' training (`rand-m9-mstd0.5-inc1`), on Pillow images.

Written here rather than imported: timm needs torch (the Keras trainer has none), and it draws from the global
`random` and `numpy.random` states, where this pipeline draws every decision from the sample's own generator
(`sample_rng(seed, epoch, position)`), so a sample looks the same on every rank and backend. The operations and
their magnitude rules are timm's (`timm/data/auto_augment.py`); `tests/reference/test_rand_augment_timm.py` runs
them against timm's own.

A policy string: `rand` then dash-separated sections, any order: `m<int>` magnitude (0-10, default 10), `n<int>`
operations per image (default 2), `mstd<float>` standard deviation of the magnitude's noise (default 0), `inc<int>`
the "increasing" operation set when non-zero (timm 0.4.12 reads `inc0` as on too; here it is off), `w0` timm's
operation weights (then drawn without replacement, as timm does).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

import numpy as np

MAX_LEVEL = 10.0
OPERATIONS = ("AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd", "Color",
              "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel")
INCREASING_OPERATIONS = ("AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                         "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
                         "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateXRel",
                         "TranslateYRel")
# timm's `_RAND_CHOICE_WEIGHTS_0`, by position in the operation list (timm indexes it with the plain names).
CHOICE_WEIGHTS_0 = (0.025, 0.005, 0.0, 0.3, 0.0, 0.005, 0.005, 0.025, 0.005, 0.005, 0.025, 0.2, 0.2, 0.1, 0.1)
OP_PROBABILITY = 0.5  # each chosen operation is applied with this probability (timm's RandAugment)
TRANSLATE_PCT = 0.45
# Only these operations draw a sign for their magnitude (timm's `_randomly_negate`).
SIGNED = ("Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel", "ColorIncreasing",
          "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing")


@dataclass(frozen=True)
class RandAugmentPolicy:
    magnitude: float = 10.0
    num_layers: int = 2
    magnitude_std: float = 0.0
    increasing: bool = False
    weighted: bool = False

    @property
    def operations(self) -> tuple[str, ...]:
        return INCREASING_OPERATIONS if self.increasing else OPERATIONS


def parse_policy(text: str) -> RandAugmentPolicy:
    """timm's grammar (`rand-m9-mstd0.5-inc1`); anything else is a ValueError naming the section."""
    if not isinstance(text, str):
        raise ValueError(f"A RandAugment policy is a string such as 'rand-m9-mstd0.5-inc1' (the authors'). "
                         f"Received: {text!r}")
    return _parse_policy(text)


@functools.lru_cache(maxsize=16)  # augment_image reads the policy string of every sample
def _parse_policy(text: str) -> RandAugmentPolicy:
    if text.split("-")[0] != "rand":
        raise ValueError(f"A RandAugment policy starts with 'rand' (e.g. 'rand-m9-mstd0.5-inc1', the authors'). "
                         f"Received: {text!r}")
    fields: dict = {}
    for section in text.split("-")[1:]:
        match = re.fullmatch(r"(mstd|inc|m|n|w)(\d[\d.]*)", section)
        if match is None:
            raise ValueError(f"RandAugment policy section {section!r} of {text!r} is not one of m<int>, n<int>, "
                             "mstd<float>, inc<int>, w0")
        key, value = match.groups()
        try:
            if key == "mstd":
                fields["magnitude_std"] = float(value)
            elif key == "inc":
                fields["increasing"] = bool(int(value))
            elif key == "m":
                fields["magnitude"] = float(int(value))
            elif key == "n":
                fields["num_layers"] = int(value)
            elif int(value) == 0:
                fields["weighted"] = True
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"RandAugment policy section {section!r} of {text!r}: m, n, inc take integers, mstd a "
                             "number, w only 0 (timm's one weight set)") from None
    policy = RandAugmentPolicy(**fields)
    if not 0 <= policy.magnitude <= MAX_LEVEL or policy.num_layers < 1:
        raise ValueError(f"RandAugment needs a magnitude in [0, 10] and n >= 1. Received: {text!r}")
    weighted_choices = sum(w > 0 for w in CHOICE_WEIGHTS_0)
    if policy.weighted and policy.num_layers > weighted_choices:
        raise ValueError(f"With w0 the operations are drawn without replacement from the {weighted_choices} of "
                         f"non-zero weight: n must be <= {weighted_choices}. Received: {text!r}")
    return policy


def level_arguments(name: str, magnitude: float, negate: bool) -> tuple:
    """The operation's argument at `magnitude` (0-10), as timm's `LEVEL_TO_ARG`; `negate` flips signed ones."""
    sign = -1.0 if negate and name in SIGNED else 1.0
    fraction = magnitude / MAX_LEVEL
    if name in ("AutoContrast", "Equalize", "Invert"):
        return ()
    if name == "Rotate":
        return (sign * fraction * 30.0,)
    if name in ("Color", "Contrast", "Brightness", "Sharpness"):
        return (fraction * 1.8 + 0.1,)
    if name.endswith("Increasing") and not name.startswith(("Posterize", "Solarize")):
        return (1.0 + sign * fraction * 0.9,)
    if name in ("ShearX", "ShearY"):
        return (sign * fraction * 0.3,)
    if name in ("TranslateXRel", "TranslateYRel"):
        return (sign * fraction * TRANSLATE_PCT,)
    if name == "Posterize":
        return (int(fraction * 4),)
    if name == "PosterizeIncreasing":
        return (4 - int(fraction * 4),)
    if name == "Solarize":
        return (int(fraction * 256),)
    if name == "SolarizeIncreasing":
        return (256 - int(fraction * 256),)
    if name == "SolarizeAdd":
        return (int(fraction * 110),)
    known = sorted(set(OPERATIONS + INCREASING_OPERATIONS))
    raise ValueError(f"Unknown RandAugment operation {name!r}; known: {known}")


def apply_operation(picture, name: str, magnitude: float, negate: bool, fill: tuple[int, int, int],
                    resample: int):
    """One operation on an RGB Pillow image (timm's `NAME_TO_OP` with its `fillcolor` / `resample`)."""
    from PIL import Image, ImageEnhance, ImageOps

    args = level_arguments(name, magnitude, negate)
    geometric = {"fillcolor": fill, "resample": resample}
    base = name[: -len("Increasing")] if name.endswith("Increasing") else name
    if base == "AutoContrast":
        return ImageOps.autocontrast(picture)
    if base == "Equalize":
        return ImageOps.equalize(picture)
    if base == "Invert":
        return ImageOps.invert(picture)
    if base == "Rotate":
        return picture.rotate(args[0], **geometric)
    if base == "Posterize":  # 0 bits kept is a black image, as Pillow < 10 gave timm (Pillow 10+ refuses 0)
        return picture if args[0] >= 8 else picture.point([i & ~(2 ** (8 - args[0]) - 1) for i in range(256)] * 3)
    if base == "Solarize":
        return ImageOps.solarize(picture, args[0])
    if base == "SolarizeAdd":
        lut = [min(255, i + args[0]) if i < 128 else i for i in range(256)]
        return picture.point(lut * 3)
    enhancers = {"Color": ImageEnhance.Color, "Contrast": ImageEnhance.Contrast,
                 "Brightness": ImageEnhance.Brightness, "Sharpness": ImageEnhance.Sharpness}
    if base in enhancers:
        return enhancers[base](picture).enhance(args[0])
    affine = {"ShearX": (1, args[0], 0, 0, 1, 0), "ShearY": (1, 0, 0, args[0], 1, 0),
              "TranslateXRel": (1, 0, args[0] * picture.size[0], 0, 1, 0),
              "TranslateYRel": (1, 0, 0, 0, 1, args[0] * picture.size[1])}
    return picture.transform(picture.size, Image.Transform.AFFINE, affine[base], **geometric)


def rand_augment(image: np.ndarray, policy: RandAugmentPolicy, rng: np.random.Generator,
                 fill: tuple[int, int, int], resample: str = "bilinear") -> np.ndarray:
    """uint8 [H, W, 3] -> uint8 [H, W, 3]: `policy.num_layers` operations drawn with replacement (by timm's
    weights with `w0`), each applied with probability 0.5 at the policy's magnitude plus its noise, clipped to
    [0, 10]; signed operations take either sign with probability 0.5. `fill` colours the pixels a rotation,
    shear or translation uncovers (timm: the mean pixel)."""
    from PIL import Image

    filters = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
    operations = policy.operations
    weights = None
    if policy.weighted:
        weights = np.asarray(CHOICE_WEIGHTS_0) / np.sum(CHOICE_WEIGHTS_0)
    chosen = rng.choice(len(operations), policy.num_layers, replace=weights is None, p=weights)
    picture = Image.fromarray(image)
    for index in chosen.tolist():
        if rng.random() > OP_PROBABILITY:
            continue
        magnitude = policy.magnitude
        if math.isinf(policy.magnitude_std):
            magnitude = rng.uniform(0.0, magnitude)
        elif policy.magnitude_std > 0:
            magnitude = rng.normal(magnitude, policy.magnitude_std)
        magnitude = min(MAX_LEVEL, max(0.0, magnitude))
        negate = operations[index] in SIGNED and bool(rng.random() > 0.5)
        picture = apply_operation(picture, operations[index], magnitude, negate, fill, filters[resample])
    return np.asarray(picture, dtype=np.uint8)
