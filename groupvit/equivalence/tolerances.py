"""How closely the PyTorch and Keras backends must agree, with the reason for each bound.

One table, used by the equivalence tests and by `groupvit verify`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    atol: float
    relative_to_max: bool  # if True the bound is atol * max |reference|
    why: str

    def bound(self, reference_max: float) -> float:
        return self.atol * reference_max if self.relative_to_max else self.atol


ACTIVATION = Tolerance(
    1e-5, False,
    "float32 activations of two implementations that order sums differently differ by ~1e-7 per layer; "
    "1e-5 absolute leaves room for the 12 layers and the three grouping stages, and a real bug "
    "(a transposed kernel, a wrong epsilon) moves them by 1e-3 or more.",
)
LOGITS = Tolerance(
    1e-5, False,
    "logits are cosines (|x| <= 1, error ~1e-7) times exp(logit_scale) ~ 14; 1e-5 absolute as in the "
    "reference port's own PyTorch/TensorFlow agreement (~6e-6).",
)
SEGMENTATION_LOGITS = Tolerance(
    1e-5, True,
    "segmentation logits carry the logit scale twice (values up to ~200), so their rounding grows with "
    "their size: 1e-5 relative to the largest |value|.",
)
GRADIENT = Tolerance(
    1e-4, False,
    "a backward pass accumulates the rounding of the forward pass and of every reduction over the batch "
    "and tokens again; 1e-4 absolute on gradients of an O(1) loss.",
)
LOSS = Tolerance(1e-5, False, "the loss is a mean of cross-entropies of logits held to 1e-5.")

# A hard decision (argmax over groups or classes) can only differ between the backends where the
# reference's top-two margin is within the combined error of the two scores: with elementwise error
# at most e, a flip needs margin < 2e. Decisions with a margin above this bound must be identical.
NEAR_TIE_FACTOR = 2.0


def near_tie_bound(tolerance: Tolerance, reference_max: float) -> float:
    """Top-two margin under which a hard decision counts as a float-noise near-tie."""
    return NEAR_TIE_FACTOR * tolerance.bound(reference_max)
