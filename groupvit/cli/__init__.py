"""The `groupvit` command line: one subcommand per module in this package."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import threading

# subcommand name -> module defining `add_parser(subparsers)`; each parser sets `func`.
SUBCOMMANDS = {
    "demo": "groupvit.cli.demo",
    "convert": "groupvit.cli.convert",
    "verify": "groupvit.cli.verify",
    "segment": "groupvit.cli.segment",
    "evaluate": "groupvit.cli.evaluate",
    "train": "groupvit.cli.train",
    "shapes": "groupvit.cli.shapes",
    "export": "groupvit.cli.export",
}


def template_option(text: str) -> int | str:
    """argparse type of a prompt-template option: 1, 7 or 80 (a built-in set) or one template holding "{}"."""
    from groupvit.segmentation.templates import parse_templates

    try:
        return parse_templates(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive_int(text: str) -> int:
    """argparse type of a count or a size in pixels: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1. Received: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="groupvit", description="GroupViT in PyTorch and Keras 3.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _sigterm_unwinds():
    """SIGTERM raises SystemExit while a command runs, so its cleanups run (a staged output folder is removed,
    never left half-written) instead of the process dying where it stands; `groupvit train` installs its own
    handler (save a checkpoint at the step boundary) for the length of the run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _sigterm_unwinds():
            return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, OSError, FloatingPointError, ImportError) as err:
        print(f"groupvit {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
