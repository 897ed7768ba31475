"""How closely the PyTorch and Keras backends must agree, with the reason for each bound.

One table, used by the equivalence tests and by `groupvit verify`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """Bound on max |reference - other|: `atol` times a scale chosen by `scale`.

    scale "absolute": 1; "max": max |reference|; "max_or_one": max(1, max |reference|), i.e.
    absolute for values of order one and relative for larger ones.
    """

    atol: float
    scale: str
    why: str

    def bound(self, reference_max: float) -> float:
        if self.scale == "max":
            return self.atol * reference_max
        if self.scale == "max_or_one":
            return self.atol * max(1.0, reference_max)
        return self.atol


ACTIVATION = Tolerance(
    1e-5, "max_or_one",
    "float32 activations of two implementations that order sums differently differ by a few ulp "
    "(measured ~1e-6 relative at default size: 1.4e-5 on a text residual stream of magnitude 15); "
    "1e-5 absolute for values of order one, relative to the largest value for the residual streams "
    "that grow past one. A real bug (a transposed kernel, a wrong epsilon) moves them by 1e-3 or more.",
)
LOGITS = Tolerance(
    1e-5, "max",
    "logits are s * cos with s = exp(logit_scale) and |cos| <= 1, and float32 rounds relative to size: "
    "1e-5 relative to their largest possible value s (compare_outputs passes s as the scale floor), i.e. "
    "1e-5 on the cosines. Measured: ~1e-6 at default size; up to 1.1e-5 on logits of 0.06 with s = 3.8 "
    "in random tiny configs, where the cosines themselves are near zero.",
)
SEGMENTATION_LOGITS = Tolerance(
    1e-5, "max",
    "segmentation logits are s = exp(logit_scale) times group logits that are held like logits to 1e-5 "
    "(values up to s^2 ~ 200): 1e-5 relative to the largest |value|, and never below 1e-5 x s, the "
    "error the group logits may carry even where the values happen to be small.",
)
GRADIENT = Tolerance(
    1e-4, "max_or_one",
    "a backward pass accumulates the rounding of the forward pass and of every reduction over the batch "
    "and tokens again; 1e-4 absolute for gradients of order one, relative to the tensor's largest "
    "gradient beyond that (random tiny models reach |grad| ~ 15, measured error 1.5e-4 there).",
)
LOSS = Tolerance(
    2e-5, "absolute",
    "cross-entropy changes by at most 2 x the largest change of its logits (the l1 norm of its gradient "
    "is at most 2), so logits held to 1e-5 give a loss within 2e-5.",
)

# A hard decision (argmax over groups or classes) can only differ between the backends where the
# reference's top-two margin is within the combined error of the two scores: with elementwise error
# at most e, a flip needs margin < 2e. Decisions with a margin above this bound must be identical.
NEAR_TIE_FACTOR = 2.0


def near_tie_bound(tolerance: Tolerance, reference_max: float) -> float:
    """Top-two margin under which a hard decision counts as a float-noise near-tie."""
    return NEAR_TIE_FACTOR * tolerance.bound(reference_max)

# ----- training: PyTorch (TorchTrainer) vs Keras (KerasTrainer) after a few optimiser steps -------------
# Both start from the same weights and take the same batches, Gumbel noise and learning rates; each
# step's float32 gradients differ by re-association (GRADIENT above), and AdamW divides every
# moment by its own root, so a gradient that is off by a relative e moves a parameter by about
# e * lr per step. Measured on the tiny two-grouping config, 5 steps, lr <= 2e-3, clip 1.0 (active
# at every step), weight decay 0.05, K = 2 and K = 0; the bounds are a few times the measurement.
TRAINING_LOSS = Tolerance(
    5e-5, "absolute",
    "the loss of step t is a forward (LOSS, 2e-5) on weights already off by t steps of float noise. "
    "Measured max 1.3e-5 over 5 steps; a wrong rule (no clip, decay on a bias, lr off by a step) moves it "
    "by 1e-3 or more within the 5 steps.",
)
TRAINING_GRAD_NORM = Tolerance(
    2.5e-4, "max",
    "the pre-clip global gradient norm, relative to itself: at step t a backward pass (GRADIENT, 1e-4) on "
    "weights already off by t steps of float noise, which the steps amplify. Measured over 5 weight seeds x "
    "2 losses (tests/equivalence's 5-step runs): max 1.17e-4 at step 4 (Keras' fused ResourceApplyAdam; "
    "7.4e-5 with an update written op by op); PyTorch's own fused AdamW differs from its single-tensor one "
    "by 2.4e-5 on the same run. A wrong norm (no square root, the sum instead of the norm of the norms, "
    "the norm after clipping) is off by 1e-2 or more.",
)
TRAINING_WEIGHT = Tolerance(
    2e-5, "max_or_one",
    "weights (and BatchNorm running statistics, logit_scale, the multi-label scale) after 5 steps whose true "
    "gradient is not zero: each step moves them by ~lr times m / sqrt(v), and float noise in the gradient "
    "changes that by far less than lr. Measured max 3.8e-6 on values of order one; one wrong step moves "
    "weights by ~lr = 1e-3.",
)
TRAINING_MOMENT = Tolerance(
    4e-4, "max",
    "AdamW moments are running means of the gradient (and its square, whose relative error doubles), so "
    "they carry GRADIENT's relative error: bound relative to the tensor's largest |moment|. Measured max "
    "9.6e-5 (exp_avg_sq of a LayerNorm weight).",
)
TRAINING_DRIFT = Tolerance(
    2.0 * 0.1 / 0.001**0.5, "max",
    "parameters whose true gradient is exactly zero (tests/training_invariants.py lists them, checked in "
    "float64) and the BatchNorm running means after them: their float32 gradient is rounding noise that "
    "AdamW's m / sqrt(v) turns into steps of up to lr * (1 - b1) / sqrt(1 - b2) = 3.16 lr each (Kingma & "
    "Ba 2015, section 2.1), in either direction, so two runs can differ by twice that summed over the steps; "
    "the reference passed to bound() is the sum of the learning rates. Measured 2.8e-3 for a sum of 2.2e-2. "
    "They change nothing the model computes.",
)
TRAINING_DRIFT_MOMENT = Tolerance(
    2e-7, "absolute",
    "moments of those zero-gradient parameters are running means of rounding noise, compared absolutely "
    "(relative to themselves they differ by 100%). Measured max 2.6e-8; a real gradient there would be "
    "of order 1e-3 or more.",
)

# `groupvit verify` (a checkpoint, or an export) also runs its PyTorch reference in float64 and never holds an
# output tighter than this many times the reference's own float32 error on that input.
FLOAT32_FLOOR = 2.0
FLOAT32_FLOOR_REASON = (
    "two float32 implementations can each be as far as float32 is from the exact (float64) answer, in opposite "
    "directions: twice the reference's measured own error. It matters where a trained model amplifies "
    "rounding beyond the fixed bounds: shapes-tiny's first assignment softmax, whose float32 attention maps "
    "are 3.8e-5 from float64 (the fixed bound is 1e-5; Keras differs from PyTorch by 2.2e-5). A bug moves "
    "an output by far more than float32's own error, so this floor cannot hide one."
)
