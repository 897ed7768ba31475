"""A worker process: one contender, driven over JSON lines (commands on stdin, answers on stdout).

Started by the driver as `python -m benchmarks.worker CONTENDER [--checkpoint DIR]`. PyTorch and
TensorFlow never share a process. Commands:
  {"cmd": "prepare", "case": NAME}        build the case's runner (compiles nothing yet)
  {"cmd": "call", "case": NAME, "n": K}   K timed calls -> {"seconds": [...]}
  {"cmd": "flops", "case": NAME}          FLOPs of the case on this model (PyTorch workers)
  {"cmd": "info"}                         versions, threads, peak RSS
  {"cmd": "exit"}
With --first-answer CASE it instead loads the checkpoint, calls CASE once, prints timings and exits.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback

THREADS = 2


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _framework(contender: str):
    from benchmarks.contenders import CONTENDERS

    if CONTENDERS[contender].env.endswith("-pt"):
        from benchmarks import runners_pt as fw
    elif CONTENDERS[contender].env.endswith("-onnx"):
        from benchmarks import runners_onnx as fw
    else:
        from benchmarks import runners_tf as fw
    fw.set_threads(THREADS)
    return fw


def _versions(fw) -> dict[str, str]:
    info = dict(fw.framework_info())
    for name in ("transformers", "tf_keras"):
        if name in sys.modules:
            info[name] = getattr(sys.modules[name], "__version__", "?")
    return info


class Worker:
    """Holds one contender's model and its per-case runners."""

    def __init__(self, contender: str, checkpoint: str | None, seed: int) -> None:
        from groupvit.configs import GroupViTConfig

        self.contender = contender
        self.fw = _framework(contender)
        self.config = GroupViTConfig()
        self.model = None
        if contender != "matmul":
            # every model loads the checkpoint as a user would (the reduced-precision ones cast while loading),
            # so the peak RSS is the one a user meets; the checkpoint holds the random weights of `seed`
            self.model = self.fw.build_model(contender, self.config, seed, checkpoint)
        self.runners: dict[str, object] = {}

    def prepare(self, case_name: str) -> None:
        from benchmarks.cases import CASES

        self.runners.clear()  # free the previous case's compiled graphs
        if self.contender == "matmul":
            self.runners[case_name] = self.fw.matmul_runner()
        else:
            self.runners[case_name] = self.fw.runner(self.contender, self.model, CASES[case_name], self.config)

    def call(self, case_name: str, n: int) -> list[float]:
        run = self.runners[case_name]
        seconds = []
        for _ in range(n):
            start = time.perf_counter()
            run()
            seconds.append(time.perf_counter() - start)
        return seconds

    def handle(self, msg: dict) -> dict:
        cmd = msg["cmd"]
        if cmd == "prepare":
            self.prepare(msg["case"])
            return {}
        if cmd == "call":
            return {"seconds": self.call(msg["case"], int(msg.get("n", 1)))}
        if cmd == "flops":
            from benchmarks.cases import CASES

            return {"flops": self.fw.flops(self.model, CASES[msg["case"]], self.config)}
        if cmd == "info":
            return {"peak_rss_mib": peak_rss_mib(), "versions": _versions(self.fw), "pid": os.getpid()}
        raise ValueError(f"Unknown command. Expected prepare, call, flops, info or exit. Received: cmd={cmd!r}")


def serve(contender: str, checkpoint: str | None, seed: int) -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library chatter on stdout must not corrupt the protocol

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")

    try:
        worker = Worker(contender, checkpoint, seed)
    except Exception:
        send({"ok": False, "error": traceback.format_exc(limit=3)})
        return
    send({"ok": True, "ready": contender})
    for line in sys.stdin:
        msg = json.loads(line)
        if msg["cmd"] == "exit":
            break
        try:
            send({"ok": True, **worker.handle(msg)})
        except Exception as exc:
            send({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:2000], "trace": traceback.format_exc(limit=4)})


def first_answer(contender: str, checkpoint: str, case_name: str) -> None:
    """Import + load from disk + one call, in this fresh process; prints one JSON line of timings."""
    start = time.perf_counter()
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    fw = _framework(contender)
    from benchmarks.cases import CASES
    from groupvit.configs import GroupViTConfig

    imported = time.perf_counter()
    model = fw.build_model(contender, GroupViTConfig(), 0, checkpoint)
    loaded = time.perf_counter()
    fw.runner(contender, model, CASES[case_name], GroupViTConfig())()
    done = time.perf_counter()
    proto.write(json.dumps({"ok": True, "import_s": imported - start, "load_s": loaded - imported,
                            "first_call_s": done - loaded, "peak_rss_mib": peak_rss_mib()}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contender")
    parser.add_argument("--checkpoint", help="checkpoint directory (tf_model.h5 for the Keras 2 port)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first-answer", metavar="CASE")
    args = parser.parse_args()
    if args.first_answer:
        first_answer(args.contender, args.checkpoint, args.first_answer)
    else:
        serve(args.contender, args.checkpoint, args.seed)


if __name__ == "__main__":
    main()
