"""Prompt templates for zero-shot class embeddings (docs/computation.md): sets of 1, 7 and 80 prompts."""

from __future__ import annotations

import string
from typing import Sequence

SINGLE_TEMPLATE = ("a photo of a {}.",)

# The 7-prompt subset of the ImageNet templates, as the GroupViT authors list it (datasets/imagenet_template.py,
# `sub_imagenet_template`, used for their classification); CLIP's own list has "a bad photo of the {}.".
SEVEN_TEMPLATES = (
    "itap of a {}.",
    "a bad photo of a {}.",
    "a origami {}.",
    "a photo of the large {}.",
    "a {} in a video game.",
    "art of the {}.",
    "a photo of the small {}.",
)

# The 80 CLIP ImageNet prompt templates (OpenAI CLIP, "Prompt_Engineering_for_ImageNet").
IMAGENET_TEMPLATES = (
    "a bad photo of a {}.", "a photo of many {}.", "a sculpture of a {}.", "a photo of the hard to see {}.",
    "a low resolution photo of the {}.", "a rendering of a {}.", "graffiti of a {}.", "a bad photo of the {}.",
    "a cropped photo of the {}.", "a tattoo of a {}.", "the embroidered {}.", "a photo of a hard to see {}.",
    "a bright photo of a {}.", "a photo of a clean {}.", "a photo of a dirty {}.", "a dark photo of the {}.",
    "a drawing of a {}.", "a photo of my {}.", "the plastic {}.", "a photo of the cool {}.",
    "a close-up photo of a {}.", "a black and white photo of the {}.", "a painting of the {}.",
    "a painting of a {}.", "a pixelated photo of the {}.", "a sculpture of the {}.", "a bright photo of the {}.",
    "a cropped photo of a {}.", "a plastic {}.", "a photo of the dirty {}.", "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.", "a photo of the {}.", "a good photo of the {}.", "a rendering of the {}.",
    "a {} in a video game.", "a photo of one {}.", "a doodle of a {}.", "a close-up photo of the {}.",
    "a photo of a {}.", "the origami {}.", "the {} in a video game.", "a sketch of a {}.", "a doodle of the {}.",
    "a origami {}.", "a low resolution photo of a {}.", "the toy {}.", "a rendition of the {}.",
    "a photo of the clean {}.", "a photo of a large {}.", "a rendition of a {}.", "a photo of a nice {}.",
    "a photo of a weird {}.", "a blurry photo of a {}.", "a cartoon {}.", "art of a {}.", "a sketch of the {}.",
    "a embroidered {}.", "a pixelated photo of a {}.", "itap of the {}.", "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.", "a plushie {}.", "a photo of the nice {}.", "a photo of the small {}.",
    "a photo of the weird {}.", "the cartoon {}.", "art of the {}.", "a drawing of the {}.",
    "a photo of the large {}.", "a black and white photo of a {}.", "the plushie {}.", "a dark photo of a {}.",
    "itap of a {}.", "graffiti of the {}.", "a toy {}.", "itap of my {}.", "a photo of a cool {}.",
    "a photo of a small {}.", "a tattoo of the {}.",
)

TEMPLATE_SETS = {1: SINGLE_TEMPLATE, 7: SEVEN_TEMPLATES, 80: IMAGENET_TEMPLATES}


def resolve_templates(templates: int | Sequence[str]) -> tuple[str, ...]:
    """1, 7 or 80 (a built-in set) or a list of strings each holding one "{}"."""
    if isinstance(templates, int) and not isinstance(templates, bool):
        if templates not in TEMPLATE_SETS:
            raise ValueError(
                f'templates must be one of the built-in sets {sorted(TEMPLATE_SETS)}, or templates holding one "{{}}" '
                f"(a string, or a list of them). Received: templates={templates}"
            )
        return TEMPLATE_SETS[templates]
    if isinstance(templates, str):
        templates = [templates]
    templates = tuple(templates)
    bad = [t for t in templates if not _one_placeholder(t)]
    if not templates or bad:
        raise ValueError(
            f'templates must be non-empty strings with exactly one "{{}}" (literal braces doubled: "{{{{", '
            f'"}}}}"). Received: templates={templates!r}'
        )
    return templates


def _one_placeholder(template: object) -> bool:
    """Whether `template.format(name)` fills exactly one plain "{}" and nothing else: no named or numbered field
    ("{x}" raised KeyError late), no conversion or format spec, no unmatched brace ("a {} }" raised late), and
    not "{{}}", which is a literal "{}" (every class got the same prompt, silently)."""
    if not isinstance(template, str):
        return False
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError:
        return False
    return fields == [("", "", None)]


def parse_templates(text: str) -> int | str:
    """A command line's template option: "1", "7" or "80" (a built-in set) or one template holding "{}"
    ("{}" prompts with the bare class name, "a satellite photo of a {}." with a phrase of one's own)."""
    value: int | str = int(text) if text.strip().isdigit() else text
    resolve_templates(value)
    return value


def split_synonyms(class_name: str) -> list[str]:
    """"tv; monitor" -> ["tv", "monitor"]: a class may carry synonyms separated by ";"."""
    names = [n.strip() for n in class_name.split(";") if n.strip()]
    if not names:
        raise ValueError(f"A class name must contain at least one word. Received: class_name={class_name!r}")
    return names


def prompts_for(class_name: str, templates: Sequence[str]) -> list[str]:
    """Every template filled with every synonym of one class."""
    return [t.format(name) for name in split_synonyms(class_name) for t in templates]
