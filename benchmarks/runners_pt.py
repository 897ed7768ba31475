"""PyTorch contenders: our model (eager, torch.compile), the transformers 5 port, the matmul yardstick.

A runner is built once per (contender, case) and returns a zero-argument callable that does
one timed call and blocks until its result exists.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch

from benchmarks.cases import Case
from benchmarks.contenders import MATMUL_N
from groupvit.configs import GroupViTConfig
from groupvit.random_checkpoint import random_weights



def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def build_model(contender: str, config: GroupViTConfig, seed: int, checkpoint: str | None = None):
    """Our model or the port, random weights `seed` (or `checkpoint`, a directory on disk), eval mode."""
    if contender in ("ours-pt", "ours-pt-compile", "ours-pt-bf16", "ours-pt-int8", "ours-pt-packed",
                     "ours-pt-bf16-packed"):
        from groupvit.pt import GroupViTModel
        from groupvit.pt.linear import set_weight_packing
        from groupvit.pt.precision import quantize_int8

        if contender.endswith("-packed"):  # one process per contender: the switch is this worker's alone
            set_weight_packing(True)
            contender = contender.removesuffix("-packed")
        if checkpoint:  # bf16 as a user loads it: each weight cast as it is read
            dtype = torch.bfloat16 if contender == "ours-pt-bf16" else None
            model = GroupViTModel.from_pretrained(checkpoint, torch_dtype=dtype)
        else:
            model = GroupViTModel(config)
            model.load_weights(random_weights(config, seed))
        if contender == "ours-pt-bf16":
            model = model.to(torch.bfloat16)
        if contender == "ours-pt-int8":
            model = quantize_int8(model)
        return model.eval()
    if contender == "port-pt":
        import transformers

        if checkpoint:
            return transformers.GroupViTModel.from_pretrained(checkpoint).eval()
        model = transformers.GroupViTModel(transformers.GroupViTConfig.from_dict(config.to_dict()))
        state = {k: torch.from_numpy(v) for k, v in random_weights(config, seed).items()}
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
        if missing or result.unexpected_keys:
            raise ValueError(f"port-pt load: missing {missing}, unexpected {result.unexpected_keys}")
        return model.eval()
    raise ValueError(f"Not a PyTorch model contender. Received: contender={contender!r}")


def _tensors(case: Case, config: GroupViTConfig) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in case.inputs(config).items()}


def _call(model, case: Case, inputs: dict[str, torch.Tensor]) -> Callable[[], object]:
    """The plain (uncompiled) call of `case` on `model`."""
    if case.kind == "image_features":
        return lambda: model.image_features(inputs["pixel_values"])
    if case.kind == "text_features":
        return lambda: model.text_features(inputs["input_ids"], inputs["attention_mask"])
    if case.kind == "model":
        return lambda: model(**inputs, output_segmentation=case.segmentation)
    raise ValueError(f"Not an inference case. Received: kind={case.kind!r}")


def _train_step(forward, params: list[torch.nn.Parameter], inputs: dict[str, torch.Tensor]):
    def step():
        for p in params:
            p.grad = None
        loss = forward(**inputs, return_loss=True).loss
        loss.backward()
        return loss

    return step


def _trainer_step(contender: str, model, case: Case, config: GroupViTConfig) -> Callable[[], object]:
    """Ours: `TorchTrainer.step` (Gumbel noise, AdamW groups, clipping). Port: forward + backward of its
    contrastive loss + torch AdamW, the least a training step of it needs."""
    inputs = case.inputs(config)
    if contender == "ours-pt":
        from groupvit.pt.training.trainer import TorchTrainer
        from groupvit.training.noise import gumbel_noise
        from groupvit.training.options import StepOptions

        weights = {k: v.detach().numpy() for k, v in model.state_dict().items()}
        trainer = TorchTrainer(config, weights, StepOptions())
        noise = gumbel_noise(config.vision_config, 0, 0, case.n_images)
        return lambda: trainer.step(inputs, noise, 1e-6)
    if contender != "port-pt":
        raise ValueError(f"The trainer-step case runs ours-pt and port-pt. Received: contender={contender!r}")
    model.train()
    tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-6, weight_decay=0.05)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = model(**tensors, return_loss=True).loss
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def runner(contender: str, model, case: Case, config: GroupViTConfig) -> Callable[[], object]:
    if case.kind == "trainer":
        return _trainer_step(contender, model, case, config)
    inputs = _tensors(case, config)
    compiled = contender == "ours-pt-compile"
    if compiled:
        torch._dynamo.reset()  # each case compiles afresh, for its own static shapes
    if case.kind == "train":
        model.train()
        forward = torch.compile(model, dynamic=False) if compiled else model
        return _train_step(forward, [p for p in model.parameters() if p.requires_grad], inputs)
    model.eval()
    if compiled:
        if case.kind == "model":
            forward = torch.compile(model, dynamic=False)
            call = lambda: forward(**inputs, output_segmentation=case.segmentation)  # noqa: E731
        elif case.kind == "image_features":
            fn = torch.compile(model.image_features, dynamic=False)
            call = lambda: fn(inputs["pixel_values"])  # noqa: E731
        else:
            fn = torch.compile(model.text_features, dynamic=False)
            call = lambda: fn(inputs["input_ids"], inputs["attention_mask"])  # noqa: E731
    else:
        call = _call(model, case, inputs)

    def run():
        with torch.no_grad():
            return call()

    return run


def flops(model, case: Case, config: GroupViTConfig) -> int:
    """FLOPs of one call of `case` on our eager model, from torch's FlopCounterMode (backward included)."""
    from torch.utils.flop_counter import FlopCounterMode

    from groupvit.pt import linear

    call = runner("ours-pt", model, case, config)
    # the counter knows aten's linear/addmm, not oneDNN's fused op: count on nn.Linear's path (same products)
    onednn, linear._ONEDNN = linear._ONEDNN, False
    try:
        with FlopCounterMode(display=False) as counter:
            call()
    finally:
        linear._ONEDNN = onednn
    model.eval()
    return int(counter.get_total_flops())


def matmul_runner() -> Callable[[], object]:
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.standard_normal((MATMUL_N, MATMUL_N), dtype=np.float32)) for _ in range(2))
    out = torch.empty(MATMUL_N, MATMUL_N)
    return lambda: torch.mm(a, b, out=out)


def framework_info() -> dict[str, str]:
    return {"torch": torch.__version__, "torch_threads": str(torch.get_num_threads()),
            "omp": os.environ.get("OMP_NUM_THREADS", "")}
