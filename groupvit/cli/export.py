"""`groupvit export CHECKPOINT OUT --format onnx|saved-model|torch-export`: a deployment format of a checkpoint."""

from __future__ import annotations

import argparse
import os
import sys

from groupvit.export.metadata import FORMATS, PARTS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write ONNX, a TF SavedModel or a torch.export program of a checkpoint",
        description="Writes the new folder OUT all at once (built beside it, then renamed). ONNX and "
        "torch.export graphs take any number of images and texts, any sequence length and any image size "
        "divisible by the patch size; the SavedModel's signatures a dynamic batch at the traced size. "
        "Check the result with `groupvit verify OUT`.",
    )
    parser.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder, weight file, shipped name "
                        "or hub id")
    parser.add_argument("out", metavar="OUT", help="new output folder")
    parser.add_argument("--format", choices=FORMATS, default="onnx")
    parser.add_argument("--parts", choices=PARTS, default="full", help="full: one graph with segmentation "
                        "logits; towers: image and text graphs, what `groupvit segment --backend onnx` runs")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default: the exporter's)")
    parser.add_argument("--image-size", type=int, default=None, help="square size to trace at (default: the "
                        "config's image_size; fixes the SavedModel's input size)")
    parser.add_argument("--config", metavar="CONFIG_JSON", default=None,
                        help="config.json for a weight file without one beside it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from groupvit.export import export_checkpoint

    out = export_checkpoint(args.checkpoint, args.out, format=args.format, parts=args.parts, opset=args.opset,
                            image_size=args.image_size, config=args.config)
    files = sorted(os.listdir(out))
    print(f"exported {args.checkpoint} as {args.format} ({args.parts}) to {out}: {', '.join(files)}",
          file=sys.stderr)
    if "tokenizer.json" not in files and not {"vocab.json", "merges.txt"} <= set(files):
        print("note: the checkpoint holds no tokenizer files (tokenizer.json, or vocab.json + merges.txt), so the "
              "export takes token ids only; `groupvit segment --backend onnx` and `load_segmenter` need them in "
              f"{out}", file=sys.stderr)
    return 0
