"""`groupvit convert SRC DST`: convert a checkpoint between formats (wraps weights_bridge.convert)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from groupvit.weights_bridge.formats import WRITABLE

PROGRESS_MIN_BYTES = 8 * 1024 * 1024  # smaller files finish before a bar is worth drawing


class ProgressBar:
    """A one-line progress bar on stderr, drawn only for files above a few MB."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last: tuple[str, int] | None = None
        self._drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if total < PROGRESS_MIN_BYTES:
            return
        percent = int(100 * done / total) if total else 100
        if self._last == (stage, percent):
            return
        self._last = (stage, percent)
        filled = self.width * percent // 100
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{stage:5s} [{bar}] {percent:3d}% of {total / 2**20:.0f} MiB")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert",
        help="convert a checkpoint between formats",
        description=(
            "Convert a GroupViT checkpoint (directory with config.json and model.safetensors, "
            "pytorch_model.bin, tf_model.h5 or an authors' .pth; or a weight file) into DST: a "
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
