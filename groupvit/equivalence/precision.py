"""How far a reduced-precision run (bfloat16, int8) is from float32 of the same backend (`groupvit verify --dtype`).

A float32 tolerance is the wrong question for bfloat16 (8 mantissa bits) or int8: what users need to know
is how much it changes, so each output gets its largest absolute and relative difference and, for the
embeddings and features, the smallest row cosine; every hard decision gets its agreement: the token to
group assignment of each stage (share of tokens whose group is the same, overall and where float32's
margin is clear) and the segmentation map (share of pixels with the same text).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COSINE_OUTPUTS = ("image_embeds", "text_embeds", "image_features", "text_features", "group_features")
CLEAR_MARGIN = 1e-3  # soft-assignment probability gap between float32's best two groups


@dataclass
class AgreementRow:
    name: str
    max_abs: float
    max_rel: float  # max_abs / max |float32|
    cosine: float | None = None  # smallest row cosine (embeddings and features)
    agreement: float | None = None  # share of equal hard decisions
    clear_agreement: float | None = None  # the same where float32's margin is clear
    decisions: int = 0

    def format(self) -> str:
        if self.decisions:  # a hard decision: agreement only
            diff = f"{'':>10} {'':>10}"
        else:
            diff = f"{self.max_abs:>10.3e} {self.max_rel:>10.3e}"
        cos = "" if self.cosine is None else f"{self.cosine:.6f}"
        agree = "" if self.agreement is None else f"{100 * self.agreement:.2f} %"
        clear = "" if self.clear_agreement is None else f"{100 * self.clear_agreement:.2f} %"
        return f"{self.name:<34} {diff} {cos:>10} {agree:>10} {clear:>10}"


HEADER = (f"{'output':<34} {'max abs':>10} {'max rel':>10} {'min cos':>10} {'agree':>10} {'clear':>10}\n"
          + "-" * 89)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.reshape(-1, a.shape[-1]).astype(np.float64)
    b = b.reshape(-1, b.shape[-1]).astype(np.float64)
    cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-30)
    return float(cos.min())


def compare_precision(reference: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> list[AgreementRow]:
    """Rows for every output both runs have (float32 `reference`, reduced `other`), hard decisions last."""
    rows = []
    for name in sorted(set(reference) & set(other)):
        ref, out = np.asarray(reference[name], np.float64), np.asarray(other[name], np.float64)
        if ref.shape != out.shape:
            raise ValueError(f"{name}: shapes differ between the runs: {ref.shape} vs {out.shape}")
        if not np.isfinite(out).all():
            rows.append(AgreementRow(name + " (NOT FINITE)", float("inf"), float("inf")))
            continue
        diff = float(np.abs(ref - out).max()) if ref.size else 0.0
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        cosine = _cosine(ref, out) if name in COSINE_OUTPUTS and ref.ndim >= 1 and ref.size else None
        rows.append(AgreementRow(name, diff, diff / scale if scale > 0 else 0.0, cosine))
    for name in sorted(k for k in reference if k.startswith("vision.attentions.") and k in other):
        ref, out = reference[name], other[name]  # [B, O, N] soft maps, groups on axis 1
        top2 = np.sort(ref, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > CLEAR_MARGIN
        same = ref.argmax(axis=1) == out.argmax(axis=1)
        rows.append(AgreementRow(f"assignment stage {name.rsplit('.', 1)[1]}", 0.0, 0.0, None, float(same.mean()),
                                 float(same[clear].mean()) if clear.any() else None, int(same.size)))
    if "segmentation_logits" in reference and "segmentation_logits" in other:
        ref, out = reference["segmentation_logits"], other["segmentation_logits"]  # [B, T, H, W]
        top2 = np.sort(ref, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 1e-3 * np.abs(ref).max()
        same = ref.argmax(axis=1) == out.argmax(axis=1)
        rows.append(AgreementRow("segmentation map (pixels)", 0.0, 0.0, None, float(same.mean()),
                                 float(same[clear].mean()) if clear.any() else None, int(same.size)))
    return rows
