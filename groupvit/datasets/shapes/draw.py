"""One object of the shapes world rasterised on the (supersampled) canvas: part masks and their surfaces.

Surfaces are computed in the object's own frame, so stripes and dots turn with the object, except
the "shaded" light, which comes from one side of the world as real light does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from groupvit.datasets.shapes.classes import (
    COLOUR_NAMES, COLOURS, PART_CLASSES, choose, pick_colour, pick_part_colour, pick_texture, uniform,
)
from groupvit.datasets.shapes.geometry import OUTLINES, Parts, place

MAIN_PARTS = frozenset({"body", "walls", "crown"})  # parts that carry the object's colour name and texture


@dataclass(frozen=True)
class Part:
    """A part's pixels: `mask` [h, w] bool and `fill` [h, w, 3] float32 over the canvas box (y0, y1, x0, x1)."""

    name: str
    box: tuple[int, int, int, int]
    mask: np.ndarray
    fill: np.ndarray


@dataclass(frozen=True)
class Drawing:
    """One object: its class, named colour, texture, parts in drawing order, their union `mask` [C, C]
    and the named colour of each part name."""

    class_name: str
    colour: str
    texture: str
    parts: tuple[Part, ...]
    mask: np.ndarray
    part_colours: dict[str, str]


def polygon_box(points: np.ndarray, canvas: int) -> tuple[int, int, int, int] | None:
    """The canvas rows and columns a polygon may touch (y0, y1, x0, x1), or None when it lies outside."""
    x0, y0 = np.floor(points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, canvas), min(y1, canvas)
    return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None


