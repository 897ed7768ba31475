"""What a training step needs to know besides the batch: optimiser, clipping, losses, freezing."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Iterable, Sequence

MULTI_LABEL_SCALE_NAME = "multi_label_logit_scale"
# the optional terms a step reports (and adds to its loss) only when their weight is on (docs/training.md)
OPTIONAL_TERMS = ("group_balance", "group_exclusivity", "group_naming")

# `--freeze` groups, as PyTorch name patterns
FREEZE_GROUPS = {
    "text": ("text_model.*",),
    "vision": ("vision_model.*",),
    "text_projection": ("text_projection.*",),
    "visual_projection": ("visual_projection.*",),
    "projections": ("text_projection.*", "visual_projection.*"),
    "logit_scale": ("logit_scale",),
    "group_tokens": ("vision_model.encoder.stages.*.group_token",),
    "all": ("*",),
}


def check_group_terms(group_exclusivity: float, group_naming: float, grouped, multi_label) -> None:
    """Both trainers' rule: the two terms that score nouns against an image's groups need the grouped loss."""
    if (float(group_exclusivity) or float(group_naming)) and not (grouped and int(multi_label) > 0):
        raise ValueError("group_exclusivity and group_naming score nouns against an image's groups: they need "
                         f"grouped with multi_label > 0. Received: group_exclusivity={group_exclusivity}, "
                         f"group_naming={group_naming}, grouped={grouped}, multi_label={multi_label}")


@dataclass(frozen=True)
class StepOptions:
    """Authors' defaults (docs/training.md): AdamW (0.9, 0.999), eps 1e-8, decay 0.05, clip 5."""

    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    clip_norm: float | None = 5.0
    multi_label: int = 0  # K noun prompts per caption; 0 switches the multi-label loss off
    grouped: bool = False  # the multi-label loss scored by the best group, noun-level positives
    group_balance: float = 0.0  # weight of the group-usage term (docs/training.md); 0 = off, as the authors
    pooling_tau: float = 0.0  # grouped: 0 scores a prompt by its best group, > 0 by a soft maximum (docs/training.md)
    group_exclusivity: float = 0.0  # grouped: weight of the each-noun-in-one-group term (docs/training.md); 0 = off
    group_naming: float = 0.0  # grouped: weight of the each-group-names-what-it-carries term (docs/training.md)
    logit_scale_init: float = 2.6592  # ln(1 / 0.07): initial multi-label temperature
    bf16: bool = False
    frozen: frozenset[str] = field(default_factory=frozenset)  # PyTorch parameter names


def frozen_names(names: Sequence[str], freeze: Iterable[str] = (), unfreeze: Iterable[str] = ()) -> frozenset[str]:
    """Parameter names frozen by `freeze` then released by `unfreeze` (group names or glob patterns).

    Example: freeze=["all"], unfreeze=["group_tokens", "projections"] trains only the group tokens
    and the projection heads.
    """
    def matching(item: str) -> set[str]:
        patterns = FREEZE_GROUPS.get(item, (item,))
        hit = {n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)}
        if not hit:
            raise ValueError(
                f"A --freeze/--unfreeze item must be one of {sorted(FREEZE_GROUPS)} or a pattern matching "
                f"parameter names (e.g. 'vision_model.encoder.stages.0.*'). Received: {item!r}, which matches none"
            )
        return hit

    frozen: set[str] = set()
    for item in freeze:
        frozen |= matching(item)
    for item in unfreeze:
        frozen -= matching(item)
    if len(frozen) == len(names):
        raise ValueError("--freeze leaves nothing to train: unfreeze at least one parameter. Received: every "
                         f"one of the {len(names)} parameters frozen")
    return frozenset(frozen)
