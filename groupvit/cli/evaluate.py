"""`groupvit evaluate --checkpoint DIR --data VOC_DIR`: zero-shot mIoU on a Pascal VOC layout."""

from __future__ import annotations

import argparse
import json

import numpy as np

from groupvit.cli import positive_int, template_option


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="zero-shot segmentation mIoU on a Pascal VOC layout dataset",
        description="Reads JPEGImages/, SegmentationClass/ (palette PNGs, 255 = ignore), "
        "ImageSets/Segmentation/<split>.txt and a class-name file (first line: background).",
    )
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (weights, config.json, tokenizer)")
    parser.add_argument("--data", required=True, help="dataset root in the Pascal VOC layout")
    parser.add_argument("--split", default="val")
    parser.add_argument("--class-names", help="class-name file (default: classes.txt in --data), or a built-in "
                        "list: voc (Pascal VOC 2012 as the GroupViT authors name its classes), voc-original")
    parser.add_argument("--backend", choices=("pt", "tf", "onnx"), default="pt",
                        help="onnx: a folder of `groupvit export --format onnx --parts towers` as --checkpoint")
    parser.add_argument("--dtype", choices=("float32", "bfloat16", "int8"), default="float32",
                        help="precision of the model (bfloat16: pt and tf; int8: pt, dynamic int8 linear layers)")
    parser.add_argument(
        "--bg-thresh",
        type=float,
        default=None,
        help="background threshold (default: the checkpoint's, else 0.95 as the authors on VOC; Context 0.35)",
    )
    parser.add_argument(
        "--templates", type=template_option, default=None, metavar="1|7|80|TEMPLATE",
        help="prompt template set (1, 7, 80) or one template holding {}; default: the checkpoint's, else 1 "
             "(the authors')"
    )
    parser.add_argument(
        "--mode", choices=("whole", "slide"), default=None, help="default: the checkpoint's, else slide"
    )
    parser.add_argument(
        "--short-side", type=positive_int, default=None,
        help="default: 2 x the checkpoint's image_size (448 at 224 px)"
    )
    parser.add_argument("--window", type=int, default=None, help="default: 2 x image_size")
    parser.add_argument("--stride", type=int, default=None, help="default: 1 x image_size")
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N images of the split")
    parser.add_argument("--json", help="also write the results as JSON here (never a file of the dataset)")
    parser.set_defaults(func=run)


def format_table(names: list[str], per_class: np.ndarray, mean: float) -> str:
    width = max(len(n) for n in names + ["mIoU"])
    lines = [f"{'class':{width}s}  IoU (%)", "-" * (width + 9)]
    lines += [f"{n:{width}s}  {'n/a' if np.isnan(v) else f'{100 * v:6.2f}'}" for n, v in zip(names, per_class)]
    lines += ["-" * (width + 9), f"{'mIoU':{width}s}  {100 * mean:6.2f}"]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from groupvit.segmentation import voc
    from groupvit.segmentation.evaluation import SETTINGS, evaluate_folder
    from groupvit.weights_bridge.atomic import write_text

    if args.json:
        voc.check_not_an_input(args.json, args.data, args.class_names)
    names, ids, scores, used = evaluate_folder(
        args.checkpoint, args.data, backend=args.backend, dtype=args.dtype, split=args.split,
        class_names=args.class_names, limit=args.limit, progress=True, **{k: getattr(args, k) for k in SETTINGS})
    for key, value in used.items():
        setattr(args, key, value)
    print(f"groupvit evaluate: {len(ids)} image(s) of split {args.split!r}, backend {args.backend}, "
          f"dtype {args.dtype}, mode {args.mode}, templates {args.templates}, bg_thresh {args.bg_thresh}")
    print(format_table(names, scores.per_class, scores.mean))
    if args.json:
        write_text(args.json, json.dumps({
            "miou": None if np.isnan(scores.mean) else float(scores.mean),
            "per_class": {n: (None if np.isnan(v) else float(v)) for n, v in zip(names, scores.per_class)},
            "images": len(ids), "split": args.split, "backend": args.backend, "dtype": args.dtype,
            "settings": {k: getattr(args, k) for k in ("bg_thresh", "templates", "mode", "short_side", "window",
                                                       "stride")}}, indent=2))
    return 0
