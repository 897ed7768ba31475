"""The authors' learning-rate schedule, per optimiser step: linear warm-up, then cosine to a floor.

Framework-neutral (plain floats): both trainers call `lr_at(step)`, so the PyTorch and the Keras
runs use the very same number at every step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

AUTHORS_GLOBAL_BATCH = 4096
AUTHORS_BASE_LR = 1.6e-3
AUTHORS_WARMUP_LR = 4e-6
AUTHORS_MIN_LR = 4e-5


def scaled_lr(lr: float, global_batch: int) -> float:
    """The authors' linear scaling rule: `lr * global_batch / 4096`."""
    return lr * global_batch / AUTHORS_GLOBAL_BATCH


@dataclass(frozen=True)
class CosineSchedule:
    """`lr_at(step)` for step = 0, 1, ... (the step about to be taken).

    Warm-up: `warmup_lr + (base_lr - warmup_lr) * step / warmup_steps` for step < warmup_steps;
    then `min_lr + (base_lr - min_lr) * (1 + cos(pi * step / total_steps)) / 2`: timm's CosineLRScheduler
    per step as the authors build it (utils/lr_scheduler.py: `t_initial` = all steps, timm's default
    `warmup_prefix=False`), so the cosine is measured from step 0 and the rate right after the warm-up is
    already a little below `base_lr` (0.989 x at 2 of 30 epochs). (The authors update the rate after each
    optimiser step, so their step k uses this schedule's k - 1: not reproduced, a one-step shift.)
    """

    base_lr: float
    total_steps: int
    warmup_steps: int = 0
    warmup_lr: float = AUTHORS_WARMUP_LR
    min_lr: float = AUTHORS_MIN_LR

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1. Received: total_steps={self.total_steps}")
        if not 0 <= self.warmup_steps < self.total_steps:
            raise ValueError(
                "warmup_steps must be >= 0 and below total_steps. "
                f"Received: warmup_steps={self.warmup_steps}, total_steps={self.total_steps}"
            )
        if not (self.base_lr > 0 and self.warmup_lr >= 0 and self.min_lr >= 0):
            raise ValueError(
                "Learning rates must be positive (base) and non-negative (warm-up, floor). "
                f"Received: base_lr={self.base_lr}, warmup_lr={self.warmup_lr}, min_lr={self.min_lr}"
            )

    def lr_at(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.warmup_lr + (self.base_lr - self.warmup_lr) * step / self.warmup_steps
        t = min(step, self.total_steps)
        return self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t / self.total_steps))

    def to_dict(self) -> dict:
        return {"base_lr": self.base_lr, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps,
                "warmup_lr": self.warmup_lr, "min_lr": self.min_lr}
