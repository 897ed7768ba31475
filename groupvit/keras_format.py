"""Entry points that may meet the bridge's `keras` format (model.weights.h5) import groupvit.tf for it.

The weight bridge imports no backend; groupvit.tf registers the format's reader and writer when it is
imported. The CLI and the segmentation loaders call `ensure_keras_format` with the paths and format
names they were given, so a user never has to think about it.
"""

from __future__ import annotations

import os

KERAS_FILE = "model.weights.h5"


def _is_keras(item: str | os.PathLike | None) -> bool:
    if item is None:
        return False
    item = os.fspath(item)
    if item == "keras" or item.endswith(".weights.h5"):
        return True
    return os.path.isdir(item) and os.path.isfile(os.path.join(item, KERAS_FILE))


def ensure_keras_format(*items: str | os.PathLike | None) -> None:
    """Import groupvit.tf when one of `items` (paths, checkpoint folders, format names) is the keras format.
    Without TensorFlow nothing happens here, and the bridge's error says what is needed."""
    if any(_is_keras(item) for item in items):
        try:
            import groupvit.tf  # noqa: F401  (registers the keras format with the bridge)
        except ImportError:
            pass
