"""Cross-backend equivalence: tolerances, comparisons, and the runner behind `groupvit verify`."""

from groupvit.equivalence.compare import HEADER, Row, compare_argmax, compare_dense
from groupvit.equivalence.tolerances import ACTIVATION, GRADIENT, LOGITS, LOSS, SEGMENTATION_LOGITS, Tolerance

__all__ = [
    "ACTIVATION", "GRADIENT", "HEADER", "LOGITS", "LOSS", "Row", "SEGMENTATION_LOGITS", "Tolerance",
    "compare_argmax", "compare_dense",
]
