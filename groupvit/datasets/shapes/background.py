"""Textured, non-uniform backgrounds: mostly muted colours, so objects stand out without being trivial.

Every kind varies in space (no background is one flat colour), and "grass" is green most of the
time, so green tree crowns meet green ground as they do outdoors.
"""

from __future__ import annotations

import colorsys

import numpy as np

from groupvit.datasets.shapes.draw import value_noise

BACKGROUND_KINDS = ("plain", "gradient", "clouds", "stripes", "grass")
# How captions may name a background ("a star on a striped background").
BACKGROUND_PHRASES = {
    "plain": ("on a plain background", "on a smooth background"),
    "gradient": ("on a gradient background", "on a shaded background"),
    "clouds": ("on a cloudy background", "on a mottled background"),
    "stripes": ("on a striped background", "on a background with stripes"),
    "grass": ("on grass", "on a grassy background"),
}


def muted(rng: np.random.Generator, hue: float | None = None) -> np.ndarray:
    """An RGB colour [3] float32 of low saturation and middling brightness; now and then a livelier one."""
    hue = rng.random() if hue is None else hue % 1.0
    saturation = rng.uniform(0.05, 0.4) if rng.random() < 0.8 else rng.uniform(0.4, 0.65)
    value = rng.uniform(0.3, 0.85)
    return 255.0 * np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32)


def neighbour(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """A second background colour: near the first in hue, different in brightness (low contrast)."""
    hue, saturation, value = colorsys.rgb_to_hsv(*(rgb / 255.0))
    hue = (hue + rng.uniform(-0.12, 0.12)) % 1.0
    value = float(np.clip(value * rng.choice([rng.uniform(0.55, 0.8), rng.uniform(1.2, 1.5)]), 0.1, 1.0))
    return 255.0 * np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[..., None]


def _ramp(rng: np.random.Generator, canvas: int) -> np.ndarray:
    """Position [C, C] in [0, 1] along a random direction."""
    angle = rng.uniform(0.0, 2.0 * np.pi)
    grid = (np.arange(canvas, dtype=np.float32) + 0.5) / canvas - 0.5
    t = grid[None, :] * float(np.cos(angle)) + grid[:, None] * float(np.sin(angle))  # Python floats keep float32
    return (t - t.min()) / (t.max() - t.min())


def make_background(rng: np.random.Generator, canvas: int, kind: str | None = None) -> tuple[np.ndarray, str]:
    """(RGB float32 [C, C, 3], kind): one background of a random (or the given) kind."""
    kind = BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))] if kind is None else kind
    if kind == "grass":
        # Green most of the time, else dry (yellow-brown).
        hue = rng.uniform(0.2, 0.38) if rng.random() < 0.75 else rng.uniform(0.08, 0.15)
        base = muted(rng, hue=hue)
        # Blades: per-column speckle stretched vertically, over a slow brightness wave.
        speckle = rng.random((-(-canvas // 4), canvas), dtype=np.float32)
        speckle = np.repeat(speckle, 4, axis=0)[:canvas]
        blades = 0.7 + 0.35 * value_noise(rng, canvas, canvas, cells=int(rng.integers(2, 5))) + 0.3 * (speckle - 0.5)
        image = base * blades[..., None]
    elif kind == "plain":
        image = muted(rng) * (0.93 + 0.14 * value_noise(rng, canvas, canvas, cells=3))[..., None]
    elif kind == "gradient":
        first = muted(rng)
        image = _mix(first, neighbour(rng, first), _ramp(rng, canvas))
    elif kind == "clouds":
        first = muted(rng)
        image = _mix(first, neighbour(rng, first), value_noise(rng, canvas, canvas, cells=int(rng.integers(3, 8))))
    elif kind == "stripes":
        first = muted(rng)
        period = rng.uniform(0.08, 0.3) * canvas
        phase = _ramp(rng, canvas) * canvas / period + rng.random()
        if rng.random() < 0.5:  # hard-edged bands
            t = ((phase - np.floor(phase)) < 0.5).astype(np.float32)
        else:  # soft waves
            t = 0.5 + 0.5 * np.sin(2.0 * np.pi * phase).astype(np.float32)
        image = _mix(first, neighbour(rng, first), t)
    else:
        raise ValueError(f"kind must be one of {BACKGROUND_KINDS}. Received: kind={kind!r}")
    return np.clip(image, 0.0, 255.0).astype(np.float32), kind
