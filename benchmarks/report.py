"""Summaries of the raw rounds: medians, ranges, per-round ratios, GFLOP/s, targets; markdown and JSON."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.contenders import CONTENDERS, MATMUL, MATMUL_FLOPS, PAIRS
from benchmarks.driver import CaseResult

BF16_RSS_TARGET = 0.6  # peak RSS of a bfloat16 model against its float32 one (docs/precision.md)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize_case(result: CaseResult) -> dict[str, Any]:
    """Per contender: median/min/max seconds, GFLOP/s, fraction of matmul and speed-ups
    (medians of per-round ratios)."""
    out: dict[str, Any] = {}
    names = sorted({n for r in result.rounds for n in r}, key=list(CONTENDERS).index)
    for name in names:
        times = [r[name] for r in result.rounds if name in r]
        row: dict[str, Any] = {"median_s": _median(times), "min_s": min(times), "max_s": max(times), "n": len(times)}
        if result.flops and name != MATMUL:
            row["gflops_per_s"] = result.flops / row["median_s"] / 1e9
            fractions = [(result.flops / r[name]) / (MATMUL_FLOPS / r[MATMUL]) for r in result.rounds
                         if name in r and MATMUL in r]
            row["fraction_of_matmul"] = _median(fractions)
        if name == MATMUL:
            row["gflops_per_s"] = MATMUL_FLOPS / row["median_s"] / 1e9
        speedups = {}
        for ref in CONTENDERS[name].references:
            ratios = [r[ref] / r[name] for r in result.rounds if name in r and ref in r]
            if ratios:
                speedups[ref] = _median(ratios)
        row["speedup_vs"] = speedups
        out[name] = row
    return out


def check_targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The performance targets, each with its measured value and whether it holds."""
    checks = []
    cases = summary["cases"]

    def add(target: str, case: str, value: float | None, ok: bool | None, unit: str = "x") -> None:
        checks.append({"target": target, "case": case, "value": value, "unit": unit, "ok": ok})

    for case, rows in cases.items():
        train = case.startswith("train")
        pt = rows.get("ours-pt", {}).get("speedup_vs", {}).get("port-pt")
        tf = rows.get("ours-tf", {}).get("speedup_vs", {})
        if train:  # the training issue's target: each trainer's step is not slower than the port's fwd + bwd
            if pt is not None:
                add("training step: ours-pt not slower than port-pt", case, pt, pt >= 1.0)
            if "port-tf-function" in tf:
                add("training step: ours-tf not slower than port-tf tf.function", case, tf["port-tf-function"],
                    tf["port-tf-function"] >= 1.0)
        elif pt is not None:
            add("ours-pt >= 1.3x faster than port-pt (inference)", case, pt, pt >= 1.3)
        if not train and "port-tf-eager" in tf:
            add("ours-tf (default call) >= 2x faster than port-tf eager", case, tf["port-tf-eager"],
                tf["port-tf-eager"] >= 2)
        if not train and "port-tf-function" in tf:
            add("ours-tf (default call) >= 1.2x faster than port-tf tf.function", case, tf["port-tf-function"],
                tf["port-tf-function"] >= 1.2)
        if "ours-pt" in tf:
            slow = 1 / tf["ours-pt"]
            add("ours-tf (default call) time within 1.2x of ours-pt", case, slow, slow <= 1.2)
    frac = cases.get("8x8", {}).get("ours-pt", {}).get("fraction_of_matmul")
    if frac is not None:
        add("ours-pt >= 75% of fp32 matmul throughput", "8x8", 100 * frac, frac >= 0.75, "%")
    first = summary.get("first_answer", {})
    for ours, port in PAIRS:
        # ru_maxrss only grows: compare after the last case both completed (a failed case would flatter one side)
        both = [c for c, rss in summary.get("peak_rss_after_case_mib", {}).items() if ours in rss and port in rss]
        if both:
            rss = summary["peak_rss_after_case_mib"][both[-1]]
            # a bf16 model against its float32 one: the precision issue's 0.6x (not two bf16 models)
            limit = BF16_RSS_TARGET if "bf16" in ours and "bf16" not in port else 1.0
            ratio = rss[ours] / rss[port]
            bound = port if limit == 1.0 else f"{limit}x {port}"
            add(f"peak RSS {ours} <= {bound}", f"through {both[-1]}", ratio, ratio <= limit, f"x of {port}")
        a, b = first.get(ours, {}).get("wall_s"), first.get(port, {}).get("wall_s")
        if a is not None and b is not None:
            add(f"time to first answer {ours} <= {port}", "1x8", a / b, a <= b, f"x of {port}")
    return checks


