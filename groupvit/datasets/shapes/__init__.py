"""A seeded, generated world of shapes with true masks, for training GroupViT from captions alone and
scoring it zero-shot (numpy + Pillow; no deep-learning framework is imported).

`make_scene(scene_rng(seed, index), size, variant)` draws scene `index` of `seed` the same way every
time; `write_train` and `write_voc` put many of them on disk; `groupvit shapes` wraps both.
"""

from groupvit.datasets.shapes.background import BACKGROUND_KINDS
from groupvit.datasets.shapes.captions import Mention, make_caption
from groupvit.datasets.shapes.classes import (
    ALT_CLASS_NAMES, CLASS_INDEX, CLASS_NAMES, COLOUR_NAMES, COLOURS, OBJECT_CLASSES, PART_CLASSES, PLURALS,
    SYNONYMS, TEXTURES,
)
from groupvit.datasets.shapes.preview import preview, save_preview
from groupvit.datasets.shapes.scene import VARIANTS, Scene, make_scene, scene_rng
from groupvit.datasets.shapes.writers import WriteSummary, voc_palette, write_train, write_voc

__all__ = [
    "ALT_CLASS_NAMES", "BACKGROUND_KINDS", "CLASS_INDEX", "CLASS_NAMES", "COLOURS", "COLOUR_NAMES", "Mention",
    "OBJECT_CLASSES", "PART_CLASSES", "PLURALS", "SYNONYMS", "Scene", "TEXTURES", "VARIANTS", "WriteSummary",
    "make_caption", "make_scene", "preview", "save_preview", "scene_rng", "voc_palette", "write_train", "write_voc",
]
