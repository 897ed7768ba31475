"""Zero-shot segmentation mIoU of each checkpoint while a run trains (`groupvit train --eval-data VOC_DIR`).

The authors score Pascal VOC during training; here each checkpoint the run writes is scored on a Pascal VOC
layout folder with exactly what `groupvit evaluate --checkpoint CHECKPOINT --data VOC_DIR` computes (the same
function, the checkpoint read back from disk, its default settings unless `--eval-*` options set them), in the
run's backend, by rank 0 while the other ranks wait. One JSON line per checkpoint goes to `eval.jsonl`.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

EVAL_LOG_NAME = "eval.jsonl"


def check_eval_data(run) -> None:
    """Fails before any training when `run.eval_data` is not a usable Pascal VOC layout folder."""
    if run.eval_data is None:
        return
    from groupvit.segmentation import voc

    voc.check_folder(run.eval_data, "eval_data")
    try:
        names = voc.class_names(run.eval_data, run.eval_class_names)
        ids = voc.split_ids(run.eval_data, "val")
    except (OSError, ValueError) as error:  # voc's messages name `groupvit evaluate`'s options
        message = str(error).replace("--class-names", "eval_class_names")
        raise ValueError(f"eval_data must be {voc.LAYOUT}: {message}") from None
    if len(names) < 2 or not ids:
        raise ValueError(f"eval_data needs background and at least one class, and images in its val split. "
                         f"Received: {len(names)} class name(s), {len(ids)} image(s) in {run.eval_data!r}")


def evaluate_checkpoint(run, checkpoint: str, step: int) -> dict[str, Any]:
    """One `eval.jsonl` entry: step, mIoU, IoU per class (None where a class never occurs), images, settings.
    A failure (an unreadable image, a label map of the wrong size) does not stop the run that took hours to get
    here: the entry then holds the step, the checkpoint and the error instead of scores."""
    from groupvit.segmentation.evaluation import evaluate_folder

    settings = {"bg_thresh": run.eval_bg_thresh, "templates": run.eval_templates}
    try:
        names, ids, scores, used = evaluate_folder(checkpoint, run.eval_data, backend=run.backend,
                                                   class_names=run.eval_class_names, limit=run.eval_limit,
                                                   **settings)
    except (OSError, ValueError) as error:
        return {"step": step, "checkpoint": os.path.relpath(checkpoint, run.out),
                "error": f"{type(error).__name__}: {error}"}
    miou = None if math.isnan(scores.mean) else float(scores.mean)  # no class occurs: JSON has no NaN
    return {"step": step, "miou": miou,
            "per_class": {n: (None if math.isnan(v) else float(v)) for n, v in zip(names, scores.per_class)},
            "images": len(ids), "checkpoint": os.path.relpath(checkpoint, run.out), "settings": used}


def append_entry(out: str, entry: dict[str, Any]) -> None:
    with open(os.path.join(out, EVAL_LOG_NAME), "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def _entries(out: str) -> list[dict[str, Any]]:
    path = os.path.join(out, EVAL_LOG_NAME)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluated(out: str, step: int) -> bool:
    """Whether `eval.jsonl` holds the step already (a finished run resumed saves its last step again)."""
    return any(entry.get("step") == step for entry in _entries(out))


def best_and_last(out: str) -> dict[str, Any] | None:
    """{"best": {step, miou}, "last": {step, miou}} over `eval.jsonl`, or None when it holds nothing."""
    entries = [e for e in _entries(out) if e.get("miou") is not None]
    if not entries:
        return None
    best = max(entries, key=lambda e: e["miou"])
    return {"best": {"step": best["step"], "miou": best["miou"]},
            "last": {"step": entries[-1]["step"], "miou": entries[-1]["miou"]}}
