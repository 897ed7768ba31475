"""All-or-nothing writes: every output goes to a temporary file beside it, then `os.replace`."""

from __future__ import annotations

import os
import shutil
import uuid
from contextlib import contextmanager
from typing import Callable, Iterator


class AtomicFiles:
    """Stages several output files; `commit()` moves them all into place, otherwise none appear.

    Use as a context manager: leaving the block by any exception (KeyboardInterrupt
    included) removes the staged files, and a destination folder this object created.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._created_folder = False
        self._staged: list[tuple[str, str]] = []  # (temporary, final)

    def __enter__(self) -> "AtomicFiles":
        if not os.path.isdir(self.folder):
            os.makedirs(self.folder)
            self._created_folder = True
        return self

    def stage(self, final_name: str, write: Callable[[str], None]) -> str:
        """Calls `write(temporary_path)`; the temporary name keeps the final name's ending."""
        final = os.path.join(self.folder, final_name)
        tmp = os.path.join(self.folder, f".tmp-{uuid.uuid4().hex[:8]}-{final_name}")
        self._staged.append((tmp, final))
        write(tmp)
        return final

    def commit(self) -> list[str]:
        for tmp, final in self._staged:
            os.replace(tmp, final)
        done = [final for _, final in self._staged]
        self._staged = []
        return done

    def __exit__(self, exc_type, exc, tb) -> None:
        for tmp, _ in self._staged:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._staged = []
        if exc_type is not None and self._created_folder and not os.listdir(self.folder):
            os.rmdir(self.folder)


@contextmanager
def staged_folder(out: str | os.PathLike) -> Iterator[str]:
    """A fresh temporary folder beside `out`, renamed to `out` when the block ends without an error."""
    out = os.path.abspath(os.fspath(out))
    if os.path.exists(out) and (not os.path.isdir(out) or os.listdir(out)):
        what = "a file" if not os.path.isdir(out) else f"a folder of {len(os.listdir(out))} entries"
        raise FileExistsError(f"OUT must not exist or be an empty folder. Received: out={out!r} is {what}")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(out)}.tmp-{uuid.uuid4().hex[:8]}")
    os.mkdir(staging)
    try:
        yield staging
        os.rename(staging, out)  # POSIX replaces an empty folder in one step
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """`text` to `path` (UTF-8) through a temporary file beside it: the file is whole or not there."""
    path = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".tmp-{uuid.uuid4().hex[:8]}-{os.path.basename(path)}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
