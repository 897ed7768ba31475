"""`groupvit convert SRC DST`: convert a checkpoint between formats (wraps weights_bridge.convert)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from groupvit.weights_bridge.formats import WRITABLE

PROGRESS_MIN_BYTES = 8 * 1024 * 1024  # smaller files finish before a bar is worth drawing


class ProgressBar:
    """tqdm byte bars on stderr, one per stage ("read", "write"), drawn only for files above a few MB.
    Called as `progress(stage, done_bytes, total_bytes)` by `weights_bridge.convert`."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self._bar = None
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES:
            return
        if stage != self._stage:
            self.close()
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=f"{stage:5s}", unit="B", unit_scale=True, unit_divisor=1024,
                             file=self.stream, dynamic_ncols=True)
            self._stage = stage
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help="convert a checkpoint between formats",
        description=(
            "Convert a GroupViT checkpoint (directory with config.json and model.safetensors, "
            "pytorch_model.bin, tf_model.h5 (each whole or sharded) or an authors' .pth; or a weight file) into DST: a "
            "checkpoint directory, or a file whose extension picks the format."
        ),
    )
    parser.add_argument("src", metavar="SRC", help="checkpoint directory or weight file to read")
    parser.add_argument("dst", metavar="DST", help="checkpoint directory or weight file to write")
    parser.add_argument(
        "--format", choices=WRITABLE, default=None, help="output format (default: from DST, else safetensors)"
    )
    parser.add_argument(
        "--config", metavar="CONFIG_JSON", default=None, help="config.json to use (default: beside SRC)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing files in DST")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from groupvit.keras_format import ensure_keras_format
    from groupvit.weights_bridge import convert

    ensure_keras_format(args.src, args.dst, args.format)
    bar = ProgressBar()
    try:
        result = convert(
            args.src, args.dst, format=args.format, overwrite=args.overwrite, config=args.config, progress=bar
        )
    finally:
        bar.close()
    print(result.summary())
    return 0
