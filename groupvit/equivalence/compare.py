"""Compare two backends' outputs: dense tensors by max abs/rel difference, hard decisions by margin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from groupvit.equivalence.tolerances import Tolerance, near_tie_bound


@dataclass
class Row:
    """One line of a comparison report."""

    name: str
    max_abs: float
    max_rel: float
    bound: float
    ok: bool
    agreement: float | None = None  # hard decisions: fraction identical
    near_ties: int | None = None  # hard decisions under the float-noise bound
    disagreements: int | None = None  # hard decisions that differ above the bound

    def format(self) -> str:
        base = f"{self.name:<44} {self.max_abs:10.3e} {self.max_rel:10.3e} {self.bound:10.3e}"
        if self.agreement is not None:
            base += f"  agree {100 * self.agreement:8.4f}%  near-ties {self.near_ties:6d}"
        return base + ("  ok" if self.ok else "  FAIL")


HEADER = f"{'output':<44} {'max abs':>10} {'max rel':>10} {'bound':>10}"


def compare_dense(name: str, reference: np.ndarray, other: np.ndarray, tolerance: Tolerance,
                  scale_floor: float = 0.0, amplification: float = 1.0, min_bound: float = 0.0) -> Row:
    """`scale_floor`: the scale a relative bound uses at least (values that are small by chance);
    `amplification`: how much the computation magnifies its inputs' rounding (>= 1); `min_bound`: the
    bound is never below it (tolerances.FLOAT32_FLOOR)."""
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    if reference.shape != other.shape:
        return Row(name, float("inf"), float("inf"), 0.0, False)
    diff = np.abs(reference - other)
    ref_max = max(float(np.abs(reference).max()) if reference.size else 0.0, scale_floor)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / np.maximum(np.abs(reference), 1e-30)).max()) if diff.size else 0.0
    bound = max(tolerance.bound(ref_max) * max(1.0, amplification), min_bound)
    ok = bool(np.isfinite(other).all()) and max_abs <= bound
    return Row(name, max_abs, max_rel, bound, ok)


def top_two_margin(scores: np.ndarray, axis: int) -> np.ndarray:
    part = -np.sort(-np.asarray(scores, np.float64), axis=axis)
    first = np.take(part, 0, axis=axis)
    second = np.take(part, 1, axis=axis) if part.shape[axis] > 1 else np.full_like(first, np.inf)
    return first - second


def compare_argmax(name: str, reference: np.ndarray, other: np.ndarray, axis: int, tolerance: Tolerance,
                   scale_floor: float = 0.0, amplification: float = 1.0) -> Row:
    """Argmax decisions must be identical wherever the reference's top-two margin exceeds the bound."""
    dense = compare_dense(name, reference, other, tolerance, scale_floor, amplification)
    if not np.isfinite(dense.max_abs):
        return dense
    ref_max = max(float(np.abs(reference).max()) if np.size(reference) else 0.0, scale_floor)
    bound = near_tie_bound(tolerance, ref_max) * max(1.0, amplification)
    same = np.argmax(reference, axis=axis) == np.argmax(other, axis=axis)
    clear = top_two_margin(reference, axis) > bound
    disagreements = int((~same & clear).sum())
    return Row(
        name, dense.max_abs, dense.max_rel, bound, disagreements == 0,
        agreement=float(same.mean()) if same.size else 1.0, near_ties=int((~clear).sum()),
        disagreements=disagreements,
    )
