"""The outline of each class as polygons in a unit frame, with per-object variation, and its placement.

Unit frame: the object fits the unit disc, x to the right, y up. A class is a list of named parts
drawn in order (later parts over earlier ones); single-part classes have the part "body".
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Parts = list[tuple[str, np.ndarray]]  # (part name, polygon [K, 2] in the unit frame)


def _ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 40) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, points, endpoint=False)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def circle(rng: np.random.Generator) -> Parts:
    return [("body", _ellipse(0.0, 0.0, 1.0, rng.uniform(0.85, 1.0)))]


def square(rng: np.random.Generator) -> Parts:
    # Corners on the unit circle; a corner angle off 45 degrees makes a slightly oblong box.
    angle = np.deg2rad(rng.uniform(40.0, 50.0))
    w, h = np.cos(angle), np.sin(angle)
    return [("body", _rect(-w, -h, w, h))]


def triangle(rng: np.random.Generator) -> Parts:
    angles = np.deg2rad(np.array([90.0, 210.0, 330.0]) + rng.uniform(-8.0, 8.0, 3))
    radii = rng.uniform(0.9, 1.0, 3)
    return [("body", np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))]


def star(rng: np.random.Generator) -> Parts:
    inner = rng.uniform(0.38, 0.5)
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.0, inner)
    return [("body", np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1))]


def heart(rng: np.random.Generator) -> Parts:
    t = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    x = 16.0 * np.sin(t) ** 3
    y = 13.0 * np.cos(t) - 5.0 * np.cos(2 * t) - 2.0 * np.cos(3 * t) - np.cos(4 * t)
    # The classic curve spans x in [-16, 16], y in [-17, 12]: centre it, then widen or narrow a little.
    points = np.stack([x * rng.uniform(0.9, 1.05), y + 2.5], axis=1) / 18.5
    return [("body", points)]


def cross(rng: np.random.Generator) -> Parts:
    w = rng.uniform(0.2, 0.3)
    a = np.sqrt(1.0 - w * w)  # arm ends on the unit circle
    points = [(w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w), (-w, -a), (w, -a), (w, -w),
              (a, -w), (a, w)]
    return [("body", np.array(points, dtype=np.float64))]


def house(rng: np.random.Generator) -> Parts:
    half = rng.uniform(0.55, 0.68)
    eave = rng.uniform(0.0, 0.2)  # where the walls end and the roof begins
    apex = rng.uniform(0.75, 0.95)
    overhang = rng.uniform(0.05, 0.15)
    parts: Parts = [("walls", _rect(-half, -0.72, half, eave)),
                    ("roof", np.array([[-half - overhang, eave], [half + overhang, eave], [0.0, apex]]))]
    door_x = rng.uniform(-0.5, 0.5) * half
    door_w = rng.uniform(0.13, 0.2)
    door_top = rng.uniform(-0.35, -0.2)
    parts.append(("door", _rect(door_x - door_w, -0.72, door_x + door_w, door_top)))
    # One window on the wider side of the door, when it fits.
    side = -1.0 if door_x > 0 else 1.0
    size = rng.uniform(0.12, 0.18)
    window_x = side * half * 0.5
    if abs(window_x - door_x) > door_w + size + 0.05:
        mid = (eave + door_top) / 2 + 0.05
        parts.append(("window", _rect(window_x - size, mid - size, window_x + size, mid + size)))
    return parts


def tree(rng: np.random.Generator) -> Parts:
    width = rng.uniform(0.1, 0.16)
    trunk_top = rng.uniform(-0.25, -0.1)
    parts: Parts = [("trunk", _rect(-width, -1.0, width, trunk_top + 0.2))]
    if rng.random() < 0.6:  # a leafy crown, a little wider or taller than round
        radius = rng.uniform(0.55, 0.65)
        parts.append(("crown", _ellipse(0.0, 1.0 - radius, radius * rng.uniform(0.9, 1.1), radius)))
    else:  # a fir: two stacked triangles
        base = trunk_top
        half = rng.uniform(0.55, 0.7)
        parts.append(("crown", np.array([[-half, base], [half, base], [0.0, 0.45]])))
        parts.append(("crown", np.array([[-half * 0.75, 0.15], [half * 0.75, 0.15], [0.0, 1.0]])))
    return parts


OUTLINES: dict[str, Callable[[np.random.Generator], Parts]] = {
    "circle": circle, "square": square, "triangle": triangle, "star": star, "heart": heart,
    "cross": cross, "house": house, "tree": tree,
}


def place(parts: Parts, centre: tuple[float, float], radius: float, degrees: float) -> Parts:
    """Unit-frame parts -> canvas pixel polygons (y down), turned by `degrees` counter-clockwise."""
    theta = np.deg2rad(degrees)
    cos, sin = np.cos(theta), np.sin(theta)
    placed = []
    for name, points in parts:
        x = centre[0] + radius * (points[:, 0] * cos - points[:, 1] * sin)
        y = centre[1] - radius * (points[:, 0] * sin + points[:, 1] * cos)
        placed.append((name, np.stack([x, y], axis=1)))
    return placed
