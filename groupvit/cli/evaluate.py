"""`groupvit evaluate --checkpoint DIR --data VOC_DIR`: zero-shot mIoU on a Pascal VOC layout."""

from __future__ import annotations

import argparse
import json

import numpy as np


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="zero-shot segmentation mIoU on a Pascal VOC layout dataset",
        description="Reads JPEGImages/, SegmentationClass/ (palette PNGs, 255 = ignore), "
        "ImageSets/Segmentation/<split>.txt and a class-name file (first line: background).",
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (weights, config.json, tokenizer)")
    parser.add_argument("--data", required=True, help="dataset root in the Pascal VOC layout")
    parser.add_argument("--split", default="val")
    parser.add_argument("--class-names", help="class-name file (default: classes.txt in --data)")
    parser.add_argument("--backend", choices=("pt", "tf", "onnx"), default="pt",
                        help="onnx: a folder of `groupvit export --format onnx --parts towers` as --checkpoint")
    parser.add_argument(
        "--bg-thresh",
        type=float,
        default=None,
        help="background threshold (default: the checkpoint's, else 0.95 as the authors on VOC; Context 0.35)",
    )
    parser.add_argument(
        "--templates", type=int, choices=(1, 7, 80), default=None, help="default: the checkpoint's, else 80"
    )
    parser.add_argument(
        "--mode", choices=("whole", "slide"), default=None, help="default: the checkpoint's, else slide"
    )
    parser.add_argument(
        "--short-side", type=int, default=None, help="default: 2 x the checkpoint's image_size (448 at 224 px)"
    )
    parser.add_argument("--window", type=int, default=None, help="default: 2 x image_size")
    parser.add_argument("--stride", type=int, default=None, help="default: 1 x image_size")
    parser.add_argument("--limit", type=int, help="evaluate only the first N images of the split")
    parser.add_argument("--json", help="also write the results as JSON here")
    parser.set_defaults(func=run)


def format_table(names: list[str], per_class: np.ndarray, mean: float) -> str:
    width = max(len(n) for n in names + ["mIoU"])
    lines = [f"{'class':{width}s}  IoU (%)", "-" * (width + 9)]
    lines += [f"{n:{width}s}  {'n/a' if np.isnan(v) else f'{100 * v:6.2f}'}" for n, v in zip(names, per_class)]
    lines += ["-" * (width + 9), f"{'mIoU':{width}s}  {100 * mean:6.2f}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from groupvit.images import load_rgb
    from groupvit.segmentation import mean_iou, voc
    from groupvit.segmentation.loading import fill_defaults, load_segmenter
    from groupvit.segmentation.progress import ItemProgress

    fill_defaults(args)
    names = voc.class_names(args.data, args.class_names)
    ids = voc.split_ids(args.data, args.split)[: args.limit]
    segmenter = load_segmenter(args.checkpoint, args.backend, short_side=args.short_side)
    predictions, truths = [], []
    progress = ItemProgress(len(ids), "evaluate")
    for image_id in ids:
        image = load_rgb(voc.image_path(args.data, image_id))
        result = segmenter.segment(image, names[1:], background_threshold=args.bg_thresh, templates=args.templates,
                                   mode=args.mode, window=args.window, stride=args.stride)[0]
        truth = voc.ground_truth(args.data, image_id)
        if truth.shape != result.labels.shape:
            raise ValueError(f"The label map must match its image's size. Received: {image_id}: "
                             f"label {truth.shape} vs image {result.labels.shape}")
        predictions.append(result.labels)
        truths.append(truth)
        progress.step(image_id)
    progress.close()
    scores = mean_iou(predictions, truths, num_classes=len(names))
    print(f"groupvit evaluate: {len(ids)} image(s) of split {args.split!r}, backend {args.backend}, "
          f"mode {args.mode}, templates {args.templates}, bg_thresh {args.bg_thresh}")
    print(format_table(names, scores.per_class, scores.mean))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"miou": scores.mean, "per_class": {n: (None if np.isnan(v) else float(v))
                                                         for n, v in zip(names, scores.per_class)},
                       "images": len(ids), "split": args.split, "backend": args.backend,
                       "settings": {k: getattr(args, k) for k in ("bg_thresh", "templates", "mode", "short_side",
                                                                  "window", "stride")}}, f, indent=2)
    return 0
