"""Reading and writing the weight file of a checkpoint directory (numpy, PyTorch names and layouts).

`read_weights` is the one place the Keras models read weights from disk, so the weight
bridge can swap it for one that also understands other formats.
"""

from __future__ import annotations

import os

import numpy as np

SAFETENSORS_NAME = "model.safetensors"


def read_weights(directory: str | os.PathLike) -> dict[str, np.ndarray]:
    """{PyTorch key: array} from `model.safetensors` in `directory`."""
    from safetensors.numpy import load_file

    path = os.path.join(os.fspath(directory), SAFETENSORS_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"A checkpoint directory must hold {SAFETENSORS_NAME}. Received: {os.fspath(directory)!r}"
        )
    return load_file(path)


def write_weights(weights: dict[str, np.ndarray], directory: str | os.PathLike) -> str:
    """Write `model.safetensors` (a temporary file in the same directory, then renamed); returns its path."""
    from safetensors.numpy import save_file

    path = os.path.join(os.fspath(directory), SAFETENSORS_NAME)
    tmp = path + ".tmp"
    try:
        save_file({k: np.array(v, order="C") for k, v in weights.items()}, tmp, metadata={"format": "pt"})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
