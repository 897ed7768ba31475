"""The files of a run's folder besides its checkpoints: the training log, and undoing a failed start."""

from __future__ import annotations

import json
import os
import shutil

from groupvit.weights_bridge.atomic import write_text

LOG_NAME = "log.jsonl"
SUMMARY_NAME = "summary.json"


def rewrite_log(path: str, keep_through_step: int) -> None:
    """On resume, drop log lines of steps after the checkpoint (they will be run again), and a last line
    cut short by a crash while it was written."""
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise json.JSONDecodeError("not an object", line, 0)
        except json.JSONDecodeError:
            if number == len(lines) and not line.endswith("\n"):
                break  # the line being written when the run stopped
            raise ValueError(f"The training log must hold one JSON object a line. Received: line {number} of "
                             f"{path!r} is {line[:80]!r}; remove that line (or the log) and resume") from None
        if entry.get("step", 0) <= keep_through_step:
            kept.append(line if line.endswith("\n") else line + "\n")
    write_text(path, "".join(kept))


def discard_out(path: str, keep_folder: bool) -> None:
    """Undo a failed run's writes: remove the folder it made, or empty the empty folder it was given."""
    if not keep_folder:
        shutil.rmtree(path, ignore_errors=True)
        return
    for name in os.listdir(path) if os.path.isdir(path) else ():
        target = os.path.join(path, name)
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target, ignore_errors=True)
        else:
            os.remove(target)


class NullLog:
    """The log file of a rank that writes none."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass
