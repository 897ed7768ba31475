"""Base class of the PyTorch models: weight init, strict loading, `from_pretrained` / `save_pretrained`."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from groupvit.configs import GroupViTConfig, GroupViTTextConfig, GroupViTVisionConfig
from groupvit.pt.attention import GroupViTAttention
from groupvit.pt.mlp import GroupViTMLP
from groupvit.pt.precision import resolve_dtype, widen
from groupvit.pt.text_embeddings import GroupViTTextEmbeddings
from groupvit.weights_bridge.model_files import (auto_dtype, check_loading_options, config_overrides,
                                                  load_with_overrides, loading_info, locate_for_model, save_for_model)
from groupvit.weights_bridge.strict import check_weights

AnyConfig = GroupViTConfig | GroupViTTextConfig | GroupViTVisionConfig


_INIT_FUNCTIONS = frozenset(getattr(nn.init, name) for name in (
    "normal_", "uniform_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
    "zeros_", "ones_", "constant_", "orthogonal_") if hasattr(nn.init, name))


_SETTLE_BYTES = 32 * 2**20 - 2 * 4096  # just under glibc's largest dynamic mmap threshold (32 MiB on 64-bit)


def _settle_allocator() -> None:
    """Free one 32 MiB block, untouched: glibc's malloc then serves blocks up to that size from its heap, reused
    call after call, instead of mapping (and page-faulting) fresh memory for every large activation and unmapping
    it again. glibc raises that threshold itself the first time it frees a block of that size; a model built and
    initialised in memory does so, one read straight into its own tensors (from_pretrained) does not. Measured at
    the default size, float32, 1 image x 8 texts with segmentation, 2 threads: 51.3 ms a call before, 47.1 ms after
    (the transformers port: 47.2). Nothing is written, so no memory stays in use; other allocators ignore it."""
    block = np.empty(_SETTLE_BYTES, dtype=np.uint8)
    del block


class _SkipRandomInit(TorchFunctionMode):
    """`torch.nn.init`'s functions leave their tensor as it is while a model is built on the meta device to be
    loaded: every weight then comes from the file, and a random draw on a meta tensor goes through
    `torch._refs`, whose first use imports `torch._dynamo` and sympy (measured at the default size: 37 MiB of
    the peak RSS of `from_pretrained`). A torch-function mode is per thread: a model initialised in another
    thread at the same time keeps its random draws."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _INIT_FUNCTIONS:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **kwargs)


