"""One scene of the shapes world: 1-4 objects over a textured background, with its true mask and caption.

Drawn on a canvas SUPERSAMPLE times the output size, then the image is reduced with Lanczos and
the mask by majority over each block, so edges are soft in the image and exact in the mask.
Objects later in the drawing order cover earlier ones; an object with less than MIN_VISIBLE of
itself in view is not drawn at all, so the image, the mask and the caption always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from groupvit.datasets.shapes.background import make_background
from groupvit.datasets.shapes.captions import Mention, make_caption
from groupvit.datasets.shapes.classes import CLASS_INDEX, MAX_ROTATION, OBJECT_CLASSES
from groupvit.datasets.shapes.draw import Drawing, draw_object, paint
from groupvit.datasets.shapes.geometry import OUTLINES

VARIANTS = ("default", "hard")
MIN_SIZE, MAX_SIZE = 32, 256
SUPERSAMPLE = 2
OBJECT_COUNTS = (1, 2, 3, 4)
COUNT_WEIGHTS = (0.3, 0.3, 0.25, 0.15)
SIZE_RANGE = (0.18, 0.55)  # object extent (bounding-disc diameter) as a fraction of the image side
SHRINK_PER_OBJECT = 0.04  # crowded scenes have somewhat smaller objects, as crowded photos do
P_REPEAT_CLASS = 0.15  # another object of a class already in the scene, so captions count ("two stars")
MIN_VISIBLE = 0.4
MIN_PIXELS = 6  # an object must keep this many output pixels of mask, or the scene is drawn again
PLACEMENT_TRIES = 6
SPACING = 0.8  # a placement is good when centres are this fraction of the reaches' sum apart
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Scene:
    """`image` uint8 [S, S, 3]; `mask` uint8 [S, S] (0 background, i = CLASS_NAMES[i]); `objects`
    (class, colour name) in drawing order; `caption`; `nouns` (the classes present, singular)."""

    image: np.ndarray
    mask: np.ndarray
    objects: list[tuple[str, str]]
    caption: str
    nouns: list[str]
    background: str


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of scene `index` of `seed`: the same scene however many are made, by however many workers."""
    return np.random.default_rng([seed, index])


def check_arguments(size: int, variant: str) -> None:
    if not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}]. Received: size={size!r}")
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}. Received: variant={variant!r}")


def _place(rng: np.random.Generator, reach: float, placed: list[tuple[np.ndarray, float]],
           canvas: int) -> np.ndarray:
    """A centre keeping the object inside the frame and, when it can, apart from the objects so far."""
    low, high = min(reach, canvas / 2), max(canvas - reach, canvas / 2)
    best, best_score = None, -np.inf
    for _ in range(PLACEMENT_TRIES):
        centre = rng.uniform(low, high, 2)
        score = min((np.hypot(*(centre - c)) / (reach + r) for c, r in placed), default=np.inf)
        if score >= SPACING:
            return centre
        if score > best_score:
            best, best_score = centre, score
    return best


def _classes(rng: np.random.Generator) -> list[str]:
    count = int(rng.choice(OBJECT_COUNTS, p=np.asarray(COUNT_WEIGHTS) / sum(COUNT_WEIGHTS)))
    names: list[str] = []
    for _ in range(count):
        if names and rng.random() < P_REPEAT_CLASS:
            names.append(names[int(rng.integers(len(names)))])
        else:
            names.append(OBJECT_CLASSES[int(rng.integers(len(OBJECT_CLASSES)))])
    return names


def _drawings(rng: np.random.Generator, variant: str, canvas: int) -> list[Drawing]:
    names = _classes(rng)
    largest = SIZE_RANGE[1] - SHRINK_PER_OBJECT * (len(names) - 1)
    drawings, placed = [], []
    for name in names:
        radius = rng.uniform(SIZE_RANGE[0], largest) * canvas / 2
        limit = MAX_ROTATION.get(name, 180.0)
        degrees = rng.uniform(-limit, limit)
        outline = OUTLINES[name](rng)
        # Turning does not change the farthest point from the centre, so this keeps it in the frame.
        reach = radius * max(float(np.hypot(p[:, 0], p[:, 1]).max()) for _, p in outline)
        centre = _place(rng, reach, placed, canvas)
        placed.append((centre, reach))
        drawings.append(draw_object(rng, name, variant, outline, (float(centre[0]), float(centre[1])),
                                    radius, degrees, canvas))
    return drawings


