"""Reduced precision (bfloat16, int8) for the PyTorch model, and the float32 islands it keeps.

A bfloat16 model (`from_pretrained(..., torch_dtype=torch.bfloat16)`, `model.to(torch.bfloat16)`) or a
float32 model under `torch.autocast("cpu", dtype=torch.bfloat16)` runs its matrix products in bfloat16;
the group assignment's logits, softmax and argmax, attention maps returned to the caller, the final
L2 normalisation, the logit scale and everything after it (logits, segmentation) stay float32 (see
`float32_island`). Measured at the default size (random weights, docs/precision.md), the float32
assignment raised the first stage's token-assignment agreement with float32 from 74 % to 82 %
(every token with a clear margin agreed in both) and halved the segmentation logits' largest error.
For a float32 model every island is a no-op, so float32 stays exact to the reference.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

# the names `dtype` / `torch_dtype` take; float16 as transformers allows it (the same float32 islands; on CPUs
# without float16 arithmetic it is slower than bfloat16, which the library measures and recommends)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
REDUCED = (torch.bfloat16, torch.float16)


def widen(x: torch.Tensor) -> torch.Tensor:
    """`x` in float32 when it is a reduced float (bfloat16, float16); float32 and float64 unchanged."""
    return x.float() if x.dtype in REDUCED else x


def float32_island(tensor: torch.Tensor):
    """A context in which torch.autocast (when on for `tensor`'s device) leaves float32 products in float32."""
    if torch.is_autocast_enabled(tensor.device.type):
        return torch.autocast(tensor.device.type, enabled=False)
    return contextlib.nullcontext()


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    """None, a torch floating dtype or its name ("float32", "bfloat16") as a torch dtype (None stays None)."""
    if dtype is None or dtype == "auto":
        return None
    if isinstance(dtype, torch.dtype):
        if dtype not in DTYPES.values():
            raise ValueError(f"torch_dtype must be one of {sorted(DTYPES)}. Received: torch_dtype={dtype}")
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"torch_dtype must be one of {sorted(DTYPES)} (or a torch dtype). Received: {dtype!r}")
    return DTYPES[dtype]


class Int8Linear(nn.Module):
    """A linear layer quantized by torch.ao's dynamic int8 kernel (int8 weights, activations quantized per call),
    with `GroupViTLinear`'s `fused_activation` argument applied after it."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import default_dynamic_qconfig

        plain = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        plain.load_state_dict(linear.state_dict())
        plain.qconfig = default_dynamic_qconfig
        self.quantized = DynamicLinear.from_float(plain)

    def forward(self, x: torch.Tensor, fused_activation: str | None = None) -> torch.Tensor:
        from groupvit.pt.activations import get_activation

        out = self.quantized(x)
        return get_activation(fused_activation)(out) if fused_activation else out


def quantize_int8(model: nn.Module) -> nn.Module:
    """Dynamic int8 quantization (torch.ao) of every linear layer of a float32 model, in place; returns it in
    eval mode, for inference only. The patch embedding (a convolution), norms, attention products and the
    group assignment stay float32."""
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes != {torch.float32}:
        raise ValueError("int8 quantization starts from a float32 model. "
                         f"Received parameters of {sorted(map(str, dtypes))}")
    from groupvit.pt.assign_attention import GroupViTAssignAttention

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Linear):
                continue
            if isinstance(parent, GroupViTAssignAttention) and name in ("q_proj", "k_proj"):
                continue  # the assignment's logits: int8 there flipped most token-group decisions (precision.md)
            setattr(parent, name, Int8Linear(child))
    return model.eval()
