"""Zero-shot semantic segmentation with GroupViT (docs/computation.md), for either backend.

The math lives in numpy (`zero_shot`); `backends` adapts PyTorch and Keras models.
"""

from groupvit.segmentation.metrics import IoUResult, mean_iou
from groupvit.segmentation.result import SegmentationResult
from groupvit.segmentation.segmenter import Segmenter
from groupvit.segmentation.templates import IMAGENET_TEMPLATES, SEVEN_TEMPLATES, SINGLE_TEMPLATE

__all__ = ["IMAGENET_TEMPLATES", "IoUResult", "SEVEN_TEMPLATES", "SINGLE_TEMPLATE", "SegmentationResult",
           "Segmenter", "mean_iou"]
