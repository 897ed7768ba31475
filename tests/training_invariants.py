"""Parameters whose true gradient is exactly zero in GroupViT, and how far Adam moves them anyway.

Each is cancelled by an invariance of the computation that follows it: a key bias adds the
same value to every score a softmax over keys compares; the assignment's query bias adds a
per-token constant the softmax over groups ignores; a bias before a LayerNorm over channels
(token-mixer outputs, group-projector outputs reaching `norm_tokens`) or before a BatchNorm
(final norms' biases through the mean pool into the head's first Linear, and that Linear's
bias) is removed by the norm's centring. Their float32 gradients are rounding noise, and
AdamW divides the moment by its own root, so noise of any size becomes steps of about `lr`:
two runs that sum in another order (2 ranks vs 1, PyTorch vs Keras) move them differently,
by at most Adam's step bound summed over the steps. `test_zero_gradients.py` checks the list in float64.
The BatchNorm running means after those Linears inherit that drift.
"""

from __future__ import annotations

ZERO_GRADIENT_SUFFIXES = (
    "self_attn.k_proj.bias", "pre_assign_attn.attn.k_proj.bias", "assign.q_proj.bias", "mlp_inter.fc2.bias",
    "group_projector.1.fc2.bias", "vision_model.layernorm.bias", "final_layer_norm.bias",
    "visual_projection.0.bias", "text_projection.0.bias",
)
DRIFTING_BUFFERS = ("visual_projection.1.running_mean", "text_projection.1.running_mean")


def zero_gradient(name: str) -> bool:
    return name.endswith(ZERO_GRADIENT_SUFFIXES)


def drifts(name: str) -> bool:
    """Zero-gradient parameters and the buffers that follow them."""
    return zero_gradient(name) or name in DRIFTING_BUFFERS


def adam_drift_bound(learning_rates) -> float:
    """The most two runs can differ on such a parameter (TRAINING_DRIFT of the tolerance table)."""
    from groupvit.equivalence.tolerances import TRAINING_DRIFT

    return TRAINING_DRIFT.bound(float(sum(learning_rates)))
