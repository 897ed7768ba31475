"""bfloat16 for the Keras model: Keras' own conventions, with the float32 islands of the PyTorch model.

`TFGroupViTModel(config, dtype="mixed_bfloat16")` (or `keras.config.set_dtype_policy("mixed_bfloat16")`
before building it) computes in bfloat16 with float32 variables, so the weight bridge loads float32
checkpoints into it and writes float32 back unchanged; each call casts the weights it multiplies.
`dtype="bfloat16"` stores the variables in bfloat16 too, like PyTorch's `torch_dtype=torch.bfloat16`: a
float32 checkpoint is rounded to bfloat16 once, on loading, and the bridge writes those values back as
float32 (exactly); the logit scale stays a float32 variable. Under either policy the assignment logits,
softmax and argmax, the attention softmax (and its mask), the layer norms' statistics, the final L2
normalisation, the logit scale and everything after it stay float32, as in groupvit.pt.precision.
"""

from __future__ import annotations

import contextlib

import keras

POLICIES = ("float32", "mixed_bfloat16", "bfloat16")


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Build layers under `policy` (None: the global policy, which must be one of POLICIES too), then restore
    the global one."""
    if policy is None:
        name = keras.config.dtype_policy().name
        if name not in POLICIES:
            raise ValueError(f"The global dtype policy must be one of {POLICIES} for a GroupViT Keras model (or "
                             f"pass dtype=). Received: keras.config.dtype_policy()={name!r}")
        yield
        return
    name = policy if isinstance(policy, str) else getattr(policy, "name", str(policy))
    if name not in POLICIES:
        raise ValueError(f"dtype must be one of {POLICIES} for a GroupViT Keras model. "
                         f"Received: dtype={name!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