def polygon_mask(points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of the box [h, w] whose centres lie inside the polygon (Pillow's scan conversion)."""
    y0, y1, x0, x1 = box
    image = Image.new("L", (x1 - x0, y1 - y0), 0)
    # Pillow puts pixel i's centre at coordinate i; ours is at i + 0.5 (as in the texture grids).
    ImageDraw.Draw(image).polygon([(float(x - x0 - 0.5), float(y - y0 - 0.5)) for x, y in points], fill=1)
    return np.asarray(image, dtype=bool)


def jitter(rng: np.random.Generator, name: str) -> np.ndarray:
    """A named colour as one object shows it: brightness and tint vary, the name still fits."""
    rgb = np.asarray(COLOURS[name], dtype=np.float32)
    return np.clip(rgb * rng.uniform(0.85, 1.12) + rng.normal(0.0, 8.0, 3), 0.0, 255.0).astype(np.float32)


def second_colour(rng: np.random.Generator, rgb: np.ndarray, name: str) -> np.ndarray:
    """The other colour of a stripe or dot pattern: a darker or lighter shade, sometimes another colour."""
    roll = rng.random()
    if roll < 0.5:
        return rgb * rng.uniform(0.5, 0.7)
    if roll < 0.8:
        return rgb + (255.0 - rgb) * rng.uniform(0.35, 0.55)
    return jitter(rng, choose(rng, uniform(COLOUR_NAMES), exclude=name))


def value_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] [height, width]: a `cells` x `cells` random grid, bicubically enlarged."""
    grid = rng.random((cells, cells), dtype=np.float32)
    enlarged = Image.fromarray(grid).resize((width, height), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(enlarged, dtype=np.float32), 0.0, 1.0)


def surface(rng: np.random.Generator, texture: str, rgb: np.ndarray, name: str,
            frame: tuple[float, float, float, float], box: tuple[int, int, int, int]) -> np.ndarray:
    """The colour field [h, w, 3] of one texture over a box; frame = (cx, cy, radius, degrees)."""
    y0, y1, x0, x1 = box
    cx, cy, radius, degrees = frame
    dx = (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx)[None, :] / radius
    dy = (cy - np.arange(y0, y1, dtype=np.float32) - 0.5)[:, None] / radius  # y up
    shape = (y1 - y0, x1 - x0)
    if texture == "flat":
        return np.broadcast_to(rgb, (*shape, 3)).astype(np.float32)
    if texture == "noise":
        factor = 0.65 + 0.55 * value_noise(rng, *shape, cells=int(rng.integers(3, 7)))
        return rgb * factor[..., None]
    if texture == "shaded":  # a lit ball: bright towards the light, dark on the far side, a soft highlight
        light = float(np.deg2rad(rng.uniform(100.0, 170.0)))
        distance = np.hypot(dx - 0.45 * float(np.cos(light)), dy - 0.45 * float(np.sin(light)))
        factor = np.clip(1.2 - 0.5 * distance, 0.45, 1.2)
        shaded = rgb * factor[..., None]
        shine = np.clip(1.0 - distance / 0.3, 0.0, 1.0)[..., None] * 0.5
        return shaded + (255.0 - shaded) * shine
    cos, sin = float(np.cos(np.deg2rad(degrees))), float(np.sin(np.deg2rad(degrees)))
    u = dx * cos + dy * sin  # the object's own axes
    v = -dx * sin + dy * cos
    other = second_colour(rng, rgb, name)
    if texture == "stripes":
        period, angle = rng.uniform(0.25, 0.5), rng.uniform(0.0, np.pi)
        phase = (u * np.cos(angle) + v * np.sin(angle)) / period + rng.random()
        on = (phase - np.floor(phase)) < rng.uniform(0.35, 0.6)
    elif texture == "dots":
        period = rng.uniform(0.3, 0.5)
        fu = u / period + rng.random()
        fv = v / period + rng.random()
        fu, fv = fu - np.round(fu), fv - np.round(fv)
        on = fu * fu + fv * fv < rng.uniform(0.2, 0.32) ** 2
    else:
        raise ValueError(f"texture must be one of flat, stripes, dots, noise, shaded. Received: texture={texture!r}")
    return np.where(on[..., None], other, rgb).astype(np.float32)


def part_texture(rng: np.random.Generator, part: str, texture: str) -> str:
    if part in MAIN_PARTS:
        return texture
    if part in ("roof", "trunk"):  # tiles and bark follow the object's pattern half the time
        return texture if rng.random() < 0.5 and texture != "shaded" else "flat"
    return "flat"


def draw_object(rng: np.random.Generator, class_name: str, variant: str, outline: Parts,
                centre: tuple[float, float], radius: float, degrees: float, canvas: int) -> Drawing:
    """Colours and surfaces of one object (its unit-frame `outline`) placed on a `canvas` x `canvas` grid."""
    if class_name not in OUTLINES:
        raise ValueError(f"class_name must be one of {sorted(OUTLINES)}. Received: class_name={class_name!r}")
    outline = place(outline, centre, radius, degrees)
    colour = pick_colour(rng, class_name, variant)
    texture = pick_texture(rng, class_name, variant)
    names: dict[str, str] = {}  # one colour per part name (a fir's two crowns match)
    rgbs: dict[str, np.ndarray] = {}
    parts = []
    union = np.zeros((canvas, canvas), dtype=bool)
    for name, points in outline:
        if name not in names:
            names[name] = colour if name in MAIN_PARTS else pick_part_colour(rng, name, colour, variant)
            rgbs[name] = jitter(rng, names[name])
        box = polygon_box(points, canvas)
        if box is None:
            continue
        mask = polygon_mask(points, box)
        if not mask.any():
            continue
        fill = surface(rng, part_texture(rng, name, texture), rgbs[name], names[name],
                       (centre[0], centre[1], radius, degrees), box)
        parts.append(Part(name=name, box=box, mask=mask, fill=np.clip(fill, 0.0, 255.0)))
        y0, y1, x0, x1 = box
        union[y0:y1, x0:x1] |= mask
    if class_name in PART_CLASSES and len(parts) < 2:
        raise ValueError(f"A {class_name} must be drawn from at least two parts. Received: {len(parts)} part(s) "
                         f"at centre={centre}, radius={radius}")
    return Drawing(class_name=class_name, colour=colour, texture=texture, parts=tuple(parts), mask=union,
                   part_colours=names)


def paint(image: np.ndarray, drawing: Drawing) -> None:
    """Paint the object's parts over `image` [C, C, 3] float32 in place (parts in drawing order)."""
    for part in drawing.parts:
        y0, y1, x0, x1 = part.box
        region = image[y0:y1, x0:x1]
        region[part.mask] = part.fill[part.mask]
