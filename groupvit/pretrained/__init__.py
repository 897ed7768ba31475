"""Models shipped inside the package, loadable by name wherever a checkpoint path is taken.

`shapes-tiny`: a small GroupViT trained with `groupvit train` on captions of the generated shapes
world (`groupvit shapes`); see its MODEL_CARD.md. A local path of the same spelling always wins.
"""

from __future__ import annotations

import os

PRETRAINED_NAMES = ("shapes-tiny",)
_HERE = os.path.dirname(os.path.abspath(__file__))


def pretrained_dir(name: str) -> str:
    """The folder of a shipped model."""
    if name not in PRETRAINED_NAMES:
        raise ValueError(f"A shipped model name must be one of {list(PRETRAINED_NAMES)}. Received: {name!r}")
    folder = os.path.join(_HERE, name)
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        raise FileNotFoundError(f"The shipped model {name!r} must hold model.safetensors. Received: none in {folder}")
    return folder


def resolve_checkpoint(path: str | os.PathLike) -> str:
    """`path` itself, or the shipped model's folder when `path` is its name and no such local path exists."""
    path = os.fspath(path)
    if path in PRETRAINED_NAMES and not os.path.exists(path):
        return pretrained_dir(path)
    return path
