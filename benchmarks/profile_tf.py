"""Where a TensorFlow contender's eager call spends its time: cProfile top functions, by own time.

    python -m benchmarks.profile_tf --case 1x8 [--contender ours-tf|port-tf-eager] [--checkpoint DIR]

Run in an environment with tensorflow (TF_USE_LEGACY_KERAS=1 and a tf_model.h5 directory for the
port), 2 threads, from the repository root. Eager time far above the same call in tf.function is
Python and per-op dispatch overhead, which this listing attributes.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from benchmarks import runners_tf
from benchmarks.cases import CASES
from groupvit.configs import GroupViTConfig


def _time(run, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="1x8", choices=list(CASES))
    parser.add_argument("--contender", default="ours-tf", choices=["ours-tf", "port-tf-eager"])
    parser.add_argument("--checkpoint", default=None, help="tf_model.h5 directory (the port only)")
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    runners_tf.set_threads(2)
    config = GroupViTConfig()
    model = runners_tf.build_model(args.contender, config, 0, args.checkpoint)
    case = CASES[args.case]
    eager = runners_tf.runner(args.contender, model, case, config)
    graph = runners_tf.runner(args.contender.replace("-eager", "") + "-function", model, case, config)
    for run in (eager, eager, graph, graph):
        run()  # warm-up and tracing
    t_eager, t_graph = _time(eager, args.calls), _time(graph, args.calls)
    print(f"{args.contender} {args.case}: eager {t_eager * 1e3:.0f} ms, tf.function {t_graph * 1e3:.0f} ms per call")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.calls):
        eager()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(args.top)
    print(f"total eager calls counted: {sum(v[1] for v in stats.stats.values())}")


if __name__ == "__main__":
    main()
