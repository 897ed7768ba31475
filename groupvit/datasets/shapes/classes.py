"""The classes of the shapes world, their two vocabularies, and the colour and texture palettes.

Captions name a class by its entry in `CLASS_NAMES`; the evaluation can be phrased differently
with `ALT_CLASS_NAMES` (plural; synonym), which captions never use in its synonym part, so that a
zero-shot score with it measures how far the text side generalises beyond the caption words.
"""

from __future__ import annotations

import numpy as np

BACKGROUND = "background"
# Mask values: 0 = background, i = OBJECT_CLASSES[i - 1]; the order is a contract of every written dataset.
OBJECT_CLASSES = ("circle", "square", "triangle", "star", "heart", "cross", "house", "tree")
CLASS_NAMES = (BACKGROUND, *OBJECT_CLASSES)
CLASS_INDEX = {name: index for index, name in enumerate(CLASS_NAMES)}

PLURALS = {
    "circle": "circles", "square": "squares", "triangle": "triangles", "star": "stars",
    "heart": "hearts", "cross": "crosses", "house": "houses", "tree": "trees",
}
# Words no caption contains: the alternative phrasing of each class for `classes_alt.txt`.
SYNONYMS = {
    "circle": "ball", "square": "box", "triangle": "pyramid", "star": "pentagram",
    "heart": "valentine", "cross": "plus sign", "house": "building", "tree": "plant",
}
# "plural; synonym": the segmenter averages the text embeddings of names separated by ";".
ALT_CLASS_NAMES = (BACKGROUND, *(f"{PLURALS[name]}; {SYNONYMS[name]}" for name in OBJECT_CLASSES))

# Classes drawn from several parts that the model has to group into one object.
PART_CLASSES = frozenset({"house", "tree"})
# Real houses and trees stand upright; the other shapes turn freely (degrees either way).
MAX_ROTATION = {"house": 12.0, "tree": 10.0, "heart": 35.0}

# Named object colours (RGB); each object jitters its colour around the named one.
COLOURS = {
    "red": (205, 35, 35), "orange": (240, 130, 25), "yellow": (240, 210, 35), "green": (45, 150, 55),
    "blue": (35, 85, 205), "purple": (125, 55, 170), "pink": (240, 125, 175), "brown": (125, 75, 35),
    "white": (238, 238, 232), "grey": (128, 128, 132), "black": (32, 32, 34), "beige": (222, 200, 160),
}
COLOUR_NAMES = tuple(COLOURS)

# Default variant: the colour of each class's main part is drawn from its typical colours unless
# the object is atypical (ATYPICAL_COLOUR of the time), then from all colours, so shape stays the
# only sure cue. The typical colours of different classes barely overlap, as in the real world
# (grass is green, a stop sign red): colour is a strong cue, learnt early, and a quarter of the
# objects can be named by their shape only. Weights need not sum to one.
ATYPICAL_COLOUR = 0.25
TYPICAL_COLOURS = {
    "circle": {"orange": 3, "red": 1},
    "square": {"blue": 3},
    "triangle": {"purple": 3},
    "star": {"yellow": 3},
    "heart": {"red": 3, "pink": 2},
    "cross": {"white": 3, "grey": 1},
    "house": {"beige": 3, "white": 1},  # the walls
    "tree": {"green": 6, "orange": 1},  # the crown; autumn trees are real
}
# Secondary parts of the part classes: name -> typical colours (drawn always from these in the
# default variant, but never equal to the main colour).
PART_COLOURS = {
    "roof": {"red": 3, "brown": 2, "grey": 1},
    "trunk": {"brown": 5, "black": 1, "grey": 1},
    "door": {"brown": 3, "black": 1, "red": 1, "blue": 1},
    "window": {"white": 1, "blue": 2, "yellow": 1},
}

TEXTURES = ("flat", "stripes", "dots", "noise", "shaded")
# Typical surface of each class, used unless the object is atypical (ATYPICAL_TEXTURE of the time).
ATYPICAL_TEXTURE = 0.3
TYPICAL_TEXTURES = {
    "circle": {"shaded": 3, "stripes": 1, "flat": 1},
    "square": {"flat": 2, "stripes": 2, "noise": 1},
    "triangle": {"flat": 3, "noise": 1},
    "star": {"flat": 3, "shaded": 1},
    "heart": {"flat": 3, "dots": 1},
    "cross": {"flat": 4},
    "house": {"flat": 2, "stripes": 1},
    "tree": {"noise": 3, "dots": 1, "flat": 1},
}


def choose(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    """One key of `weights` drawn with its weight (`exclude` never: a part differs from its neighbour)."""
    names = [name for name in weights if name != exclude]
    if not names:
        raise ValueError(f"choose needs a name other than the excluded one. Received: weights={weights}, "
                         f"exclude={exclude!r}")
    p = np.array([weights[name] for name in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def uniform(names: tuple[str, ...] | list[str]) -> dict[str, float]:
    return {name: 1.0 for name in names}


def pick_colour(rng: np.random.Generator, class_name: str, variant: str) -> str:
    """The named colour of an object's main part: typical for its class, or any (variant "hard": always any)."""
    if variant == "hard" or rng.random() < ATYPICAL_COLOUR:
        return choose(rng, uniform(COLOUR_NAMES))
    return choose(rng, TYPICAL_COLOURS[class_name])


def pick_part_colour(rng: np.random.Generator, part: str, main: str, variant: str) -> str:
    """The colour of a secondary part (roof, trunk, door, window), never the main part's."""
    weights = uniform(COLOUR_NAMES) if variant == "hard" else PART_COLOURS[part]
    return choose(rng, weights, exclude=main)


def pick_texture(rng: np.random.Generator, class_name: str, variant: str) -> str:
    """An object's surface: typical for its class, or any (variant "hard": always any)."""
    if variant == "hard" or rng.random() < ATYPICAL_TEXTURE:
        return choose(rng, uniform(TEXTURES))
    return choose(rng, TYPICAL_TEXTURES[class_name])
