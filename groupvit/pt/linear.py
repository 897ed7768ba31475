"""`GroupViTLinear`: `nn.Linear` whose inference path runs on oneDNN, with the activation fused when it can be.

PyTorch's `nn.Linear` on CPU calls MKL's sgemm. On this project's machines (AMD EPYC, AVX-512)
oneDNN's fp32 kernels were measured 7-35 % faster on GroupViT's shapes (e.g. [2080, 384] x
[384, 1536]: 13.6 ms vs 11.7 ms), and fusing the exact-erf GELU into the product saves a pass over
the MLP's widest tensor (16.0 ms vs 12.7 ms). Both are float32 throughout: measured against a
float64 product, MKL's largest error was 3.1e-6 and oneDNN's 4.6e-6 on outputs up to 5.1.

A bfloat16 layer (a bfloat16 model) takes the same op where the CPU has oneDNN's bfloat16 kernels:
measured on the default size's 2-D shapes it was 7-45 % faster than `F.linear` ([261, 384] x [384, 384]:
73 vs 104 us; [261, 384] x [384, 1536]: 141 vs 206 us) with bit-identical outputs there; its activation
is applied after the product, as on the plain path. Over the whole model the rounding is not always the
same (largest image-embedding difference 0.0045 at the default size), and agreement with float32 stayed
as measured before or improved (docs/precision.md).

Packed weights. Given its weight as it is, the oneDNN op reorders it into its blocked layout on every call;
given the weight already reordered (`torch.ops.mkldnn._reorder_linear_weight`, what `torch.compile`'s CPU
backend does to frozen weights) it skips that. With `set_weight_packing(True)` (off by default) the layer keeps
the reordered copy beside `weight` and uses it for products of at most PACKED_MAX_ROWS rows, where the reorder
weighs most against the product (default size, one thread, bfloat16: [128, 512] x [512, 2048] 241 vs 316 us;
float32 [261, 384] x [384, 1536] 1453 vs 1634 us; the outputs of the default size's products were bit-identical
to the unpacked op's, other shapes may round differently within float32). Over the whole model, in the
benchmark's round robin (benchmarks/RESULTS-packed.md), one image and 8 texts with segmentation ran 8 % faster
in bfloat16 and 1-5 % in float32 (medians 57.3 vs 57.8 ms: within the noise), 8 images no faster (1 %), for
148 MiB (float32) or 66 MiB (bfloat16) more peak memory at the default size and a slower first call: hence
opt-in. The copy is dropped when the layer is cast or moved (`.to()`, `.bfloat16()`, ...) and remade whenever
`weight` changes: another tensor, new storage, or an in-place write (`load_state_dict`, an optimiser step,
`nn.init`, anything under `torch.no_grad()`), which bump the tensor's version counter. A write through `.data`
bypasses that counter: after one, call `clear_packed_weights(model)`. Turning packing off frees nothing already
made (`clear_packed_weights` does). The copy is never saved, copied or pickled with the module.

The oneDNN op has no backward, so it serves only calls that need no gradient (`torch.no_grad()`,
`torch.inference_mode()`, or nothing requiring grad); training, other devices and dtypes,
`torch.autocast` (which must choose the product's dtype) and `torch.compile` (which picks its own
kernels) take `nn.Linear`'s path. State-dict keys are `nn.Linear`'s (`weight`, `bias`).
"""

from __future__ import annotations

import weakref

import torch
from torch import nn

from groupvit.pt.activations import get_activation

# activation name -> (oneDNN post-op, its algorithm); only those equal to groupvit.pt.activations'
FUSABLE_ACTIVATIONS: dict[str, tuple[str, str]] = {"gelu": ("gelu", "none"), "relu": ("relu", "")}


def _onednn_linear_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


_ONEDNN = _onednn_linear_available()
_ONEDNN_DTYPES = (torch.float32, torch.bfloat16) if _ONEDNN and torch.ops.mkldnn._is_mkldnn_bf16_supported() \
    else (torch.float32,)


# products of more rows than this use the weight as it is (for large products the packed layout measured no
# faster, and in bfloat16 slower: [2088, 384] x [384, 1536] 2041-2152 vs 1739 us)
PACKED_MAX_ROWS = 512
# the batch-size hint of oneDNN's reorder (rows of the products it is used for)
_PACK_HINT = 128
_PACKING = {"enabled": False}


def set_weight_packing(enabled: bool) -> None:
    """Turns the packed-weight copies of every `GroupViTLinear` on or off (the default), for all models."""
    _PACKING["enabled"] = bool(enabled) and _ONEDNN


def clear_packed_weights(model: nn.Module) -> None:
    """Drops the packed copies of `model`'s linear layers (they are remade on the next call if packing is on)."""
    for module in model.modules():
        if isinstance(module, GroupViTLinear):
            module.__dict__.pop("_packed", None)


class GroupViTLinear(nn.Linear):
    """`y = act(x W^T + b)`; `act` is applied by the caller unless `fused_activation` names one to fuse."""

    def __getstate__(self):  # pickling and deepcopy: the packed copy is a cache, remade on the next call
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state.pop("_packed", None)
        return state

    def _apply(self, fn, *args, **kwargs):
        # .to(), .float(), .bfloat16(), ... give the same Parameter new data and leave its version counter as it
        # was; the allocator may hand back the old address, so the key would match a copy of the old values
        self.__dict__.pop("_packed", None)
        return super()._apply(fn, *args, **kwargs)

    def _weight_for(self, x: torch.Tensor) -> torch.Tensor:
        """The weight for oneDNN's op: its packed copy for small products when packing is on, else itself."""
        weight = self.weight
        if (not _PACKING["enabled"] or x.numel() > PACKED_MAX_ROWS * x.shape[-1] or weight.is_inference()
                or torch.jit.is_tracing()):
            return weight
        key = (weight.data_ptr(), weight._version, weight.dtype, tuple(weight.shape))
        cached = self.__dict__.get("_packed")
        if cached is not None and cached[0]() is weight and cached[1] == key:
            return cached[2]
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach(), _PACK_HINT)
        self.__dict__["_packed"] = (weakref.ref(weight), key, packed)
        return packed

    def uses_onednn(self, x: torch.Tensor) -> bool:
        if not _ONEDNN or x.device.type != "cpu" or x.dtype != self.weight.dtype or x.dtype not in _ONEDNN_DTYPES:
            return False
        if torch.is_autocast_enabled("cpu") or torch.compiler.is_compiling():
            return False
        return not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))

    def forward(self, x: torch.Tensor, fused_activation: str | None = None) -> torch.Tensor:
        """`fused_activation`: a key of FUSABLE_ACTIVATIONS, applied inside the product when on oneDNN."""
        if self.uses_onednn(x):
            weight = self._weight_for(x)
            if x.dtype == torch.float32:
                post_op, algorithm = FUSABLE_ACTIVATIONS[fused_activation] if fused_activation else ("none", "")
                return torch.ops.mkldnn._linear_pointwise(x, weight, self.bias, post_op, [], algorithm)
            out = torch.ops.mkldnn._linear_pointwise(x, weight, self.bias, "none", [], "")
        else:
            out = nn.functional.linear(x, self.weight, self.bias)
        return get_activation(fused_activation)(out) if fused_activation else out
