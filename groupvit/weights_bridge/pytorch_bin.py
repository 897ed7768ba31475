"""`pytorch_model.bin`: a `torch.save`d state dict, read without torch and without running code."""

from __future__ import annotations

import os

import numpy as np

from groupvit.weights_bridge.errors import CheckpointFormatError
from groupvit.weights_bridge.torch_pickle import load_torch_file

EXPECTED = "a torch.save'd state dict (a dict of tensor names to tensors)"


def read_pytorch_bin(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of the state dict, keyed by its name (restricted unpickler, see torch_pickle)."""
    obj = load_torch_file(path)
    return state_dict_arrays(obj, path, EXPECTED)


def state_dict_arrays(obj: object, path: str | os.PathLike, expected: str) -> dict[str, np.ndarray]:
    if not isinstance(obj, dict):
        raise CheckpointFormatError(path, expected, f"an object of type {type(obj).__name__}")
    bad = [
        f"{k!r}: {type(v).__name__}"
        for k, v in obj.items()
        if not isinstance(k, str) or not isinstance(v, np.ndarray)
    ]
    if bad:
        raise CheckpointFormatError(path, expected, f"non-tensor entries {bad[:5]}")
    return dict(obj)
