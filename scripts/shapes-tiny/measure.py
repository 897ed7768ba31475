"""Measure a shapes model's zero-shot segmentation on held-out scenes, beside two baselines.

    python scripts/shapes-tiny/measure.py --checkpoint CKPT --data VOC_DIR [--hard-data VOC_DIR] --json OUT.json

Everything goes through the library's own pipeline (`load_segmenter`, `Segmenter.segment`, `mean_iou`),
with the settings `groupvit evaluate` takes by default for this checkpoint: per backend the mIoU over a
background-threshold sweep, the vocabulary of classes_alt.txt, the untrained initial model (same config
and tokenizer, seeded random init) and the best constant prediction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

from groupvit.images import load_rgb
from groupvit.segmentation import mean_iou, voc
from groupvit.segmentation.loading import checkpoint_defaults, load_segmenter

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def load_split(root: str):
    ids = voc.split_ids(root, "val")
    return [load_rgb(voc.image_path(root, i)) for i in ids], [voc.ground_truth(root, i) for i in ids]


def miou(segmenter, images, truths, names, settings, bg) -> tuple[float, list]:
    results = segmenter.segment(images, names[1:], background_threshold=bg, templates=settings["templates"],
                                mode=settings["mode"], window=settings["window"], stride=settings["stride"])
    scores = mean_iou([r.labels for r in results], truths, num_classes=len(names))
    return float(scores.mean), [None if np.isnan(v) else float(v) for v in scores.per_class]


def best_constant(truths, num_classes: int) -> tuple[float, int]:
    """The best mIoU of a prediction that gives every pixel one and the same label."""
    best = (0.0, 0)
    for label in range(num_classes):
        score = float(mean_iou([np.full_like(t, label) for t in truths], truths, num_classes=num_classes).mean)
        best = max(best, (score, label))
    return best


def untrained_copy(checkpoint: str, folder: str) -> str:
    """The same config and tokenizer with the seeded random init a training run starts from."""
    import shutil

    import torch

    from groupvit.configs import GroupViTConfig
    from groupvit.pretrained import resolve_checkpoint
    from groupvit.pt import GroupViTModel

    source = resolve_checkpoint(checkpoint)
    torch.manual_seed(0)
    GroupViTModel(GroupViTConfig.from_pretrained(source)).save_pretrained(folder)
    for name in os.listdir(source):
        if name.endswith((".json", ".txt")) and name != "config.json":
            shutil.copy(os.path.join(source, name), folder)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--hard-data")
    parser.add_argument("--json", required=True)
    parser.add_argument("--backends", default="pt,tf")
    args = parser.parse_args(argv)

    settings = checkpoint_defaults(args.checkpoint)
    names = voc.class_names(args.data)
    alt_names = voc.class_names(args.data, os.path.join(args.data, "classes_alt.txt"))
    images, truths = load_split(args.data)
    out = {"settings": settings, "images": len(images), "classes": names, "backends": {}}
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        seg = load_segmenter(args.checkpoint, backend, short_side=settings["short_side"])
        sweep = {str(bg): miou(seg, images, truths, names, settings, bg)[0] for bg in THRESHOLDS}
        default_miou, per_class = miou(seg, images, truths, names, settings, settings["bg_thresh"])
        row = {"default": default_miou, "per_class": dict(zip(names, per_class)), "sweep": sweep,
               "alt_vocabulary": miou(seg, images, truths, alt_names, settings, settings["bg_thresh"])[0],
               "seconds": round(time.perf_counter() - t0, 1)}
        if args.hard_data:
            hard_images, hard_truths = load_split(args.hard_data)
            row["hard_variant"] = miou(seg, hard_images, hard_truths, names, settings, settings["bg_thresh"])[0]
        out["backends"][backend] = row
        print(backend, json.dumps(row), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        seg = load_segmenter(untrained_copy(args.checkpoint, tmp), "pt", short_side=settings["short_side"])
        sweep = {str(bg): miou(seg, images, truths, names, settings, bg)[0] for bg in THRESHOLDS}
        out["untrained"] = {"default": sweep.get(str(settings["bg_thresh"]),
                                                 miou(seg, images, truths, names, settings, settings["bg_thresh"])[0]),
                            "best_over_sweep": max(sweep.values()), "sweep": sweep}
    score, label = best_constant(truths, len(names))
    out["best_constant"] = {"miou": score, "label": names[label]}
    print(json.dumps({k: out[k] for k in ("untrained", "best_constant")}), flush=True)
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