def _fmt_speedups(speedups: dict[str, float]) -> str:
    return ", ".join(f"{v:.2f}x vs {k}" for k, v in speedups.items())


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        "| case | contender | median ms | min-max ms | GFLOP/s | % of matmul | speed-up (median of per-round ratios) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for case, rows in summary["cases"].items():
        flops = summary["flops"].get(case)
        label = f"{case} ({flops / 1e9:.1f} GFLOP)" if flops else case
        for name, row in rows.items():
            frac = row.get("fraction_of_matmul")
            gf = row.get("gflops_per_s")
            lines.append(
                f"| {label} | {name} | {row['median_s'] * 1e3:.1f} | {row['min_s'] * 1e3:.1f}-{row['max_s'] * 1e3:.1f}"
                f" | {'' if gf is None else f'{gf:.1f}'} | {'' if frac is None else f'{100 * frac:.0f} %'}"
                f" | {_fmt_speedups(row['speedup_vs'])} |")
            label = ""
        for name, err in summary["errors"].get(case, {}).items():
            lines.append(f"| {label} | {name} | failed: {err.splitlines()[0][:120]} | | | | |")
    for name, err in summary["errors"].get("*", {}).items():
        lines.append(f"| (start) | {name} | failed: {err.splitlines()[0][:120]} | | | | |")
    lines += ["", "| contender | peak RSS MiB | first answer s (wall) | framework import s | load s | first call s |",
              "|---|---:|---:|---:|---:|---:|"]
    for name in CONTENDERS:
        rss = summary["peak_rss_mib"].get(name)
        fa = summary["first_answer"].get(name, {})
        if rss is None and not fa:
            continue
        cells = [f"{fa[k]:.1f}" if k in fa else fa.get("error", "") if k == "wall_s" else ""
                 for k in ("wall_s", "import_s", "load_s", "first_call_s")]
        lines.append(f"| {name} | {'' if rss is None else f'{rss:.0f}'} | " + " | ".join(cells) + " |")
    lines += ["", "| target | case | measured | holds |", "|---|---|---:|---|"]
    for c in summary["targets"]:
        value = "" if c["value"] is None else f"{c['value']:.2f} {c['unit']}"
        lines.append(f"| {c['target']} | {c['case']} | {value} | {'yes' if c['ok'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def header(summary: dict[str, Any]) -> str:
    """Title, date, machine, command and method, above the tables."""
    m = summary["machine"]
    versions = "; ".join(f"{n}: " + ", ".join(f"{k} {v}" for k, v in vs.items())
                         for n, vs in summary["versions"].items() if n != MATMUL)
    return (
        "# GroupViT benchmark results\n\n"
        f"- date: {summary['date']}\n"
        f"- machine: {m['cpu']}, {m['cores']} cores ({m['platform']}), shared with other jobs\n"
        f"- command: `{summary['command']}`\n"
        f"- code: {summary.get('code', '?')}\n"
        "- default size (`GroupViTConfig()`, 55.7 M parameters), random weights, "
        f"{summary['threads']} threads per worker, "
        f"{summary['warmup']} warm-up calls, {summary['rounds']} rounds "
        f"({summary['train_rounds']} for the training step); "
        "one worker process per contender; every round calls every contender once in rotating order; "
        "speed-ups and % of matmul are medians of per-round ratios\n"
        f"- versions: {versions}\n"
        "- interpreters: " + ", ".join(f"{e} `{p}`" for e, p in summary.get("interpreters", {}).items()) + "\n\n"
    )
