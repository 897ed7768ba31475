"""Put a trained shapes checkpoint into groupvit/pretrained/shapes-tiny/ with the settings it is scored with.

    python scripts/shapes-tiny/ship.py --checkpoint RUN_DIR --val VAL_VOC_DIR

1. Picks the segmentation settings (mode and sizes, background threshold) on the *validation* scenes
   (seed 4, never the held-out seed 2 the card reports) and writes them as segmentation_defaults.json,
   so `groupvit evaluate --checkpoint shapes-tiny` uses them by default.
2. Copies config.json, model.safetensors, tokenizer.json and special_tokens_map.json.
3. Scores both backends on the test scenes of results.json (seed 2, the first 100, in memory) and
   writes results.json: what tests/unit/segmentation/test_shapes_tiny.py checks the model against.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import numpy as np

from groupvit.datasets.shapes import CLASS_NAMES, make_scene, scene_rng
from groupvit.images import load_rgb
from groupvit.segmentation import mean_iou, voc
from groupvit.segmentation.loading import load_segmenter

TARGET = os.path.join(os.path.dirname(__file__), "..", "..", "groupvit", "pretrained", "shapes-tiny")
FILES = ("config.json", "model.safetensors", "tokenizer.json", "special_tokens_map.json")
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
TEST = {"seed": 2, "first": 0, "count": 100, "size": 72}


def layouts(size: int) -> list[dict]:
    """Whole image at the training size, and the authors' rule (2 x size, sliding windows); each with the 80
    ImageNet templates (the authors') and with the one template 'a photo of a {}.'."""
    return [{"mode": mode, "short_side": side, "window": side, "stride": size, "templates": templates}
            for mode, side in (("whole", size), ("slide", 2 * size)) for templates in (80, 1)]


def score(segmenter, images, truths, settings) -> tuple[float, list[np.ndarray]]:
    results = segmenter.segment(images, list(CLASS_NAMES[1:]), background_threshold=settings["bg_thresh"],
                                templates=settings["templates"], mode=settings["mode"], window=settings["window"],
                                stride=settings["stride"])
    labels = [r.labels for r in results]
    return float(mean_iou(labels, truths, num_classes=len(CLASS_NAMES)).mean), labels


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--val", required=True, help="validation scenes, VOC layout (groupvit shapes --seed 4)")
    args = parser.parse_args(argv)
    from groupvit.configs import GroupViTConfig

    size = GroupViTConfig.from_pretrained(args.checkpoint).vision_config.image_hw[0]
    ids = voc.split_ids(args.val, "val")
    val_images = [load_rgb(voc.image_path(args.val, i)) for i in ids]
    val_truths = [voc.ground_truth(args.val, i) for i in ids]
    choices = []
    for layout in layouts(size):
        segmenter = load_segmenter(args.checkpoint, "pt", short_side=layout["short_side"])
        for bg in THRESHOLDS:
            settings = {**layout, "bg_thresh": bg}
            choices.append((score(segmenter, val_images, val_truths, settings)[0], settings))
            print(f"val {json.dumps(settings)}: mIoU {100 * choices[-1][0]:.2f}", flush=True)
    best_val, settings = max(choices, key=lambda c: c[0])

    os.makedirs(TARGET, exist_ok=True)
    for name in FILES:
        shutil.copy(os.path.join(args.checkpoint, name), os.path.join(TARGET, name))
    with open(os.path.join(TARGET, "segmentation_defaults.json"), "w", encoding="utf-8") as f:
        json.dump(settings, f, indent=1)

    scenes = [make_scene(scene_rng(TEST["seed"], i), TEST["size"]) for i in range(TEST["first"], TEST["count"])]
    truths = [s.mask.astype(np.int64) for s in scenes]
    out = {"test_scenes": TEST, "settings": settings, "validation_miou": best_val, "miou": {}}
    labels = {}
    for backend in ("pt", "tf"):
        segmenter = load_segmenter(TARGET, backend, short_side=settings["short_side"])
        out["miou"][backend], labels[backend] = score(segmenter, [s.image for s in scenes], truths, settings)
    differ = sum(int((a != b).sum()) for a, b in zip(labels["pt"], labels["tf"]))
    out["pixels_differing"] = differ
    out["max_pixels_differing"] = max(differ * 2, int(0.001 * sum(t.size for t in truths)))
    out["best_constant"] = max(float(mean_iou([np.full_like(t, c) for t in truths], truths,
                                              num_classes=len(CLASS_NAMES)).mean) for c in range(len(CLASS_NAMES)))
    with open(os.path.join(TARGET, "results.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
