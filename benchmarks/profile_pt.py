"""Where our PyTorch model spends a case's time: torch.profiler top operators and shares by kind.

    python -m benchmarks.profile_pt --case 8x8 [--contender ours-pt|port-pt] [--calls 3]

Run in an environment with torch (and transformers for port-pt), 2 threads, from the repository root.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks import runners_pt
from benchmarks.cases import CASES
from groupvit.configs import GroupViTConfig

# operator kind -> substrings of aten op names (first match wins; self CPU time, so no double counting)
KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("matmul (linear/mm/bmm/conv)", ("addmm", "aten::mm", "bmm", "aten::matmul", "linear", "baddbmm", "convolution",
                                     "mkldnn", "_conv")),
    ("attention (sdpa)", ("scaled_dot_product", "_flash_attention", "attention")),
    ("softmax", ("softmax",)),
    ("layer/batch norm", ("layer_norm", "batch_norm", "native_layer_norm")),
    ("gelu/activations", ("gelu", "sigmoid", "silu")),
    ("copies/reshapes", ("copy_", "contiguous", "clone", "cat", "to_copy", "index", "gather", "scatter")),
)


def kind_of(name: str) -> str:
    return next((kind for kind, keys in KINDS if any(k in name for k in keys)), "other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="8x8", choices=list(CASES))
    parser.add_argument("--contender", default="ours-pt", choices=["ours-pt", "port-pt"])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    config = GroupViTConfig()
    model = runners_pt.build_model(args.contender, config, seed=0)
    run = runners_pt.runner(args.contender, model, CASES[args.case], config)
    run()
    run()  # warm-up
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.calls):
            run()
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.top))
    total = sum(e.self_cpu_time_total for e in events)
    shares: dict[str, float] = {}
    for e in events:
        shares[kind_of(e.key)] = shares.get(kind_of(e.key), 0.0) + e.self_cpu_time_total
    print(f"{args.contender} {args.case}: {total / args.calls / 1e3:.1f} ms self CPU per call")
    for kind, t in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:32s} {100 * t / total:5.1f} %")


if __name__ == "__main__":
    main()
