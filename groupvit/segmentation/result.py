"""`SegmentationResult`: what `Segmenter.segment` returns for one image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SegmentationResult:
    """Zero-shot segmentation of one image, at its original size H0 x W0.

    labels: int64 [H0, W0], 0 = background, c + 1 = class c of `class_names`.
    confidence: float32 [H0, W0], the best class score of each pixel (also where background won).
    class_scores: float [C], image-level class probabilities softmax(z T^T s) (averaged over
        windows in sliding mode).
    top_classes: the classes kept by the top-k mask (whole mode; the union over windows when sliding).
    group_maps: per grouping stage, int [H0, W0] group index of every pixel (whole mode only; empty when sliding).
    group_to_class: int [O] best class of each final group (whole mode only, else None).
    group_affinity: float [O, C] the masked affinity `aff` of docs/computation.md (whole mode only, else None).
    scores: float32 [C + 1, H0, W0] the logits behind `labels` (channel 0 the background vote).
    input_hw: the size of the model input (the resized image).
    """

    labels: np.ndarray
    confidence: np.ndarray
    class_scores: np.ndarray
    class_names: list[str]
    top_classes: np.ndarray
    group_maps: list[np.ndarray] = field(default_factory=list)
    group_to_class: np.ndarray | None = None
    group_affinity: np.ndarray | None = None
    scores: np.ndarray | None = None
    input_hw: tuple[int, int] = (0, 0)

    def label_name(self, label: int) -> str:
        return "background" if label == 0 else self.class_names[label - 1]

    def summary(self) -> dict:
        """JSON-ready: pixel share per present label, image-level scores, group assignment."""
        total = self.labels.size
        values, counts = np.unique(self.labels, return_counts=True)
        return {
            "size": [int(self.labels.shape[0]), int(self.labels.shape[1])],
            "input_size": [int(self.input_hw[0]), int(self.input_hw[1])],
            "segments": [
                {"label": int(v), "name": self.label_name(int(v)), "pixel_fraction": round(float(c) / total, 6),
                 "mean_confidence": round(float(self.confidence[self.labels == v].mean()), 6)}
                for v, c in zip(values, counts)
            ],
            "class_scores": {n: round(float(s), 6) for n, s in zip(self.class_names, self.class_scores)},
            "top_classes": [self.class_names[i] for i in self.top_classes],
            "group_to_class": None if self.group_to_class is None
            else [self.class_names[i] for i in self.group_to_class],
        }
