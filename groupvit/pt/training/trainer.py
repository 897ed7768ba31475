"""`TorchTrainer`: one optimiser step of GroupViT in PyTorch, on one process or under torchrun (DDP).

The run loop (data, schedule, logging, checkpoints) is framework-neutral, in
`groupvit.training.loop`; this class does what needs torch: the model, AdamW with the authors'
parameter groups, gradient clipping, bf16 autocast, DDP and the trainer state's arrays.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import warnings
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from groupvit.configs import GroupViTConfig
from groupvit.pt.groupvit_model import GroupViTModel
from groupvit.pt.training.step_module import GroupViTTrainingStep
from groupvit.pt.training.sync_batch_norm import convert_sync_batch_norm
from groupvit.training.options import MULTI_LABEL_SCALE_NAME, OPTIONAL_TERMS, StepOptions
from groupvit.training.weight_decay import decays

METRICS = ("loss", "contrastive", "multi_label", "logit_scale", *OPTIONAL_TERMS, "grad_norm")


def init_distributed() -> tuple[int, int]:
    """Join the process group torchrun describes (gloo on CPU, nccl with CUDA); (rank, world)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=30))
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class TorchTrainer:
    """Builds the model (from `weights` or a seeded random init) and takes optimiser steps."""

    backend = "pt"

    def __init__(self, config: GroupViTConfig, weights: dict[str, np.ndarray] | None, options: StepOptions,
                 seed: int = 0) -> None:
        self.rank, self.world_size = init_distributed()
        self.device = torch.device(f"cuda:{torch.cuda.current_device()}" if torch.cuda.is_available() else "cpu")
        self.options = options
        torch.manual_seed(seed)
        model = GroupViTModel(config)
        if weights is not None:
            model.load_weights(dict(weights), source="the initial weights")
        if self.world_size > 1:
            convert_sync_batch_norm(model.visual_projection)
            convert_sync_batch_norm(model.text_projection)
        self.model = model.to(self.device).train()
        self.step_module = GroupViTTrainingStep(self.model, options.multi_label, options.logit_scale_init,
                                                 grouped=options.grouped,
                                                 group_balance=options.group_balance,
                                                 pooling_tau=options.pooling_tau,
                                                 group_exclusivity=options.group_exclusivity,
                                                 group_naming=options.group_naming).to(self.device)
        self.named = self._trainable()
        for name, param in self._all_named():
            param.requires_grad_(name in self.named)
        self.runner: nn.Module = self.step_module
        if self.world_size > 1:
            with warnings.catch_warnings():  # its replacement still syncs buffers at init, which we do not need
                warnings.filterwarnings("ignore", message=".*broadcast_buffers.*", category=FutureWarning)
                self.runner = nn.parallel.DistributedDataParallel(
                    self.step_module, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                    broadcast_buffers=False,  # BatchNorm statistics are synchronised by the layer itself
                )
        decay = [p for n, p in self.named.items() if decays(n, p.shape)]
        no_decay = [p for n, p in self.named.items() if not decays(n, p.shape)]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": options.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            # fused: one kernel over all parameters (default size on 2 CPU cores: 43 ms a step against
            # 140-200 ms for the per-tensor loop torch picks on CPU); the same update up to rounding order
            lr=0.0, betas=options.betas, eps=options.eps, fused=True,
        )

    def _all_named(self) -> list[tuple[str, nn.Parameter]]:
        params = [(n, p) for n, p in self.model.named_parameters()]
        return params + [(MULTI_LABEL_SCALE_NAME, self.step_module.multi_label_logit_scale)]

    def _trainable(self) -> dict[str, nn.Parameter]:
        out = {n: p for n, p in self._all_named() if n not in self.options.frozen}
        if not self.options.multi_label:
            out.pop(MULTI_LABEL_SCALE_NAME)
        return out

    # ----- one step ----------------------------------------------------------------------------
    def step(self, batch: dict[str, np.ndarray], gumbel_noise: list[np.ndarray], lr: float,
             drop_path_scales: np.ndarray | None = None) -> dict[str, float]:
        """Forward, backward, clip, AdamW at learning rate `lr`; metrics of the global batch. `drop_path_scales`:
        this rank's rows of `groupvit.training.noise.drop_path_scales` (stochastic depth), or None."""
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()
                   if k in ("pixel_values", "input_ids", "attention_mask", "prompt_ids", "prompt_mask", "image_nouns",
                            "prompt_nouns")}
        noise = [torch.from_numpy(n).to(self.device) for n in gumbel_noise]
        if drop_path_scales is not None:
            tensors["drop_path_scales"] = torch.from_numpy(drop_path_scales).to(self.device)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.options.bf16):
            out = self.runner(gumbel_noise=noise, **tensors)
        out["loss"].backward()
        params = list(self.named.values())
        if self.options.clip_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, self.options.clip_norm, foreach=False)
        else:
            grad_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
        self.optimizer.step()
        metrics = torch.stack([out["loss"].detach(), out["contrastive"].detach(),
                               out.get("multi_label", torch.zeros(())).detach(), out["logit_scale"].float(),
                               *(out.get(term, torch.zeros(())).detach() for term in OPTIONAL_TERMS)])
        if self.world_size > 1:  # each rank's loss is the mean over its rows: the global loss is their mean
            dist.all_reduce(metrics, op=dist.ReduceOp.SUM)
            metrics = metrics / self.world_size
        values = dict(zip(METRICS, [float(v) for v in metrics.cpu()] + [float(grad_norm)]))
        for term in OPTIONAL_TERMS:
            if term not in out:
                values.pop(term)
        if not self.options.multi_label:
            values.pop("multi_label")
        else:
            scale = self.step_module.multi_label_logit_scale.detach()
            values["multi_label_logit_scale"] = float(scale.exp().clamp(max=100))
        return values

    # ----- state -------------------------------------------------------------------------------
    def weights(self) -> dict[str, np.ndarray]:
        """The model's state dict as numpy, PyTorch names (what model.safetensors holds)."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.model.state_dict().items()}

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """AdamW moments by parameter name (`exp_avg/NAME`, `exp_avg_sq/NAME`), the step count and
        the multi-label temperature (which is not part of the model)."""
        out: dict[str, np.ndarray] = {
            MULTI_LABEL_SCALE_NAME: self.step_module.multi_label_logit_scale.detach().cpu().numpy().copy()}
        steps = 0
        for name, param in self.named.items():
            state = self.optimizer.state.get(param)
            if not state:
                continue
            out[f"exp_avg/{name}"] = state["exp_avg"].cpu().numpy().copy()
            out[f"exp_avg_sq/{name}"] = state["exp_avg_sq"].cpu().numpy().copy()
            steps = int(state["step"])
        out["optimizer_step"] = np.array(steps, dtype=np.int64)
        return out

    def load_optimizer_state(self, arrays: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            self.step_module.multi_label_logit_scale.copy_(torch.from_numpy(np.asarray(arrays[MULTI_LABEL_SCALE_NAME])))
        steps = int(arrays["optimizer_step"])
        for name, param in self.named.items():
            if f"exp_avg/{name}" not in arrays:
                if steps:
                    raise ValueError(f"The trainer state must hold the AdamW moments of every trained parameter. "
                                     f"Received: none for {name!r}")
                continue
            self.optimizer.state[param] = {
                "step": torch.tensor(float(steps)),
                "exp_avg": torch.from_numpy(arrays[f"exp_avg/{name}"].copy()).to(self.device),
                "exp_avg_sq": torch.from_numpy(arrays[f"exp_avg_sq/{name}"].copy()).to(self.device),
            }

    def rng_state(self) -> dict[str, Any]:
        return {"torch": torch.get_rng_state().numpy().tolist()}

    def set_rng_state(self, state: dict[str, Any]) -> None:
        if "torch" in state:
            torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))

    # ----- collectives for the loop ------------------------------------------------------------
    def gather_objects(self, obj: Any) -> list[Any]:
        """JSON-able objects of every rank, in rank order (sent as JSON bytes: nothing is unpickled)."""
        if self.world_size == 1:
            return [obj]
        data = torch.tensor(list(json.dumps(obj).encode("utf-8")), dtype=torch.uint8, device=self.device)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world_size)]
        dist.all_gather(sizes, size)
        longest = int(max(int(s) for s in sizes))
        padded = torch.zeros(longest, dtype=torch.uint8, device=self.device)
        padded[: data.numel()] = data
        parts = [torch.zeros_like(padded) for _ in range(self.world_size)]
        dist.all_gather(parts, padded)
        return [json.loads(bytes(p[: int(n)].cpu().tolist()).decode("utf-8")) for p, n in zip(parts, sizes)]

    def max_over_ranks(self, value: int) -> int:
        """The largest of every rank's `value` (one small all-reduce), so that every rank takes the same decision."""
        return self._reduce_int(value, dist.ReduceOp.MAX) if self.world_size > 1 else int(value)

    def sum_over_ranks(self, value: int) -> int:
        """The sum of every rank's `value` (one small all-reduce)."""
        return self._reduce_int(value, dist.ReduceOp.SUM) if self.world_size > 1 else int(value)

    def _reduce_int(self, value: int, op: Any) -> int:
        tensor = torch.tensor([int(value)], dtype=torch.int64, device=self.device)
        dist.all_reduce(tensor, op=op)
        return int(tensor.item())

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()

    def close(self, wait: bool = True) -> None:
        """Leave the process group once every rank is done with it, with nothing left holding it (`wait=False`:
        without waiting for the others, which may be inside a collective this rank will never join).

        The barrier: a rank that finished first must not tear its gloo pairs down while a peer is still
        at work (rank 0 writing its files). Dropping DDP: its reducer holds the process group, which then
        outlived `destroy_process_group` and was destroyed with its gloo threads during interpreter
        shutdown, aborting the process at exit (SIGABRT / SIGSEGV after a finished run: 1 in 6 runs of the
        torchrun test here, and in CI)."""
        if dist.is_initialized():
            if wait and dist.get_world_size() > 1:
                dist.barrier()
            self.runner = self.step_module
            gc.collect()  # the DDP reducer's autograd hooks form cycles: free it, and its group, now
            dist.destroy_process_group()
