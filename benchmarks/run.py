"""Benchmark GroupViT: our PyTorch and Keras 3 models against the transformers ports, at the default size.

    python benchmarks/run.py                      # full matrix, 10 rounds; creates benchmarks/.venvs/ first
    python benchmarks/run.py --quick              # smoke run: 3 cases, 3 rounds
    python benchmarks/run.py --python-for port-tf=/path/to/python ...   # reuse an existing environment

Every contender runs in its own worker process pinned to 2 threads; each round calls every
contender once in rotating order; reported figures are medians over rounds (ratios per round).
Writes a markdown table to stdout and everything (raw rounds included) to --json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import driver, envs, report  # noqa: E402
from benchmarks.cases import CASES, FIRST_ANSWER_CASE, QUICK_CASES  # noqa: E402
from benchmarks.contenders import CONTENDERS, MATMUL  # noqa: E402

FLOP_COUNTER = "ours-pt"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds per case (default 10; --quick 3)")
    parser.add_argument("--train-rounds", type=int, default=None, help="rounds of the training case (default --rounds)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per contender and case (default 2)")
    parser.add_argument("--cases", default=None, help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--contenders", default=None, help=f"comma-separated subset of {','.join(CONTENDERS)}")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: cases {','.join(QUICK_CASES)}, 3 rounds")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results.json"), help="where to write the JSON")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the report as markdown here")
    parser.add_argument("--first-answer-repeats", type=int, default=1, help="fresh processes per contender (0: skip)")
    parser.add_argument("--python-for", action="append", default=[], metavar="ENV=PYTHON",
                        help=f"use an existing interpreter for an environment ({', '.join(envs.ENV_STEPS)}); "
                             "also $GROUPVIT_BENCH_PYTHON_<ENV>")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    args.overrides = dict(item.split("=", 1) for item in args.python_for)
    args.case_list = _subset(args.cases, list(QUICK_CASES if args.quick else CASES), CASES, "--cases")
    args.contender_list = _subset(args.contenders, list(CONTENDERS), CONTENDERS, "--contenders")
    if MATMUL not in args.contender_list:
        args.contender_list.append(MATMUL)  # the yardstick of every GFLOP/s fraction
    args.rounds = args.rounds or (3 if args.quick else 10)
    args.train_rounds = args.train_rounds or args.rounds
    return args


def _subset(text: str | None, default: list[str], known: dict, flag: str) -> list[str]:
    names = default if text is None else [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in names if x not in known]
    if unknown:
        raise SystemExit(f"{flag} takes names from {list(known)}. Received unknown: {unknown}")
    return names


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict[str, str]:
    model = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), "")
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "cores": str(os.cpu_count()), "platform": platform.platform()}


def git_state() -> str:
    """The commit measured, and whether the working tree differed from it (workers import the tree)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=envs.REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "groupvit")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes under groupvit/" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    needed = {CONTENDERS[c].env for c in args.contender_list} | {CONTENDERS[FLOP_COUNTER].env}
    pythons = {env: envs.ensure_env(env, args.overrides, log) for env in sorted(needed)}
    log_dir = envs.REPO / "benchmarks" / ".cache" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)

    ckpt_python = pythons[CONTENDERS[FLOP_COUNTER].env]
    out = subprocess.run([ckpt_python, "-m", "benchmarks.checkpoint", str(envs.REPO / "benchmarks" / ".cache"),
                          "--seed", str(args.seed)], cwd=envs.REPO, env=driver.worker_env("ours-pt"),
                         capture_output=True, text=True, check=True).stdout
    checkpoints = dict(line.split(" ", 1) for line in out.splitlines())

    def checkpoint_for(contender: str) -> str:
        return checkpoints["h5" if CONTENDERS[contender].env == "port-tf" else "safetensors"]

    first_answer: dict[str, dict] = {}
    for name in args.contender_list:
        if name == MATMUL:
            continue
        if CONTENDERS[name].env == "ours-onnx":
            log(f"[first answer] {name}: not measured (its export is made once, then cached; the case is 1x8)")
            continue
        tries = []
        for _ in range(args.first_answer_repeats):
            env = CONTENDERS[name].env
            tries.append(driver.first_answer(name, env, pythons[env], checkpoint_for(name), FIRST_ANSWER_CASE, log_dir))
            log(f"[first answer] {name}: {tries[-1]}")
        if tries:
            ok = [t for t in tries if "wall_s" in t]
            first_answer[name] = min(ok, key=lambda t: t["wall_s"]) if ok else tries[-1]

    workers: dict[str, driver.WorkerProcess] = {}
    errors: dict[str, dict[str, str]] = {}
    try:
        for name in args.contender_list:
            env = CONTENDERS[name].env
            log(f"[start] {name} ({pythons[env]})")
            try:
                workers[name] = driver.WorkerProcess(name, env, pythons[env], checkpoint_for(name), log_dir)
            except driver.WorkerError as exc:
                errors.setdefault("*", {})[name] = str(exc)
                log(f"[start] {name} FAILED: {exc}")
        # a process of its own: counting (the training case included) must not raise a timed worker's peak RSS
        counter = driver.WorkerProcess(FLOP_COUNTER, "ours-pt", pythons["ours-pt"], checkpoints["safetensors"],
                                       log_dir, log_name="flop-counter")
        try:
            flops = driver.flops_of(args.case_list, counter)
        finally:
            counter.close()
        log(f"[flops] { {k: f'{v / 1e9:.1f} G' for k, v in flops.items()} }")

        results = []
        for case in args.case_list:
            t0 = time.perf_counter()
            rounds = args.train_rounds if CASES[case].kind in ("train", "trainer") else args.rounds
            res = driver.run_case(case, workers, rounds, args.warmup, log)
            res.flops = flops.get(case)
            results.append(res)
            if res.errors:
                errors[case] = res.errors
            log(f"[case] {case} done in {time.perf_counter() - t0:.0f} s")
        info = {name: w.ask("info") for name, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()

    summary = {
        "date": started.isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine(),
        "code": git_state(),
        "interpreters": pythons,
        "threads": 2,
        "rounds": args.rounds, "train_rounds": args.train_rounds, "warmup": args.warmup,
        "contenders": {n: CONTENDERS[n].description for n in args.contender_list},
        "versions": {n: {**i["versions"], "python": driver.python_version(pythons[CONTENDERS[n].env])}
                     for n, i in info.items()},
        "flops": flops,
        "cases": {r.case: report.summarize_case(r) for r in results},
        "errors": errors,
        "peak_rss_mib": {n: i["peak_rss_mib"] for n, i in info.items()},
        "first_answer": first_answer,
        "peak_rss_after_case_mib": {r.case: r.peak_rss_mib for r in results},
        "raw": {r.case: {"rounds": r.rounds, "warmup": r.warmup} for r in results},
    }
    summary["targets"] = report.check_targets(summary)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=1))
    text = report.markdown(summary)
    print(text)
    if args.markdown:
        args.markdown.write_text(report.header(summary) + text)
    log(f"[done] JSON in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
