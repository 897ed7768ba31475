"""The driver: one worker process per contender, round-robin rounds, per-round ratios.

Within a case every round calls each contender once, one at a time (never two at once: they
share 2 cores), starting from a different contender each round, so slow drifts in the machine's
load hit every contender alike; ratios are taken within a round, then summarized by their median.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.envs import ENV_VARS, REPO

THREADS = "2"


def worker_env(env: str) -> dict[str, str]:
    """Environment of a worker: 2 threads everywhere, the repository importable, quiet TensorFlow."""
    out = dict(os.environ)
    out.update({"OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS, "OPENBLAS_NUM_THREADS": THREADS,
                "TF_NUM_INTRAOP_THREADS": THREADS, "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "2",
                "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
    out.update(ENV_VARS.get(env, {}))
    return out


class WorkerError(RuntimeError):
    pass


class WorkerProcess:
    """A running `benchmarks.worker`, spoken to over JSON lines."""

    def __init__(self, contender: str, env: str, python: str, checkpoint: str, log_dir: Path,
                 log_name: str | None = None) -> None:
        self.contender = contender
        self.log_path = log_dir / f"{log_name or contender}.log"
        self.proc = subprocess.Popen(
            [python, "-m", "benchmarks.worker", contender, "--checkpoint", checkpoint],
            cwd=REPO, env=worker_env(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(self.log_path, "w"), text=True, bufsize=1,
        )
        self._read()  # the "ready" line

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError(f"{self.contender}: worker exited (code {self.proc.poll()}); see {self.log_path}")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise WorkerError(f"{self.contender}: {answer.get('error')}")
        return answer

    def ask(self, cmd: str, **kwargs) -> dict:
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write('{"cmd": "exit"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


@dataclass
class CaseResult:
    """Raw per-round seconds of each contender on one case (None: the contender failed that round)."""

    case: str
    rounds: list[dict[str, float]] = field(default_factory=list)
    warmup: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    flops: int | None = None
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # each worker's peak so far, after this case


def run_case(case: str, workers: dict[str, WorkerProcess], rounds: int, warmup: int, log=print) -> CaseResult:
    result = CaseResult(case)
    live = []
    for name, worker in workers.items():
        try:
            t0 = time.perf_counter()
            worker.ask("prepare", case=case)
            result.warmup[name] = worker.ask("call", case=case, n=warmup)["seconds"]
            live.append(name)
            log(f"  {case}: {name} warm ({time.perf_counter() - t0:.1f} s)")
        except WorkerError as exc:
            result.errors[name] = str(exc)
            log(f"  {case}: {name} FAILED: {str(exc).splitlines()[0][:200]}")
    for r in range(rounds):
        order = live[r % len(live):] + live[:r % len(live)] if live else []
        times = {}
        for name in order:
            try:
                times[name] = workers[name].ask("call", case=case, n=1)["seconds"][0]
            except WorkerError as exc:
                result.errors[name] = str(exc)
        result.rounds.append(times)
        log(f"  {case}: round {r + 1}/{rounds} " + " ".join(f"{k}={v * 1e3:.0f}ms" for k, v in times.items()))
    for name in live:
        if name not in result.errors:
            result.peak_rss_mib[name] = workers[name].ask("info")["peak_rss_mib"]
    return result


def first_answer(contender: str, env: str, python: str, checkpoint: str, case: str, log_dir: Path) -> dict:
    """Wall time of a fresh process: interpreter start, imports, load from disk, first call."""
    start = time.perf_counter()
    with open(log_dir / f"first-answer-{contender}.log", "w") as err:
        proc = subprocess.run(
            [python, "-m", "benchmarks.worker", contender, "--checkpoint", checkpoint, "--first-answer", case],
            cwd=REPO, env=worker_env(env), stdout=subprocess.PIPE, stderr=err, text=True,
        )
    wall = time.perf_counter() - start
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        return {"error": f"exit code {proc.returncode}; see {log_dir / f'first-answer-{contender}.log'}"}
    return {"wall_s": wall, **{k: v for k, v in lines[-1].items() if k != "ok"}}


def flops_of(cases: list[str], worker: WorkerProcess) -> dict[str, int]:
    out = {}
    for case in cases:
        worker.ask("prepare", case=case)
        out[case] = worker.ask("flops", case=case)["flops"]
    return out


def python_version(python: str) -> str:
    return subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"], capture_output=True,
                          text=True).stdout.strip() or sys.version.split()[0]
