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


def resolve_checkpoint(path: str | os.PathLike, *, revision: str | None = None,
                       cache_dir: str | os.PathLike | None = None, local_files_only: bool | None = None,
                       token: str | bool | None = None, force_download: bool = False) -> str:
    """`path` itself when it exists; else the shipped model's folder when `path` is its name; else, for an
    `org/name` hub id, its snapshot folder in the Hugging Face cache (groupvit.hub: `revision`, `cache_dir`,
    `local_files_only`, HF_HUB_OFFLINE). Anything else is returned unchanged for the loader to refuse."""
    path = os.fspath(path)
    if os.path.exists(path):
        return path
    if path in PRETRAINED_NAMES:
        return pretrained_dir(path)
    from groupvit import hub

    if hub.looks_like_hub_id(path):
        return hub.snapshot(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                            token=token, force_download=force_download)
    return path
