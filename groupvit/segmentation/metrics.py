"""Per-class IoU and mIoU over label maps (pure numpy)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass
class IoUResult:
    """per_class: IoU per class (nan where a class is in neither prediction nor ground truth);
    mean: nanmean of per_class; intersection / union: pixel counts per class."""

    per_class: np.ndarray
    mean: float
    intersection: np.ndarray
    union: np.ndarray


def mean_iou(
    pred_label_maps: Iterable[np.ndarray], gt_label_maps: Iterable[np.ndarray], num_classes: int,
    ignore_index: int = 255,
) -> IoUResult:
    """Accumulated over all images: IoU_c = |pred = c and gt = c| / |pred = c or gt = c|, pixels with
    gt == ignore_index left out; mIoU averages the classes that occur (as mmseg does)."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive. Received: num_classes={num_classes}")
    intersection = np.zeros(num_classes, np.int64)
    pred_area = np.zeros(num_classes, np.int64)
    gt_area = np.zeros(num_classes, np.int64)
    pairs = 0
    for pred, gt in zip(pred_label_maps, gt_label_maps, strict=True):
        pred, gt = np.asarray(pred), np.asarray(gt)
        if pred.shape != gt.shape:
            raise ValueError(
                f"Prediction and ground truth must have the same shape. Received: {pred.shape} vs {gt.shape}"
            )
        keep = gt != ignore_index
        pred, gt = pred[keep].astype(np.int64), gt[keep].astype(np.int64)
        for name, values in (("prediction", pred), ("ground truth", gt)):
            if values.size and (values.min() < 0 or values.max() >= num_classes):
                raise ValueError(f"{name} labels must lie in [0, {num_classes}) or be {ignore_index}. "
                                 f"Received: min={values.min()}, max={values.max()}")
        intersection += np.bincount(pred[pred == gt], minlength=num_classes)
        pred_area += np.bincount(pred, minlength=num_classes)
        gt_area += np.bincount(gt, minlength=num_classes)
        pairs += 1
    if pairs == 0:
        raise ValueError("mean_iou needs at least one pair of label maps. Received: none")
    union = pred_area + gt_area - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, intersection / np.maximum(union, 1), np.nan)
    mean = float(np.nanmean(per_class)) if np.any(union > 0) else float("nan")
    return IoUResult(per_class=per_class, mean=mean, intersection=intersection, union=union)