def visible_objects(drawings: list[Drawing]) -> list[Drawing]:
    """The objects kept, in drawing order: from the top down, each needs MIN_VISIBLE of itself uncovered
    by the kept objects above it (a dropped object covers nothing, so this decides each once)."""
    covered = np.zeros_like(drawings[0].mask)
    kept = []
    for drawing in reversed(drawings):
        area = int(drawing.mask.sum())
        if area and (drawing.mask & ~covered).sum() >= MIN_VISIBLE * area:
            kept.append(drawing)
            covered |= drawing.mask
    return kept[::-1]


def reduce_labels(labels: np.ndarray, count: int, factor: int) -> np.ndarray:
    """Majority label of each factor x factor block (ties go to the lower label), uint8 [H/f, W/f]."""
    height, width = labels.shape[0] // factor, labels.shape[1] // factor
    block = (np.arange(height)[:, None, None, None] * width + np.arange(width)[None, None, :, None])
    block = np.broadcast_to(block, (height, factor, width, factor)).ravel()
    # One histogram of (block, label) pairs instead of one comparison pass per label.
    votes = np.bincount(block * (count + 1) + labels.ravel(), minlength=height * width * (count + 1))
    return votes.reshape(height, width, count + 1).argmax(axis=2).astype(np.uint8)


def _attempt(rng: np.random.Generator, size: int, variant: str) -> Scene | None:
    canvas = size * SUPERSAMPLE
    image, background = make_background(rng, canvas)
    kept = visible_objects(_drawings(rng, variant, canvas))
    instances = np.zeros((canvas, canvas), dtype=np.uint8)
    for number, drawing in enumerate(kept, start=1):
        paint(image, drawing)
        instances[drawing.mask] = number
    instances = reduce_labels(instances, len(kept), SUPERSAMPLE)
    counts = np.bincount(instances.ravel(), minlength=len(kept) + 1)
    if not kept or counts[1:].min() < MIN_PIXELS:
        return None
    classes = np.array([0] + [CLASS_INDEX[d.class_name] for d in kept], dtype=np.uint8)
    mask = classes[instances]
    small = Image.fromarray(np.round(image).astype(np.uint8)).resize((size, size), Image.Resampling.LANCZOS)
    # A little sensor noise, so that no region is exactly one colour.
    pixels = np.asarray(small, dtype=np.float32) + rng.normal(0.0, rng.uniform(0.5, 3.0), (size, size, 3))
    mentions = []
    for number, drawing in enumerate(kept, start=1):
        ys, xs = np.nonzero(instances == number)
        mentions.append(Mention(drawing.class_name, drawing.colour, drawing.texture,
                                (float(xs.mean()), float(ys.mean())), detail=drawing.part_colours.get("roof")))
    caption, nouns = make_caption(rng, mentions, background)
    return Scene(image=np.clip(np.round(pixels), 0, 255).astype(np.uint8), mask=mask,
                 objects=[(d.class_name, d.colour) for d in kept], caption=caption, nouns=nouns,
                 background=background)


def make_scene(rng: np.random.Generator, size: int = 80, variant: str = "default") -> Scene:
    """One scene drawn with `rng` only, `size` x `size` pixels; variant "hard" makes colour independent of class."""
    check_arguments(size, variant)
    for _ in range(MAX_ATTEMPTS):
        scene = _attempt(rng, size, variant)
        if scene is not None:
            return scene
    raise ValueError(f"A scene must keep every drawn object visible within {MAX_ATTEMPTS} attempts. "
                     f"Received: size={size}, variant={variant!r}")
