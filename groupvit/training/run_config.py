"""`TrainRun`: every setting of a training run, as the `groupvit train` command takes them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from groupvit.segmentation.templates import resolve_templates


@dataclass
class TrainRun:
    """Settings of one run. Those in `RESUME_FIXED` are stored in the trainer state and must not
    change on `--resume` (the schedule, the data order and the losses depend on them)."""

    backend: str
    data: str
    out: str
    config: str | None = None
    init: str | None = None
    tokenizer: str | None = None
    tokenizer_vocab: int | None = None
    steps: int | None = None
    epochs: float | None = None
    batch_size: int = 32  # global, over every rank
    lr: float | None = None  # base learning rate; default: the authors' 1.6e-3 scaled by batch / 4096
    warmup_steps: int | None = None  # default: 2/30 of the run, as the authors' 2 of 30 epochs
    weight_decay: float = 0.05
    clip_norm: float | None = 5.0
    multi_label: int = 0
    grouped_multi_label: bool = False
    group_balance: float = 0.0
    pooling_tau: float = 0.0
    group_exclusivity: float = 0.0
    group_naming: float = 0.0
    prompt_templates: int | str = 80
    freeze: list[str] = field(default_factory=list)
    unfreeze: list[str] = field(default_factory=list)
    resume: bool = False
    seed: int = 0
    save_every: int = 500
    keep: int = 3
    num_workers: int = 0
    shuffle_buffer: int = 10000
    bf16: bool = False
    flip: bool = True
    color_jitter: float = 0.0
    random_erasing: float = 0.0
    crop_scale: tuple[float, float] = (0.08, 1.0)
    rand_augment: str | None = None
    interpolation: str = "bicubic"
    drop_path_rate: float = 0.0
    eval_data: str | None = None
    eval_limit: int | None = None
    eval_class_names: str | None = None
    eval_bg_thresh: float | None = None
    eval_templates: int | str | None = None
    progress: bool = True

    def validate(self) -> None:
        if self.backend not in ("pt", "tf"):
            raise ValueError(f"backend must be 'pt' or 'tf'. Received: backend={self.backend!r}")
        if (self.steps is None) == (self.epochs is None):
            raise ValueError(
                f"Give exactly one of steps and epochs. Received: steps={self.steps}, epochs={self.epochs}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be >= 1. Received: steps={self.steps}")
        if self.epochs is not None and not self.epochs > 0:
            raise ValueError(f"epochs must be > 0. Received: epochs={self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size (global) must be >= 2 for the contrastive loss and BatchNorm. "
                             f"Received: batch_size={self.batch_size}")
        if self.multi_label < 0:
            raise ValueError(f"multi_label must be >= 0. Received: multi_label={self.multi_label}")
        if not self.group_balance >= 0:
            raise ValueError(f"group_balance must be >= 0. Received: group_balance={self.group_balance}")
        if not self.pooling_tau >= 0:
            raise ValueError(f"pooling_tau must be >= 0. Received: pooling_tau={self.pooling_tau}")
        if self.pooling_tau and not self.grouped_multi_label:
            raise ValueError("pooling_tau softens the grouped multi-label loss's maximum over groups: it needs "
                             f"grouped_multi_label. Received: pooling_tau={self.pooling_tau} without it")
        for name in ("group_exclusivity", "group_naming"):
            weight = getattr(self, name)
            if not weight >= 0:
                raise ValueError(f"{name} must be >= 0. Received: {name}={weight}")
            if weight and not self.grouped_multi_label:
                raise ValueError(f"{name} scores nouns against an image's groups: it needs grouped_multi_label. "
                                 f"Received: {name}={weight} without it")
        try:  # an int or str (the trainer state stores it as JSON), that resolve_templates takes
            templates_ok = isinstance(self.prompt_templates, (int, str)) and resolve_templates(self.prompt_templates)
        except (TypeError, ValueError):
            templates_ok = False
        if not templates_ok:
            raise ValueError('prompt_templates must name a built-in template set (1, 7 or 80) or be one template '
                             f'holding "{{}}". Received: prompt_templates={self.prompt_templates!r}')
        if self.grouped_multi_label and not self.multi_label:
            raise ValueError("grouped_multi_label scores the multi-label loss by groups: it needs multi_label K > 0. "
                             f"Received: multi_label={self.multi_label}")
        if self.tokenizer and self.tokenizer_vocab:
            raise ValueError("Give at most one of tokenizer and tokenizer_vocab. "
                             f"Received: tokenizer={self.tokenizer!r}, tokenizer_vocab={self.tokenizer_vocab}")
        if self.save_every < 1:
            raise ValueError(f"save_every must be >= 1. Received: save_every={self.save_every}")
        if self.warmup_steps is not None and not (
                self.warmup_steps >= 0 and (self.steps is None or self.warmup_steps < self.steps)):
            raise ValueError(f"warmup_steps must be >= 0 and fewer than the run's steps (the cosine follows it). "
                             f"Received: warmup_steps={self.warmup_steps}, steps={self.steps}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0. Received: lr={self.lr}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0. Received: weight_decay={self.weight_decay}")
        if self.clip_norm is not None and not self.clip_norm > 0:  # a negative norm would flip every gradient
            raise ValueError(f"clip_norm must be > 0, or None (no clipping). Received: clip_norm={self.clip_norm}")
        if self.keep < 0:
            raise ValueError(f"keep must be >= 0 (0 keeps every checkpoint). Received: keep={self.keep}")
        if not 0 <= self.drop_path_rate < 1:
            raise ValueError(f"drop_path_rate must be in [0, 1) (the authors: 0.1). "
                             f"Received: drop_path_rate={self.drop_path_rate}")
        if self.eval_limit is not None and not self.eval_limit >= 1:
            raise ValueError(f"eval_limit must be a number of images >= 1, or None for the whole split. "
                             f"Received: eval_limit={self.eval_limit}")
        if self.eval_bg_thresh is not None and not 0 <= self.eval_bg_thresh <= 1:
            raise ValueError(f"eval_bg_thresh must be in [0, 1]. Received: eval_bg_thresh={self.eval_bg_thresh}")
        scoring = {name: getattr(self, name) for name in ("eval_limit", "eval_class_names", "eval_bg_thresh",
                                                          "eval_templates") if getattr(self, name) is not None}
        if self.eval_data is None and scoring:
            raise ValueError(f"{', '.join(scoring)} set how eval_data is scored: give eval_data too. Received: "
                             f"eval_data=None with " + ", ".join(f"{k}={v!r}" for k, v in scoring.items()))
        from groupvit.training.data.augment import AugmentConfig

        AugmentConfig(scale=tuple(self.crop_scale), flip=self.flip, color_jitter=self.color_jitter,
                      random_erasing=self.random_erasing, rand_augment=self.rand_augment,
                      interpolation=self.interpolation)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# Settings that define the run's numbers: a resumed run must use the stored ones.
RESUME_FIXED = ("steps", "epochs", "batch_size", "lr", "warmup_steps", "weight_decay", "clip_norm",
                "multi_label", "grouped_multi_label", "group_balance", "pooling_tau", "group_exclusivity",
                "group_naming", "prompt_templates", "freeze", "unfreeze", "seed", "shuffle_buffer",
                "bf16", "flip", "color_jitter", "random_erasing", "crop_scale", "rand_augment",
                "interpolation", "drop_path_rate")