class GroupViTPreTrainedModel(nn.Module):
    """Shared behaviour of `GroupViTModel`, `GroupViTTextModel` and `GroupViTVisionModel`."""

    config_class: ClassVar[type] = GroupViTConfig
    base_model_prefix: ClassVar[str] = "groupvit"
    main_input_name: ClassVar[str] = "input_ids"

    @property
    def device(self) -> torch.device:
        """The device of the parameters (as transformers' `PreTrainedModel.device`)."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the floating-point parameters: bfloat16 for a bfloat16 model, though its float32 islands
        (the logit scale, the norms' statistics) stay float32."""
        dtypes = [p.dtype for p in self.parameters() if p.is_floating_point()]
        return next((d for d in dtypes if d != torch.float32), torch.float32) if dtypes else torch.float32

    def num_parameters(self, only_trainable: bool = False, exclude_embeddings: bool = False) -> int:
        """How many parameters (as transformers'): only those that require grad with `only_trainable`, without
        the token / position embedding tables with `exclude_embeddings`."""
        embeddings = {id(m.weight) for m in self.modules() if isinstance(m, nn.Embedding)}
        return sum(p.numel() for p in self.parameters()
                   if (p.requires_grad or not only_trainable) and not (exclude_embeddings and id(p) in embeddings))

    def __init__(self, config: AnyConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}. Received: {type(config).__name__}"
            )
        self.config = config

    # ----- initialization (as the reference port) -------------------------------------------
    def _init_weights(self, module: nn.Module, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        factor = config.initializer_factor
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.normal_(module.weight, mean=0.0, std=config.initializer_range)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        if isinstance(module, GroupViTTextEmbeddings):
            nn.init.normal_(module.token_embedding.weight, std=factor * 0.02)
            nn.init.normal_(module.position_embedding.weight, std=factor * 0.02)
        elif isinstance(module, GroupViTAttention):
            in_std = module.embed_dim**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
            for proj in (module.q_proj, module.k_proj, module.v_proj):
                nn.init.normal_(proj.weight, std=in_std)
            nn.init.normal_(module.out_proj.weight, std=module.embed_dim**-0.5 * factor)
        elif isinstance(module, GroupViTMLP):
            in_std = config.hidden_size**-0.5 * (2 * config.num_hidden_layers) ** -0.5 * factor
            nn.init.normal_(module.fc1.weight, std=(2 * config.hidden_size) ** -0.5 * factor)
            nn.init.normal_(module.fc2.weight, std=in_std)

    def _init_tower(self, tower: nn.Module, config: GroupViTTextConfig | GroupViTVisionConfig) -> None:
        """The port's random init. Children before their parents, as `nn.Module.apply` (the port's
        `post_init`): an attention or MLP module's own stds then win over the generic linear one."""
        with torch.no_grad():
            tower.apply(lambda module: self._init_weights(module, config))

    # ----- loading and saving ------------------------------------------------------------------
    def load_weights(self, state: dict[str, Any], source: str = "the given state dict", *,
                     assign: bool = False) -> None:
        """Strictly load a state dict (tensors or numpy arrays) keyed as docs/checkpoints.md.

        One ValueError lists every missing, unexpected and mis-shaped key; only
        `text_model.embeddings.position_ids` may be extra and `num_batches_tracked` absent.
        `assign=True` (for a model built on the meta device) makes each array the storage of its
        parameter or buffer, cast to the model's dtype (a no-op for float32 files), and takes the
        arrays out of `state` (left empty) as it goes, so loading holds one copy of the weights, not
        two: a float32 file loaded into a bfloat16 model frees each float32 array once it is cast.
        """
        given = state
        state = check_weights(self.config, state, source, fill_optional=True)
        if assign:
            given.clear()  # `state` now holds the only references
        dtypes = {k: v.dtype for k, v in self.state_dict(keep_vars=True).items()}
        tensors = {}
        for key in list(state):
            value = state.pop(key)  # drop our reference as we go
            if not isinstance(value, (np.ndarray, torch.Tensor)):
                value = np.asarray(value)  # a StoredArray of a lazily read file: read now, one tensor at a time
            tensor = torch.from_numpy(np.require(value, requirements=["C", "W"])) if isinstance(value, np.ndarray) \
                else value
            tensors[key] = tensor.to(dtypes[key]) if assign else tensor
        self.load_state_dict(tensors, strict=True, assign=assign)
        if assign:
            for module in self.modules():
                if isinstance(module, GroupViTTextEmbeddings):
                    module.reset_position_ids()  # the one non-persistent buffer: not in any checkpoint

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, config: AnyConfig | None = None, *,
                        revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool | None = None, torch_dtype: str | torch.dtype | None = None,
                        dtype: str | torch.dtype | None = None, subfolder: str = "", from_tf: bool = False,
                        use_safetensors: bool | None = None, output_loading_info: bool = False,
                        low_cpu_mem_usage: bool | None = None, token: str | bool | None = None,
                        force_download: bool = False, ignore_mismatched_sizes: bool = False,
                        attn_implementation: str | None = None, **config_kwargs: Any):
        """Load a checkpoint in any format of the weight bridge, strictly, in eval mode.

        `path`: a directory (config.json + model.safetensors, pytorch_model.bin, tf_model.h5,
        model.weights.h5 or an authors' .pth) or a weight file with a config.json beside it.
        A text or vision model also takes its part of a full GroupViT checkpoint.
        `path` may also be a shipped model's name (`shapes-tiny`) or a Hugging Face hub id (`org/name`,
        with `revision`, `cache_dir`, `local_files_only`; groupvit.hub).
        `dtype` (transformers 5's name; `torch_dtype` as in 4.x): torch.bfloat16 / "bfloat16" gives a bfloat16 model
        (float32 islands: groupvit.pt.precision), float16 likewise; None or float32 a float32 model, whatever the
        file stores (bfloat16 and float16 tensors are widened exactly); "auto" the dtype named in config.json
        (`dtype` or `torch_dtype`: bfloat16 or float16 as named, anything else float32).
        transformers' `subfolder`, `from_tf` (read tf_model.h5 first), `use_safetensors` and
        `output_loading_info` (returns `(model, info)`; loading is strict, so the info's lists are empty) work as
        there; `low_cpu_mem_usage` is accepted and changes nothing (loading never holds two copies); `token`
        and `force_download` go to huggingface_hub; `attn_implementation` may be "eager" or "sdpa" (the same
        attention here) and `ignore_mismatched_sizes` must stay False (loading is strict). Other keyword
        arguments set config fields (`output_segmentation=True`, `output_hidden_states=True`), as in the ports.
        """
        overrides, unknown = config_overrides(cls.config_class, config_kwargs)
        if unknown:
            raise TypeError(f"{cls.__name__}.from_pretrained's other keyword arguments must be fields of "
                            f"{cls.config_class.__name__}. Received: {sorted(unknown)}")
        check_loading_options(ignore_mismatched_sizes, attn_implementation)
        if dtype is not None and torch_dtype is not None and resolve_dtype(dtype) != resolve_dtype(torch_dtype):
            raise ValueError(f"dtype and torch_dtype (its older name) must agree when both are given. "
                             f"Received: dtype={dtype!r}, torch_dtype={torch_dtype!r}")
        dtype = dtype if dtype is not None else torch_dtype
        path = locate_for_model(path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only,
                                token=token, force_download=force_download, subfolder=subfolder, prefer_tf=from_tf,
                                use_safetensors=use_safetensors)
        dtype = resolve_dtype(auto_dtype(path) if dtype == "auto" else dtype)
        # lazy: each tensor is read from the file just before it is cast and assigned (a bfloat16 model
        # never holds the float32 weights all at once)
        config, weights = load_with_overrides(path, cls.config_class, config, overrides, lazy=True)
        with torch.device("meta"), _SkipRandomInit():  # no random draws, no memory until the weights arrive
            model = cls(config)
            if dtype is not None:
                model = model.to(dtype)  # each weight is cast as it arrives: no float32 model in between
        model.load_weights(weights, source=os.fspath(path), assign=True)
        _settle_allocator()
        return (model.eval(), loading_info()) if output_loading_info else model.eval()

    def save_pretrained(self, save_directory: str | os.PathLike, *, max_shard_size: int | str | None = None,
                        safe_serialization: bool = True, is_main_process: bool = True,
                        push_to_hub: bool = False) -> None:
        """Write config.json and model.safetensors (all files appear at once, or none); with `max_shard_size`
        (bytes or "500MB"), shards and model.safetensors.index.json as transformers writes them.
        `safe_serialization=False` is accepted and writes safetensors all the same (as transformers 5);
        `is_main_process=False` writes nothing (distributed runs); `push_to_hub` must stay False."""
        if push_to_hub:
            raise ValueError("push_to_hub must be False: this library writes local files only. Received: True")
        if not is_main_process:
            return
        # a bfloat16 model is written back in float32, the dtype of every checkpoint format
        state = {k: widen(v.detach()).cpu().numpy() for k, v in self.state_dict().items()}
        save_for_model(self.config, state, save_directory, max_shard_size=max_shard_size)
